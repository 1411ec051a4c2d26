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
from typing import Any, Sequence


def news_sources(data: str, config: dict, dev_segments: int) -> list[str]:
    """The source of each news segment of the evidence, in its order: the dev news rows, then the train news
    rows (numbered after them), as train_fusion drew them from its config."""
    import datasets

    from mtfix.training.evidence import FusionTrainConfig, fusion_dev_sample, fusion_news_rows, train_news_rows

    cfg = FusionTrainConfig.from_record(config)
    dd = datasets.load_from_disk(data)
    dev_news = fusion_news_rows(dd["dev"], fusion_dev_sample(dd["dev"], cfg), cfg.clean_news)
    if len(dev_news) != dev_segments:
        raise SystemExit(f"error: the evidence holds {dev_segments} dev news segments, the config draws "
                         f"{len(dev_news)}: not the evidence this head was fitted on")
    train_news = train_news_rows(dd["train"], cfg) if cfg.train_news else []
    return [r["source"] for r in dev_news + train_news]


def drift(probs: Any, sources: Sequence[str], shipped: float, per_1k: float
          ) -> tuple[dict[str, tuple[float, dict[str, float]]], dict[str, int], float]:
    """Flags per 1,000 words on each source (``sources``: each word's) at the ``shipped`` threshold and at a
    threshold fitted on each source alone at ``per_1k``: {"shipped" or the source fitted on: (threshold, rate by
    source)}; the words of each source; and the highest rate on a source the threshold was not fitted on."""
    import torch

    from mtfix.training.calibration import clean_threshold

    by_source: dict[str, list[int]] = defaultdict(list)
    for i, source in enumerate(sources):
        by_source[source].append(i)
    index = {k: torch.tensor(v) for k, v in sorted(by_source.items())}
    words = {k: len(v) for k, v in index.items()}

    def rates(threshold: float) -> dict[str, float]:
        return {k: 1000 * float((probs[v] >= threshold).sum()) / len(v) for k, v in index.items()}

    out = {"shipped": (shipped, rates(shipped))}
    worst = 0.0
    for fitted, v in index.items():
        t = clean_threshold(probs[v], per_1k)
        out[fitted] = (t, rates(t))
        worst = max([worst] + [r for k, r in out[fitted][1].items() if k != fitted])
    return out, words, worst


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
    from mtfix.training.evidence import evidence_groups, join_news, train_news_path

    for path, what in ((Path(args.head) / "training.json", "--head: no fusion head"), (Path(args.evidence),
                                                                                   "--evidence: no such file")):
        if not path.exists():
            parser.error(f"{what} at {path}")
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
    rates, words, worst = drift(probs, [sources[s].split(":")[1] for s in news["segment"].tolist()],
                                config.threshold, args.per_1k)
    names = sorted(words)
    lines = [f"Clean-news flags per 1,000 words by source ({len(probs):,} words: the dev and train news the shipped "
             f"threshold was fitted on, pooled, at {record['config'].get('clean_flags_per_1k')} per 1,000)", "",
             "| threshold | " + " | ".join(f"{n} ({words[n]:,} words)" for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for fitted, (t, per_source) in rates.items():
        label = f"shipped ({t:.3f})" if fitted == "shipped" else f"fitted on {fitted} at {args.per_1k:g} ({t:.3f})"
        lines.append(f"| {label} | " + " | ".join(f"({per_source[n]:.2f})" if n == fitted else f"{per_source[n]:.2f}"
                                                   for n in names) + " |")
    lines += ["", f"In parentheses: the source the threshold was fitted on. The highest rate on a source it was not "
                  f"fitted on: {worst:.2f} per 1,000."]
    text = "\n".join(lines)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
