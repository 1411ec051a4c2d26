"""The code reads as docs/architecture.md says: ruff clean, no import cycle, small modules, __init__.py files that
only re-export."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "mtfix", "tests", "scripts"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_modules_are_small_and_init_files_re_export():
    for path in (ROOT / "mtfix").rglob("*.py"):
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines <= 600, f"{path.relative_to(ROOT)} has {lines} lines"
        if path.name == "__init__.py":
            assert lines <= 60, f"{path.relative_to(ROOT)} has {lines} lines"
            tree = ast.parse(path.read_text(encoding="utf-8"))
            code = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom, ast.Expr, ast.Assign))
                    and getattr(n, "name", "") != "__getattr__"]  # a lazy re-export
            assert not code, f"{path.relative_to(ROOT)} defines {[type(n).__name__ for n in code]}"


def test_no_import_cycle_and_inference_never_imports_training():
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
               for p in (ROOT / "mtfix").rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + [base]).strip(".")
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            edges[name] |= {t for t in targets if t in modules and t != name}
    inference = [m for m in modules if m.split(".")[1:2] in (["detect"], ["correct"], ["text"], ["api"], ["models"],
                                                             ["serve"])]
    for m in inference:
        assert not any(t.startswith(("mtfix.training", "mtfix.data")) for t in edges[m]), m

    # Tarjan's strongly connected components: every one a single module (a package and its own modules aside)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 and not all(g.startswith(min(group, key=len)) for g in group):
                cycles.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in modules:
        if v not in index:
            visit(v)
    assert not cycles
