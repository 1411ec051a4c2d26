"""The threshold for text read alone, for a fusion head fitted to read context (train_fusion --context N).

Such a head reads each segment after its document's previous sentences; a segment read alone (a JSONL record,
--alone) has no such help, looks less fluent, and at the threshold fitted on news read in context it flags more
clean words. This reads the same clean news that fixed the head's threshold (the dev and train rows its
training.json's draw gives) once more, each row alone, and fits the threshold that keeps it at the same budget
(training.json's clean_flags_per_1k). train_fusion does the same for a head it fits with --context; this script
gives it to a head fitted before.

    python scripts/fit_alone_threshold.py --data runs/data/dataset [--model models/detector] [--write]

--write stores it as the detector folder's "alone" operating point (points.json, mtfix.points; FusedDetector reads
text alone at it); the review point's threshold for text read alone comes from scripts/fit_review_point.py --alone
--write. --by-sentence also
reports the words of each row's first sentence (read with nothing before them) and of its later sentences (read
after the earlier ones) apart. About 15 minutes on 2 cores for the shipped head's 189,879 words of news (cached in
--cache).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def by_sentence(probs: Any, config: Any, in_context: float, alone: float) -> None:
    """Print the flags per 1,000 words of the rows' first sentences and of their later sentences apart, at the
    threshold fitted in context and at ``alone``, and the threshold that keeps each at the budget."""
    import torch

    from mtfix.text.tokens import sentence_spans, tokenize
    from mtfix.training.calibration import clean_threshold
    from mtfix.training.evidence import threshold_news_rows

    first = []
    for row in threshold_news_rows(config):  # the words in collect_evidence's order: each row's tokens
        spans = sentence_spans(row["text"])
        end = spans[0][1] if spans else len(row["text"])
        first += [t.start < end for t in tokenize(row["text"])]
    if len(first) != len(probs):
        raise SystemExit(f"error: the rows hold {len(first)} words, the evidence {len(probs)}")
    mask = torch.tensor(first)
    for name, part in (("first sentences", probs[mask]), ("later sentences", probs[~mask])):
        rates = [1000 * float((part >= t).float().mean()) for t in (in_context, alone)]
        fitted = clean_threshold(part, config.clean_flags_per_1k)
        print(f"{name}: {len(part):,} words, {rates[0]:.2f} flags per 1,000 at {in_context:.4f}, {rates[1]:.2f} at "
              f"{alone:.4f}; {config.clean_flags_per_1k:g} per 1,000 at {fitted:.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the data set the head was fitted on (mtfix data build)")
    parser.add_argument("--model", help="the detector folder (tagger, head in fused/; default: the shipped one)")
    parser.add_argument("--cache", default="runs/alone-threshold/evidence.pt",
                        help="where the evidence read alone is cached (as CACHE's .news-alone.pt)")
    parser.add_argument("--write", action="store_true", help="store the threshold in the detector folder's points.json")
    parser.add_argument("--by-sentence", action="store_true",
                        help="also report the words of each row's first sentence (nothing before them) and of its "
                             "later sentences (read after the earlier ones) apart")
    args = parser.parse_args(argv)

    import functools

    from mtfix.detect.fuse import load_fusion
    from mtfix.models import shipped_detector
    from mtfix.training.evidence import FusionTrainConfig, evidence_detector
    from mtfix.training.fusion import alone_threshold

    path = Path(args.model) if args.model else shipped_detector()
    fused = path / "fused"
    record_file = fused / "training.json"
    if not record_file.exists():
        raise SystemExit(f"error: {record_file} is missing: which news fixed the threshold is unknown")
    head, fusion = load_fusion(fused)
    if not fusion.context:
        raise SystemExit(f"error: the head in {fused} reads every segment alone: its threshold serves text read alone")
    record = json.loads(record_file.read_text())["config"]
    config = FusionTrainConfig.from_record(record, data=args.data, cache=args.cache, tagger=str(path))
    threshold, probs = alone_threshold(head, fusion, config, print,
                                       functools.cache(lambda: evidence_detector(str(path))))
    if args.by_sentence:
        by_sentence(probs, config, fusion.threshold, threshold)
    if args.write:
        from mtfix.points import FILE, write_points

        write_points(path, alone=threshold)
        print(f"written to {path / FILE} as alone")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
