"""Evaluate detectors with `mtfix score`: MLQE-PE per pair, held-out clean news, synthetic and held-out
apertium test per class, and the seed article. Prints Markdown tables; writes every file under --out.

    python scripts/eval_detector.py --data runs/data/dataset --split dev --methods model,spell,all-bad \\
        --model runs/detector --out runs/eval-dev
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MLQE = ROOT.parent / "shared" / "data" / "mlqe-pe"
PAIRS = ["ro-en", "et-en", "ne-en", "si-en", "ru-en"]


def mtfix(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "mtfix", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"mtfix {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def detect(method: str, model: str | None, gold: Path, pred: Path) -> None:
    """Predictions for ``gold``; kept from an earlier run of the same --out (delete them to redo)."""
    if pred.exists() and pred.stat().st_mtime >= gold.stat().st_mtime:
        return
    args = ["detect", "--method", method, "--format", "jsonl", str(gold), "-o", str(pred)]
    if method in ("model", "fused") and model:
        args += ["--model", model]
    mtfix(*args)


def score(gold: Path, pred: Path, *extra: str) -> dict:
    return json.loads(mtfix("score", "--gold", str(gold), "--pred", str(pred), "--json", *extra))


def cell(entry: dict) -> str:
    return f"{entry['value']:.3f} [{entry['low']:.3f}, {entry['high']:.3f}]" if "low" in entry else \
        f"{entry['value']:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the DatasetDict folder of mtfix data build")
    parser.add_argument("--split", default="dev", choices=["dev", "test"],
                        help="MLQE-PE split and data-set split to score on (test: once per model)")
    parser.add_argument("--methods", default="model,spell,all-bad,all-ok")
    parser.add_argument("--model", help="the detector folder for --method model")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    methods = args.methods.split(",")
    report: dict = {"mlqe": {}, "clean": {}, "classes": {}, "seed": {}}

    lines = ["### MLQE-PE " + args.split, "", "| pair | method | word MCC | F1-BAD | span partial F0.5 |",
             "|---|---|---|---|---|"]
    pooled_gold = out / "mlqe-pooled.gold.jsonl"
    with open(pooled_gold, "w") as pooled:
        for pair in PAIRS:
            gold = out / f"{pair}.gold.jsonl"
            if not gold.exists():
                mtfix("data", "mlqe", str(MLQE / f"{pair}-{args.split}.tar.gz"), "-o", str(gold))
            pooled.write(gold.read_text())
    for pair in [*PAIRS, "pooled"]:
        gold = out / f"{pair}.gold.jsonl" if pair != "pooled" else pooled_gold
        for method in methods:
            pred = out / f"{pair}.{method}.jsonl"
            if pair == "pooled":
                pred.write_text("".join((out / f"{p}.{method}.jsonl").read_text() for p in PAIRS))
            else:
                detect(method, args.model, gold, pred)
            det = score(gold, pred)["detection"]
            report["mlqe"][f"{pair}/{method}"] = det
            lines.append(f"| {pair} | {method} | {cell(det['word_mcc'])} | {cell(det['word_f1_bad'])} | "
                         f"{cell(det['span_partial_f05'])} |")

    clean_gold = out / "clean.gold.jsonl"
    if not clean_gold.exists():
        mtfix("data", "export", args.data, "--split", args.split, "--source", "clean:abc-,clean:state-union",
              "-o", str(clean_gold))
    lines += ["", f"### Clean news: ABC news and State of the Union ({args.split} split, held out from training)", "",
              "| method | flagged words per 1,000 |", "|---|---|"]
    for method in methods:
        pred = out / f"clean.{method}.jsonl"
        detect(method, args.model, clean_gold, pred)
        rates = json.loads(mtfix("score", "--clean", str(pred), "--json"))["clean"]
        report["clean"][method] = rates
        lines.append(f"| {method} | {rates['flags_per_1k_words']:.1f} (of {rates['words']:,} words) |")

    for source in ("synthetic", "apertium"):
        gold = out / f"{source}.gold.jsonl"
        if not gold.exists():
            mtfix("data", "export", args.data, "--split", args.split, "--source", source, "-o", str(gold))
        lines += ["", f"### {source} ({args.split} split): word recall by class, and span F0.5", "",
                  "| class | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
        results = {}
        for method in methods:
            pred = out / f"{source}.{method}.jsonl"
            detect(method, args.model, gold, pred)
            results[method] = score(gold, pred)
        report["classes"][source] = {m: {"by_label": r.get("by_label", {}), "detection": r["detection"]}
                                     for m, r in results.items()}
        labels = sorted({label for r in results.values() for label in r.get("by_label", {})})
        for label in labels:
            row = [f"{results[m]['by_label'].get(label, {}).get('word_recall', 0):.2f}" for m in methods]
            n = results[methods[0]]["by_label"].get(label, {}).get("words", 0)
            lines.append(f"| {label} ({n:,} words) | " + " | ".join(row) + " |")
        lines.append("| word MCC | " + " | ".join(f"{results[m]['detection']['word_mcc']['value']:.3f}"
                                                 for m in methods) + " |")

    seed = ROOT / "seeds" / "article_backtranslated.txt"
    lines += ["", "### Seed article: what each method flags", ""]
    for method in methods:
        pred = out / f"seed.{method}.jsonl"
        detect(method, args.model, seed, pred)
        flagged = [s["text"] for line in pred.read_text().splitlines() for s in json.loads(line)["spans"]]
        report["seed"][method] = flagged
        lines.append(f"- **{method}** ({len(flagged)}): " + ", ".join(f"\"{t}\"" for t in flagged[:80]))
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
