"""Text read alone: one threshold for every word, or one for each text's first sentence with its later sentences
at the threshold fitted in context? Both are fitted on the head's clean news read alone (dev and train news, the
pool that fixes the default threshold; scripts/fit_alone_threshold.py's cache) at the same budget, then compared on
dev rows of each round-trip family and of MLQE-PE, every row read alone (as JSONL records are), with `mtfix score`.

    python scripts/experiments/first_sentence_threshold.py --data runs/data/dataset --rows 1000 \\
        --cache runs/alone-threshold/evidence.pt --out runs/first-sentence

The fusion head saw dev rows in fitting, so the figures run higher than test's; what counts is the two rules side by
side on the same rows. About 15 minutes on 2 cores (the rows read once; the news from the cache).
"""
from __future__ import annotations

import argparse
import functools
import json
import random
import subprocess
import sys
from pathlib import Path

FAMILIES = ("synthetic", "apertium", "mlqe-pe")


def score(gold: Path, pred: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "mtfix", "score", "--gold", str(gold), "--pred", str(pred), "--json",
                           "--bootstrap", "200"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the data set the head was fitted on (mtfix data build)")
    parser.add_argument("--rows", type=int, default=1000, help="dev rows per family (default 1000)")
    parser.add_argument("--cache", default="runs/alone-threshold/evidence.pt",
                        help="fit_alone_threshold.py's cache of the news read alone")
    parser.add_argument("--out", type=Path, default=Path("runs/first-sentence"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import datasets
    import torch

    from mtfix.detect.fuse import FusedDetector, word_thresholds
    from mtfix.detect.train import (FusionTrainConfig, alone_threshold, clean_threshold, evidence_detector,
                                    first_sentence_words, threshold_news_rows)
    from mtfix.models import shipped_detector
    from mtfix.text.formats import Document, write_jsonl
    from mtfix.text.spans import Span, word_spans

    path = shipped_detector()
    detector = FusedDetector.load(str(path), str(path / "fused"), alone=True)
    head, fusion = detector.head, detector.config
    record = json.loads((path / "fused" / "training.json").read_text())["config"]
    config = FusionTrainConfig.from_record(record, data=args.data, cache=args.cache, tagger=str(path))
    first, news = alone_threshold(head, fusion, config, print, functools.cache(lambda: evidence_detector(str(path))))
    uniform = clean_threshold(news, config.clean_flags_per_1k)
    in_first = first_sentence_words(threshold_news_rows(config))
    rules = {"one threshold": (uniform, None), "first sentence apart": (fusion.threshold, first)}
    lines = [f"Clean news read alone ({len(news):,} words, {int(in_first.sum()):,} in first sentences): one "
             f"threshold {uniform:.4f}; first sentences {first:.4f}, later ones {fusion.threshold:.4f}", ""]
    for name, (threshold, first_at) in rules.items():
        at = torch.full_like(news, threshold)
        if first_at is not None:
            at[in_first] = first_at
        flags = news >= at
        lines.append(f"- {name}: {1000 * float(flags.float().mean()):.2f} flags per 1,000 news words read alone "
                     f"(first sentences {1000 * float(flags[in_first].float().mean()):.2f}, later "
                     f"{1000 * float(flags[~in_first].float().mean()):.2f})")
    lines += ["", "| dev rows read alone | rows | words | " + " | ".join(f"{n}: word MCC, flagged words"
                                                                    for n in rules) + " |",
              "|---|---|---|" + "---|" * len(rules)]
    split = datasets.load_from_disk(args.data)["dev"]
    args.out.mkdir(parents=True, exist_ok=True)
    for family in FAMILIES:
        order = [i for i in range(len(split)) if split[i]["source"].split(":")[0] == family]
        random.Random(args.seed).shuffle(order)
        rows = [split[i] for i in order[:args.rows]]
        gold = args.out / f"{family}.gold.jsonl"
        with open(gold, "w", encoding="utf-8") as fh:
            write_jsonl((Document(r["text"], [Span(s["start"], s["end"], s["label"], 1.0, (s["fix"],))
                                              for s in r["spans"]], r["reference"], r["source"]).to_json()
                         for r in rows), fh)
        evidence = detector.evidence([r["text"] for r in rows])
        probs = detector.probabilities(evidence)
        cells = []
        for name, (threshold, first_at) in rules.items():
            pred = args.out / f"{family}.{name.replace(' ', '-')}.jsonl"
            docs = [Document(r["text"], word_spans(scores.tokens, p, word_thresholds(scores, threshold, first_at)))
                    for r, (scores, _), p in zip(rows, evidence, probs)]
            with open(pred, "w", encoding="utf-8") as fh:
                write_jsonl((d.to_json() for d in docs), fh)
            mcc = score(gold, pred)["detection"]["word_mcc"]
            flagged = sum(len(d.text[s.start:s.end].split()) for d in docs for s in d.spans)
            cells.append(f"{mcc['value']:.3f} [{mcc['low']:.3f}, {mcc['high']:.3f}], {flagged:,}")
        words = sum(len(scores.tokens) for scores, _ in evidence)
        lines.append(f"| {family} | {len(rows):,} | {words:,} | " + " | ".join(cells) + " |")
        print(lines[-1], file=sys.stderr)
    text = "\n".join(lines) + "\n"
    print(text)
    (args.out / "report.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
