"""Each edit's effect alone on real MT: the sentence chrF of the segment with that one edit applied, against the
post-edit, minus the unchanged segment's; summed per pair and threshold.

    python scripts/experiments/edit_effects.py --eval runs/fix-dev --pairs ro-en,et-en --list 0.7

Reads the PAIR.fix.jsonl and PAIR.gold.jsonl files that scripts/eval_fix.py writes (fixed at --min-score 0).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from sacrebleu.metrics import CHRF

THRESHOLDS = (0.6, 0.7, 0.8, 0.9)


def effects(folder: Path, pair: str) -> list[tuple[float, float, str, str]]:
    """(score, chrF change, original, replacement) of every edit of one pair."""
    chrf = CHRF()
    gold = {g["id"]: g for g in map(json.loads, open(folder / f"{pair}.gold.jsonl", encoding="utf-8"))}
    out = []
    for line in open(folder / f"{pair}.fix.jsonl", encoding="utf-8"):
        row = json.loads(line)
        reference = gold[row["id"]]["reference"]
        base = chrf.sentence_score(row["text"], [reference]).score
        for e in row["edits"]:
            text = row["text"][:e["start"]] + e["replacement"] + row["text"][e["end"]:]
            out.append((e["score"], chrf.sentence_score(text, [reference]).score - base, e["original"],
                        e["replacement"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval", type=Path, required=True, help="the --out folder of scripts/eval_fix.py")
    parser.add_argument("--pairs", default="ro-en,et-en,ne-en,si-en,ru-en")
    parser.add_argument("--list", type=float, default=None, help="also list every edit scoring at least this")
    args = parser.parse_args()
    print("| pair | min-score | edits | better | summed sentence chrF change |\n|---|---|---|---|---|")
    for pair in args.pairs.split(","):
        found = effects(args.eval, pair)
        for t in THRESHOLDS:
            kept = [d for s, d, _, _ in found if s >= t]
            print(f"| {pair} | {t} | {len(kept)} | {sum(d > 0 for d in kept)} | {sum(kept):+.1f} |")
        if args.list is not None:
            for s, d, old, new in sorted(found, reverse=True):
                if s >= args.list:
                    print(f"  {pair} {s:.2f} {d:+.2f} {old!r} -> {new!r}")


if __name__ == "__main__":
    main()
