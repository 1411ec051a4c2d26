"""`mtfix fix` on real MT into English with professional error annotations (MQM): where its edits land.

    mtfix data mqm ../shared/data/mqm/mqm-ted-zhen.tsv --part held-out -o runs/mqm-held.jsonl
    python scripts/eval_mqm_fix.py --gold runs/mqm-held.jsonl --limit 800 --out runs/mqm-fix

MQM raters mark error spans but write no fixes, so an edit cannot be checked against a gold fix. What can be
read: the share of the corrector's edits (at its default) that fall inside an error span raters marked (edit
precision, by the span's category, Major and Minor apart), and how many edits land where no rater saw an error
(on text the raters accepted: what a reader would take as a harmful edit, or a fix of something they let pass).
Corrections are made once at --min-score 0 and counted at each threshold.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = (0.3, 0.5, 0.7, 0.9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold", required=True, help="MQM gold JSONL (mtfix data mqm)")
    parser.add_argument("--limit", type=int, default=0, help="the first N segments (0: all)")
    parser.add_argument("--corrector", help="a corrector folder (default: models/rewriter)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    lines = Path(args.gold).read_text().splitlines(keepends=True)
    gold = args.out / "gold.jsonl"
    gold.write_text("".join(lines[:args.limit] if args.limit else lines))
    pred = args.out / "fix.jsonl"
    if not pred.exists():
        cmd = [sys.executable, "-m", "mtfix", "fix", "--format", "jsonl", "--min-score", "0", str(gold), "-o",
               str(pred)] + (["--corrector", args.corrector] if args.corrector else [])
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if done.returncode:
            raise SystemExit(done.stderr[-800:])
    import mtfix as api

    default = api.load(fast=True, corrector=args.corrector).corrector.min_score
    golds = [json.loads(line) for line in gold.read_text().splitlines()]
    preds = [json.loads(line) for line in pred.read_text().splitlines()]
    words = sum(len(g["text"].split()) for g in golds)
    rows = ["| min-score | edits | in a marked error | in a Major error | on unmarked text | per 1,000 words |",
            "|---|---|---|---|---|---|"]
    by_category: Counter[str] = Counter()
    for t in sorted(set(THRESHOLDS) | {default}):
        edits = inside = major = 0
        for g, p in zip(golds, preds):
            for e in p.get("edits", []):
                if e["score"] < t:
                    continue
                edits += 1
                hits = [s for s in g["spans"] if s["start"] <= e["end"] and e["start"] <= s["end"]]
                inside += bool(hits)
                major += any(s["label"].startswith("Major") for s in hits)
                if t == default:
                    for label in {s["label"] for s in hits} or {"(none)"}:
                        by_category[label] += 1
        def share(n: int) -> str:
            return f"{n} ({n / edits:.2f})" if edits else "0"
        rows.append(f"| {t:g}{' (default)' if t == default else ''} | {edits} | {share(inside)} | {share(major)} | "
                    f"{share(edits - inside)} | {1000 * edits / max(words, 1):.2f} |")
    text = (f"MQM held-out, the first {len(golds)} segments ({words:,} words): the corrector's edits behind the "
            "default detector\n\n" + "\n".join(rows) + "\n\nAt the default, edits by the category of the error "
            "span they touch:\n\n| category | edits |\n|---|---|\n"
            + "\n".join(f"| {k} | {v} |" for k, v in by_category.most_common()) + "\n")
    (args.out / "report.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
