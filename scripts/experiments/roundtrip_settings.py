"""What the corrector's two bars do on round-trip-like text: the synthetic split's exact-fix rate per class
(given the gold spans) and the seed article's edits, at several (--min-score, --swap-score) settings.

    python scripts/experiments/roundtrip_settings.py --gold runs/fix-dev14/synthetic.gold.jsonl --limit 500 \\
        --setting 0.8,0.9 --setting 0.7,0.9 --setting 0.7,0.7 -o runs/roundtrip.md

--gold: a synthetic export (`mtfix data export DATA --split dev --source synthetic`; scripts/eval_fix.py
writes one into its --out folder). Dev only: the settings recommended in the README are read off this table.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seeds" / "article_backtranslated.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gold", required=True, help="synthetic gold JSONL (with fixes)")
    parser.add_argument("--limit", type=int, default=500, help="the first N documents")
    parser.add_argument("--setting", action="append", required=True, help="MIN,SWAP (repeatable)")
    parser.add_argument("-o", "--output", help="also write the table here")
    args = parser.parse_args()
    import mtfix as api
    sys.path.insert(0, str(ROOT / "scripts"))  # eval_fix.py, one folder up
    from eval_fix import exact_counts
    from mtfix.text.formats import read_documents

    settings = [tuple(float(v) for v in s.split(",")) for s in args.setting]
    corrector = api.load(fast=True).corrector
    docs = list(read_documents(args.gold))[:args.limit]
    counts = exact_counts(docs, corrector, settings)
    names = [f"--min-score {a:g} --swap-score {b:g}" for a, b in settings]
    lines = [f"Synthetic spans fixed exactly (given the gold spans; the first {len(docs)} documents of {args.gold})",
             "", "| class | spans | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(settings)]
    for label, c in sorted(counts.items()):
        lines.append(f"| {label} | {c[0]} | " + " | ".join(f"{v / c[0]:.2f}" for v in c[2:]) + " |")
    lines += ["", "The seed article's edits (default detector):", ""]
    with tempfile.TemporaryDirectory() as tmp:
        for (low, swap), name in zip(settings, names):
            out = Path(tmp) / "seed.jsonl"
            subprocess.run([sys.executable, "-m", "mtfix", "fix", str(SEED), "--format", "jsonl", "--min-score",
                            str(low), "--swap-score", str(swap), "-o", str(out)], check=True, capture_output=True)
            edits = [e for line in out.read_text().splitlines() for e in json.loads(line)["edits"]]
            shown = ", ".join(f"\"{e['original']}\" -> \"{e['replacement']}\" ({e['score']:.2f})" for e in edits)
            lines.append(f"- {name}: {shown or 'no edit'}")
    print("\n".join(lines))
    if args.output:
        Path(args.output).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
