"""Throughput and memory of `mtfix clean` against the bare detector, on one machine.

    python scripts/bench_clean.py --words 1000000 --out runs/bench-clean [--fused-words 20000]

Builds a JSONL corpus of clean prose and MLQE-PE machine translation (../shared/data) of about --words words,
then measures, in the same run: the bare detector (the model called on the same texts in batches, nothing
else) and `mtfix clean --policy annotate` with 1 and 2 workers, each in its own process (words/s, and peak
resident memory of the process tree), and peak memory at a tenth of the corpus to show it stays flat.
The tagger (--fast) is what runs over whole corpora; the fused default is timed on --fused-words words.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def corpus_lines() -> list[str]:
    lines = []
    for f in sorted((DATA / "corpora").glob("*.txt")):
        lines += [t.strip() for t in f.read_text(encoding="utf-8", errors="replace").splitlines() if t.strip()]
    for tar in sorted((DATA / "mlqe-pe").glob("*dev*.tar.gz")):
        with tarfile.open(tar) as t:
            for m in t.getmembers():
                if m.name.endswith(".mt"):
                    lines += [x.strip() for x in t.extractfile(m).read().decode().splitlines() if x.strip()]
    return lines


def build(path: Path, words: int, lines: list[str]) -> int:
    n = total = 0
    with path.open("w") as out:
        while total < words:
            text = lines[n % len(lines)]
            out.write(json.dumps({"id": n, "text": text}) + "\n")
            total += len(text.split())
            n += 1
    return total


WRAPPER = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
print("peak-rss-kb", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def run_clean(src: Path, out: Path, words: int, *more: str) -> dict[str, float]:
    """`mtfix clean` in a wrapper process of its own, whose children's peak RSS is this run's alone (the largest
    process of the tree: with workers, one worker)."""
    started = time.time()
    done = subprocess.run([sys.executable, "-c", WRAPPER, sys.executable, "-m", "mtfix", "clean", str(src), "-o",
                           str(out), "--restart", *more], env={**os.environ, "MTFIX_NO_PROGRESS": "1"},
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(done.stderr)
    seconds = time.time() - started
    # the wrapper's line, wherever it lands among the children's (a worker pool's resource tracker may warn later)
    peak_kb = int([line for line in done.stderr.splitlines() if line.startswith("peak-rss-kb ")][-1].split()[1])
    # words as the bare run counts them (whitespace-separated), so that the two rates compare
    return {"words": words, "seconds": round(seconds, 1), "words_per_s": round(words / seconds),
            "peak_rss_mb": round(peak_kb / 1024)}


def bare(src: Path, fast: bool) -> dict[str, float]:
    """The detector alone on the same texts, in its own process (model loading included, as for clean)."""
    code = f"""
import json, sys, time
t0 = time.time()
import mtfix
fixer = mtfix.load(fast={fast})
texts = [json.loads(l)["text"] for l in open({str(src)!r})]
for b in range(0, len(texts), 64):
    fixer.detect(texts[b:b + 64])
print(json.dumps({{"seconds": time.time() - t0, "words": sum(len(t.split()) for t in texts)}}))
"""
    started = time.time()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(done.stderr)
    seconds = time.time() - started
    words = json.loads(done.stdout.strip().splitlines()[-1])["words"]
    return {"words": words, "seconds": round(seconds, 1), "words_per_s": round(words / seconds)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, default=1_000_000)
    parser.add_argument("--fused-words", type=int, default=20_000)
    parser.add_argument("--out", default="runs/bench-clean")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = corpus_lines()
    big, small, fused = out / "corpus-1m.jsonl", out / "corpus-100k.jsonl", out / "corpus-fused.jsonl"
    words = build(big, args.words, lines)
    small_words = build(small, args.words // 10, lines)
    fused_words = build(fused, args.fused_words, lines)
    rows = {}
    rows["bare detector (--fast)"] = bare(big, True)
    rows["clean, 1 worker"] = run_clean(big, out / "out-1.jsonl", words, "--fast")
    rows["clean, 2 workers"] = run_clean(big, out / "out-2.jsonl", words, "--fast", "--workers", "2")
    rows["clean, 1 worker, 1/10 of the corpus"] = run_clean(small, out / "out-small.jsonl", small_words, "--fast")
    rows["bare detector (fused default)"] = bare(fused, False)
    rows["clean, fused default, 1 worker"] = run_clean(fused, out / "out-fused.jsonl", fused_words)
    lines_out = [f"Corpus: {words:,} words of clean prose and MLQE-PE dev MT (JSONL); {os.cpu_count()} cores; "
                 "each row its own process, model loading included.", "",
                 "| run | words | seconds | words/s | peak RSS (MB) |", "|---|---|---|---|---|"]
    for name, r in rows.items():
        lines_out.append(f"| {name} | {r['words']:,} | {r['seconds']} | {r['words_per_s']:,} | "
                         f"{r.get('peak_rss_mb', '')} |")
    ratio = rows["clean, 1 worker"]["words_per_s"] / rows["bare detector (--fast)"]["words_per_s"]
    ratio_fused = rows["clean, fused default, 1 worker"]["words_per_s"] / \
        rows["bare detector (fused default)"]["words_per_s"]
    lines_out += ["", f"clean / bare detector throughput (--policy annotate, 1 worker): {ratio:.2f} with --fast, "
                      f"{ratio_fused:.2f} with the fused default"]
    text = "\n".join(lines_out) + "\n"
    print(text)
    (out / "bench.md").write_text(text)
    (out / "bench.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
