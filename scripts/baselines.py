"""Score the baseline detectors on MLQE-PE splits, one table row per pair and method.

    python scripts/baselines.py --split dev            # writes runs/baselines-dev/ and prints a Markdown table
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "mlqe-pe"
PAIRS = ["ro-en", "et-en", "ne-en", "si-en", "ru-en"]


def mtfix(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "mtfix", *args], capture_output=True, text=True, check=True)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    parser.add_argument("--methods", default="spell,all-ok,all-bad")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or ROOT / "runs" / f"baselines-{args.split}"
    out.mkdir(parents=True, exist_ok=True)
    rows = ["| pair | method | word MCC | F1-BAD | F1-mult | span exact F0.5 | span partial F0.5 |",
            "|---|---|---|---|---|---|---|"]
    for pair in PAIRS:
        gold = out / f"{pair}.gold.jsonl"
        mtfix("data", "mlqe", str(DATA / f"{pair}-{args.split}.tar.gz"), "-o", str(gold))
        for method in args.methods.split(","):
            pred = out / f"{pair}.{method}.jsonl"
            mtfix("detect", "--method", method, "--format", "jsonl", str(gold), "-o", str(pred))
            result = json.loads(mtfix("score", "--gold", str(gold), "--pred", str(pred), "--json"))
            det = result["detection"]

            def cell(key: str) -> str:
                e = det[key]
                return f"{e['value']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"

            rows.append(f"| {pair} | {method} | {cell('word_mcc')} | {cell('word_f1_bad')} | "
                        f"{cell('word_f1_mult')} | {cell('span_exact_f05')} | {cell('span_partial_f05')} |")
            print(rows[-1], file=sys.stderr)
    print("\n".join(rows))
    print(f"\nsignature: {result['signature']}")


if __name__ == "__main__":
    main()
