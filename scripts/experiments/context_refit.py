"""Is the fusion head better when the language model reads each segment after the previous sentences of its
document? Two heads fitted by train_fusion on the same rows, one on evidence read with --context (the rows whose
document is known after their previous sentences), one on the same rows all read alone, and their held-out dev
figures side by side.

    python scripts/experiments/context_refit.py --data runs/data/dataset --out runs/context-refit [--context 2]

The rows read in context are read once more alone (the others' evidence is the same either way), and that
evidence is written where train_fusion.py --context 0 looks for it, so the second head costs no second collection
of the rest. The heads land in OUT/context-N and OUT/context-0 (each with its training.json); compare them further
with context_head.py. The draw and the fitting settings are those of --like's training.json (the shipped head's
unless told; the evidence runs at about 200 words a second on 2 cores: about an hour for the shipped head's draw).

With --damage R a third head (OUT/context-N-damaged) is fitted on the same rows, the synthetic and apertium ones read
after previous sentences that carry artifacts of their own (each with chance R), as in a round-tripped article; only
those rows are read again. With --plausible N a head (OUT/context-N-plausible) is fitted on the same rows and N
lm-plausible swaps (train_fusion.py --plausible); only the swaps are read. A head already fitted in OUT/context-N
is kept, not fitted again.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

ROOT = Path(__file__).resolve().parents[2]


def read_again(evidence: dict[str, torch.Tensor], rows: Sequence[dict[str, Any]], contexts: Sequence[str],
               wanted: Sequence[str], detector: Any, log: Callable[[str], None]) -> dict[str, torch.Tensor]:
    """``evidence`` (collect_evidence of ``rows`` read after ``contexts``) with every row whose context differs
    from ``wanted`` read again after that ("": alone): the evidence of the same rows read after ``wanted``."""
    from mtfix.detect.train import collect_evidence

    again = [i for i, (c, w) in enumerate(zip(contexts, wanted)) if c != w]
    if not again:
        return evidence
    found = collect_evidence(detector, [rows[i] for i in again], log, contexts=[wanted[i] for i in again])
    x, segment = evidence["x"].clone(), evidence["segment"]
    starts = torch.searchsorted(segment, torch.tensor(again))
    ends = torch.searchsorted(segment, torch.tensor(again), right=True)
    a_starts = torch.searchsorted(found["segment"], torch.arange(len(again)))
    a_ends = torch.searchsorted(found["segment"], torch.arange(len(again)), right=True)
    for s, e, a, b in zip(starts.tolist(), ends.tolist(), a_starts.tolist(), a_ends.tolist()):
        if e - s != b - a:
            raise ValueError(f"a row read again gave {b - a} words, first {e - s}")
        x[s:e] = found["x"][a:b]
    return {**evidence, "x": x}


def derive(config: Any, other: Any, log: Callable[[str], None]) -> None:
    """Write ``other``'s evidence caches (the same draw read alone, or after damaged contexts) from ``config``'s,
    reading again only the rows whose context differs."""
    import datasets

    from mtfix.detect.train import (evidence_detector, evidence_key, fusion_dev_sample, fusion_news_rows,
                                    row_contexts, train_evidence_path, train_key, train_news_path, train_news_rows,
                                    unseen_train_rows)

    dd = datasets.load_from_disk(config.data)
    detector = evidence_detector(config.tagger)

    def again(part: dict[str, torch.Tensor], rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return read_again(part, rows, row_contexts(config, rows) or [""] * len(rows),
                          row_contexts(other, rows) or [""] * len(rows), detector, log)

    dev_key = evidence_key(other)
    ev = torch.load(config.cache)
    rows = fusion_dev_sample(dd["dev"], config)
    news = fusion_news_rows(dd["dev"], rows, config.clean_news)
    out = {**ev, "train": again(ev["train"], rows), "news": again(ev["news"], news), "key": dev_key}
    Path(other.cache).parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, other.cache)
    if config.train_mix:
        ev = torch.load(train_evidence_path(config.cache))
        rows = unseen_train_rows(dd["train"], config.tagger, config.train_mix, random.Random(config.seed))
        torch.save({**ev, "train": again(ev["train"], rows), "key": train_key(other, dev_key)},
                   train_evidence_path(other.cache))
    if config.train_news:
        ev = torch.load(train_news_path(config.cache))
        rows = train_news_rows(dd["train"], config)
        torch.save({**ev, "news": again(ev["news"], rows),
                    "key": train_key(other, dev_key) | {"train_news": config.train_news}},
                   train_news_path(other.cache))


def main(argv: Sequence[str] | None = None) -> int:
    from mtfix.detect.train import FusionTrainConfig, json_object, train_fusion

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="runs/data/dataset")
    parser.add_argument("--tagger", default=str(ROOT / "models" / "detector"))
    parser.add_argument("--out", required=True, help="a folder for the caches and the two heads")
    parser.add_argument("--context", type=int, default=2, help="the previous sentences read before a row")
    parser.add_argument("--like", default=str(ROOT / "models" / "detector" / "fused"),
                        help="a fusion head folder whose training.json gives the draw and the fitting settings "
                             "(default: the shipped head's)")
    parser.add_argument("--mix", type=json_object, help="dev segments per family (default: --like's)")
    parser.add_argument("--clean-news", type=int, help="dev clean-news segments (default: --like's)")
    parser.add_argument("--train-mix", type=json_object, help="train segments per family (default: --like's)")
    parser.add_argument("--train-news", type=int, help="train clean-news segments (default: --like's)")
    parser.add_argument("--damage", type=float, default=0.0,
                        help="also fit a head on the same rows read after damaged contexts (train_fusion.py "
                             "--damage): each previous sentence of a synthetic or apertium row carries an artifact "
                             "with this chance; it lands in OUT/context-N-damaged")
    parser.add_argument("--skip-alone", action="store_true",
                        help="fit the head read in context only, not the same rows read alone (the head shipped "
                             "before the context one is that baseline: same rows, seed and settings)")
    parser.add_argument("--plausible", type=int, default=0,
                        help="also fit a head on the same rows and this many lm-plausible swaps (train_fusion.py "
                             "--plausible), from the same caches; it lands in OUT/context-N-plausible")
    args = parser.parse_args(argv)
    if args.plausible < 0:
        parser.error(f"--plausible must be 0 or more, not {args.plausible}")
    if not 0 <= args.damage <= 1:
        parser.error(f"--damage must be between 0 and 1, not {args.damage}")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    out = Path(args.out)
    like = json.loads((Path(args.like) / "training.json").read_text())["config"]
    asked = {"mix": args.mix, "clean_news": args.clean_news, "train_mix": args.train_mix, "train_news": args.train_news}
    read = FusionTrainConfig.from_record(like, **{k: v for k, v in asked.items() if v is not None}, data=args.data,
                                         tagger=args.tagger, context=args.context,
                                         out=str(out / f"context-{args.context}"),
                                         cache=str(out / f"cache-{args.context}" / "evidence.pt"))
    alone = dataclasses.replace(read, context=0, out=str(out / "context-0"), cache=str(out / "cache-0" / "evidence.pt"))
    done = Path(read.out) / "training.json"  # a head this run fitted before (the --damage head added later)
    records = {"context": json.loads(done.read_text()) if done.exists() else train_fusion(read, log)}
    if not args.skip_alone:
        derive(read, alone, log)
        records["alone"] = train_fusion(alone, log)
    if args.damage:
        broken = dataclasses.replace(read, damage=args.damage, out=str(out / f"context-{args.context}-damaged"),
                                     cache=str(out / f"cache-{args.context}-damaged" / "evidence.pt"))
        derive(read, broken, log)
        records["damaged"] = train_fusion(broken, log)
    if args.plausible:  # only the swaps' evidence is new: every other cache is read's
        more = dataclasses.replace(read, plausible=args.plausible, out=str(out / f"context-{args.context}-plausible"))
        records["plausible"] = train_fusion(more, log)
    keys = ("held_out_mlqe_mcc", "held_out_synthetic_recall", "threshold", "fit_words", "news_words")
    summary = {name: {k: r[k] for k in keys} for name, r in records.items()}
    print(json.dumps(summary, indent=2))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
