"""The command line's default path, end to end on the shipped models: the fused detector (tagger, SmolLM2 evidence,
candidate contrast, classes) and the LM rewriter; and where mtfix finds its models."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from mtfix.cli import main

ROOT = Path(__file__).resolve().parents[1]
TEXT = ("The Kremlin said that the talks could lead to energy projectsWhich would help both sides.\n"
        "After Russia launched his full invasion in Ukraine, the talks stopped.\n")


def test_detect_and_fix_by_default_run_the_fused_detector_and_the_lm_rewriter(tmp_path, capsys):
    src = tmp_path / "article.txt"
    src.write_text(TEXT)
    assert main(["detect", str(src), "--format", "jsonl", "-o", str(tmp_path / "spans.jsonl")]) == 0
    detected = [json.loads(line) for line in (tmp_path / "spans.jsonl").read_text().splitlines()]
    spans = [s for record in detected for s in record["spans"]]
    assert any(s["text"] == "projectsWhich" for s in spans)
    # the fused detector's evidence and the class head: not the tagger alone
    assert all("surprisal" in s["evidence"] and s.get("class") for s in spans)
    assert main(["fix", str(src), "--format", "jsonl", "-o", str(tmp_path / "fixed.jsonl")]) == 0
    fixed = [json.loads(line) for line in (tmp_path / "fixed.jsonl").read_text().splitlines()]
    assert "energy projects which would help" in fixed[0]["fixed"]
    assert fixed[0]["spans"] == detected[0]["spans"]
    capsys.readouterr()


def test_no_models_anywhere_is_one_line_not_a_weaker_method(tmp_path):
    src = tmp_path / "article.txt"
    src.write_text(TEXT)
    empty = tmp_path / "no-models"
    empty.mkdir()
    env = {**os.environ, "MTFIX_MODELS": str(empty), "MTFIX_NO_PROGRESS": "1"}
    for command in (["detect", str(src)], ["fix", str(src)], ["detect", str(src), "--fast"]):
        proc = subprocess.run([sys.executable, "-m", "mtfix", *command], env=env, capture_output=True, text=True,
                              cwd=tmp_path, timeout=120)
        assert proc.returncode != 0 and proc.stdout == ""
        assert proc.stderr.startswith("mtfix: no detector found (looked in $MTFIX_MODELS")
        assert len(proc.stderr.strip().splitlines()) == 1 and str(empty) in proc.stderr
    spell = subprocess.run([sys.executable, "-m", "mtfix", "detect", str(src), "--method", "spell", "--format",
                            "jsonl"], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert spell.returncode == 0 and "projectsWhich" in spell.stdout  # asked for by name, the baseline runs


def test_the_wheel_carries_the_package_the_trainers_and_the_models(tmp_path):
    import shutil

    source = tmp_path / "source"  # built from a copy: the build leaves build/ and egg-info behind it
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("mtfix", "models"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("mtfix-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {str(p.relative_to(ROOT)) for p in (ROOT / "models").rglob("*") if p.is_file()}
    data = next(n.split("/share/")[0] for n in names if "/share/mtfix/models/" in n)
    assert {f"{data}/share/mtfix/{p}" for p in shipped} <= names
    assert {"mtfix/training/fusion.py", "mtfix/training/tagger.py", "mtfix/cli/train.py",
            "mtfix/serve/static/index.html"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names)
