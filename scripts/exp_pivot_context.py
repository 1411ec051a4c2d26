"""Experiment (docs/decisions.md): pivot siblings ranked in context against the most frequent ones, for the LM
rewriter. Given the gold spans of a split's synthetic rows (pivot swaps and every other kind), how often the gold
fix is the best option and is applied at the rewriter's own bars; and on clean news rows, how many edits the
default makes on the fused detector's spans, per 1,000 words.

    python scripts/exp_pivot_context.py --data runs/data/dataset --split dev --rows 600 --clean 300
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    import datasets
    from eval_fix import exact_counts

    import mtfix
    from mtfix.text.formats import Document
    from mtfix.text.spans import Span

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--rows", type=int, default=600, help="synthetic rows, a third of them pivot swaps")
    parser.add_argument("--clean", type=int, default=300, help="clean news rows")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    split = datasets.load_from_disk(args.data)[args.split]
    rng = random.Random(args.seed)
    rows = [r for r in split if r["source"].startswith("synthetic:")]
    pivot = [r for r in rows if r["source"] == "synthetic:pivot"]
    other = [r for r in rows if r["source"] != "synthetic:pivot"]
    picked = rng.sample(pivot, min(args.rows // 3, len(pivot))) + rng.sample(other, min(args.rows * 2 // 3,
                                                                                     len(other)))
    docs = [Document(r["text"], [Span(s["start"], s["end"], s["label"], 1.0, (s["fix"],)) for s in r["spans"]])
            for r in picked]
    clean = [r["text"] for r in split if r["source"] in ("clean:abc-rural", "clean:abc-science",
                                                         "clean:state-union")]
    clean = rng.sample(clean, min(args.clean, len(clean)))
    fixer = mtfix.load()
    spans = fixer.detect(clean, one_document=False)
    words = sum(len(t.split()) for t in clean)
    report = {}
    for in_context in (False, True):
        corrector = fixer.corrector
        corrector.pivots_in_context = in_context
        started = time.time()
        counts = exact_counts(docs, corrector, [(corrector.min_score, None)])
        seconds = time.time() - started
        edits = corrector.correct(clean, spans)
        name = "in context" if in_context else "by frequency"
        report[name] = {
            "classes": {k: {"spans": v[0], "best": round(v[1] / v[0], 3), "applied": round(v[2] / v[0], 3)}
                        for k, v in sorted(counts.items())},
            "all": {"spans": sum(v[0] for v in counts.values()),
                    "best": round(sum(v[1] for v in counts.values()) / sum(v[0] for v in counts.values()), 3),
                    "applied": round(sum(v[2] for v in counts.values()) / sum(v[0] for v in counts.values()), 3)},
            "clean edits per 1k": round(1000 * sum(len(e) for e in edits) / words, 2),
            "seconds": round(seconds, 1)}
        print(name, json.dumps(report[name]), flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
