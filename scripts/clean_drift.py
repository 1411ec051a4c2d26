"""Does the detector's clean budget hold on news from a source its threshold was not fitted on?

    python scripts/clean_drift.py --head models/detector/fused --evidence runs/fusion-full/evidence.pt \
        --data runs/data/dataset [--per-1k 2] [-o runs/clean-drift.md]

The fusion head's threshold is fitted on clean news pooled over its sources (ABC rural, ABC science, State of the
Union; single sentences and multi-sentence windows). This refits it on one source's words at --per-1k flags per
1,000 and counts the flags that threshold gives on each other source, next to the shipped threshold's rate per
source: how far a threshold fitted on one kind of news drifts on another. It reads the evidence `mtfix train
fusion` cached (the news its threshold was fitted on, dev and train; the head never trained on it), so it runs
the head alone, in seconds.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path


def news_sources(data: str, config: dict, dev_segments: int) -> list[str]:
    """The source of each news segment of the evidence, in its order: the dev news rows, then the train news
    rows (numbered after them), as train_fusion drew them from its config."""
    import datasets

    from mtfix.detect.train import FusionTrainConfig, fusion_dev_sample, fusion_news_rows, train_news_rows

    fields = set(FusionTrainConfig.__dataclass_fields__)
    cfg = FusionTrainConfig(**{k: v for k, v in config.items() if k in fields})
    dd = datasets.load_from_disk(data)
    dev_news = fusion_news_rows(dd["dev"], fusion_dev_sample(dd["dev"], cfg), cfg.clean_news)
    if len(dev_news) != dev_segments:
        raise SystemExit(f"error: the evidence holds {dev_segments} dev news segments, the config draws "
                         f"{len(dev_news)}: not the evidence this head was fitted on")
    train_news = train_news_rows(dd["train"], cfg) if cfg.train_news else []
    return [r["source"] for r in dev_news + train_news]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--head", default="models/detector/fused", help="the fusion head's folder")
    parser.add_argument("--evidence", required=True, help="the evidence cache train_fusion wrote (its .news.pt "
                                                          "beside it holds the train news)")
    parser.add_argument("--data", required=True, help="the data set the evidence was collected on")
    parser.add_argument("--per-1k", type=float, default=2.0, help="flags per 1,000 words to fit on one source")
    parser.add_argument("-o", "--output", help="also write the table here (Markdown)")
    args = parser.parse_args(argv)

    import torch

    from mtfix.detect.fuse import load_fusion, select
    from mtfix.detect.train import clean_threshold, evidence_groups, join_news, train_news_path

    head, config = load_fusion(Path(args.head))
    record = json.loads((Path(args.head) / "training.json").read_text())
    ev = torch.load(args.evidence, weights_only=False)
    dev_segments = int(ev["news"]["segment"].max()) + 1
    more = train_news_path(args.evidence)
    if record["config"].get("train_news") and more.exists():
        ev = join_news(ev, torch.load(more, weights_only=False)["news"])
    news = ev["news"]
    sources = news_sources(args.data, record["config"], dev_segments)
    if int(news["segment"].max()) + 1 > len(sources):
        raise SystemExit("error: more news segments in the evidence than rows drawn: not this head's evidence")
    with torch.inference_mode():
        logits = head(select(news["x"], config.features), evidence_groups(news))
        probs = config.word_probability(logits, news["x"])
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, segment in enumerate(news["segment"].tolist()):
        by_source[sources[segment].split(":")[1]].append(i)
    names = sorted(by_source)
    index = {k: torch.tensor(v) for k, v in by_source.items()}

    def rate(source: str, threshold: float) -> float:
        return 1000 * float((probs[index[source]] >= threshold).sum()) / len(index[source])

    lines = [f"Clean-news flags per 1,000 words by source ({len(probs):,} words: the dev and train news the shipped "
             f"threshold was fitted on, pooled, at {record['config'].get('clean_flags_per_1k')} per 1,000)", "",
             "| threshold | " + " | ".join(f"{n} ({len(index[n]):,} words)" for n in names) + " |",
             "|---|" + "---|" * len(names),
             f"| shipped ({config.threshold:.3f}) | " + " | ".join(f"{rate(n, config.threshold):.2f}" for n in names)
             + " |"]
    worst = 0.0
    for fitted in names:
        t = clean_threshold(probs[index[fitted]], args.per_1k)
        cells = []
        for n in names:
            r = rate(n, t)
            if n != fitted:
                worst = max(worst, r)
            cells.append(f"({r:.2f})" if n == fitted else f"{r:.2f}")
        lines.append(f"| fitted on {fitted} at {args.per_1k:g} ({t:.3f}) | " + " | ".join(cells) + " |")
    lines += ["", f"In parentheses: the source the threshold was fitted on. The highest rate on a source it was not "
                  f"fitted on: {worst:.2f} per 1,000."]
    text = "\n".join(lines)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
