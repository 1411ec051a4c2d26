"""How many flags per 1,000 words of clean news a threshold fitted on dev clean news gives on news it was not
fitted on: the margin the default threshold needs to hold the clean-news target on unseen text.

The default threshold is the one that keeps dev clean news at a budget (`mtfix train fusion --clean-flags`). A
threshold fitted on one sample of news flags more or fewer words of another by chance. This script splits the
clean-news words that `mtfix train fusion` cached (dev's, and the train rows of its --train-news) into two halves
many times, fits the threshold on one half at
each budget and reads the rate on the other. The rows overlap (a sentence alone and in two- and three-sentence
windows), so rows that share a sentence stay in one half; otherwise the halves would share words and the spread
would look smaller than it is. Each half holds half the words the threshold is really fitted on, so the spread
printed is larger than the real one (a safe side to err on). In the train rows of --train-news the rows left
out (those the tagger or the head trained on) break the chains that tie a document's rows together, so there
the groups are smaller than documents, and the spread may look smaller than it is (the other side). Dev and
train news only; test is never read:

    python scripts/experiments/clean_budget.py --cache runs/fusion/evidence.pt --data runs/data/dataset \\
        --head models/detector/fused --budgets 2,2.5,3 --target 3
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch

from mtfix.detect.train import budget, clean_threshold


def overlap_groups(texts: list[str]) -> list[int]:
    """A group number per text: texts that share a sentence (directly or through others) share a group."""
    from mtfix.data.build import sentences

    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, text in enumerate(texts):
        for sentence in sentences(text):
            key = " ".join(sentence.split())
            if key in first:
                parent[root(i)] = root(first[key])
            else:
                first[key] = i
    return [root(i) for i in range(len(texts))]


def held_out_rates(probs: torch.Tensor, groups: torch.Tensor, budgets: list[float], draws: int,
                   seed: int) -> dict[float, list[float]]:
    """For each budget, the flags per 1,000 words on the other half of ``draws`` random halvings (by group) of
    the clean words whose P(BAD) is ``probs``, at the threshold fitted on one half."""
    rng = random.Random(seed)
    names = sorted(set(groups.tolist()))
    found: dict[float, list[float]] = {b: [] for b in budgets}
    for _ in range(draws):
        half = set(rng.sample(names, len(names) // 2))
        mask = torch.tensor([g in half for g in groups.tolist()])
        for b in budgets:
            threshold = clean_threshold(probs[mask], b)
            found[b].append(1000 * float((probs[~mask] >= threshold).float().mean()))
    return found


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def table(rates: dict[float, list[float]], target: float) -> str:
    lines = ["| budget on one half (flags/1k) | other half: mean | 90th percentile | 95th percentile | "
             f"share of halvings over {target:g} |", "|---|---|---|---|---|"]
    for b, values in rates.items():
        over = sum(v > target for v in values) / len(values)
        lines.append(f"| {b:g} | {sum(values) / len(values):.2f} | {quantile(values, 0.9):.2f} | "
                     f"{quantile(values, 0.95):.2f} | {over:.0%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", required=True, help="the dev evidence written by mtfix train fusion")
    parser.add_argument("--data", required=True, help="the DatasetDict folder it was collected on")
    parser.add_argument("--head", required=True, help="a fusion head folder (e.g. models/detector/fused)")
    parser.add_argument("--clean-news", type=int, default=None,
                        help="the --clean-news the cache was collected with (default: as the head's training.json)")
    parser.add_argument("--train-news", type=int, default=None,
                        help="the --train-news the head was trained with: its train clean-news rows join the pool "
                             "(CACHE.news.pt; default: as the head's training.json)")
    parser.add_argument("--budgets", default="2,2.5,3", help="budgets to fit at, comma-separated (default 2,2.5,3)")
    parser.add_argument("--target", type=budget, default=3.0, help="the clean-news target (default 3)")
    parser.add_argument("--draws", type=int, default=200, help="random halvings (default 200)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    try:
        budgets = [budget(b) for b in args.budgets.split(",")]
    except argparse.ArgumentTypeError as e:
        parser.error(f"--budgets: {e}")
    if args.draws < 1:
        parser.error(f"--draws must be at least 1, not {args.draws}")
    for path in (Path(args.cache), Path(args.head) / "config.json", Path(args.head) / "training.json"):
        if not path.exists():
            parser.error(f"{path} does not exist")
    import json

    import datasets

    from mtfix.detect.fuse import load_fusion, select
    from mtfix.detect.train import (FusionTrainConfig, evidence_groups, fusion_dev_sample, fusion_news_rows,
        join_news, train_news_path, train_news_rows)

    head, config = load_fusion(Path(args.head))
    trained = json.loads((Path(args.head) / "training.json").read_text())["config"]
    clean_news = args.clean_news if args.clean_news is not None else trained["clean_news"]
    train_news = args.train_news if args.train_news is not None else trained.get("train_news", 0)
    news = torch.load(args.cache)["news"]
    data = datasets.load_from_disk(args.data)
    dev = data["dev"]
    fusion = FusionTrainConfig(data=args.data, tagger=trained.get("tagger", ""), out="", mix=trained["mix"],
                               train_mix=trained.get("train_mix", {}), seed=trained["seed"], train_news=train_news)
    rows = fusion_news_rows(dev, fusion_dev_sample(dev, fusion), clean_news)
    segments = sorted(set(news["segment"].tolist()))
    if segments[-1] >= len(rows):
        parser.error(f"the cache holds {segments[-1] + 1} news rows, the data {len(rows)}: give the --clean-news it "
                     "was collected with")
    dev_words = len(news["y"])
    if train_news:
        more = train_news_path(args.cache)
        if not more.exists():
            parser.error(f"{more} does not exist: train the head with --train-news {train_news} first")
        news = join_news({"news": news}, torch.load(more)["news"])["news"]
        rows += train_news_rows(data["train"], fusion)
    by_row = overlap_groups([r["text"] for r in rows])
    groups = torch.tensor([by_row[s] for s in news["segment"].tolist()])
    with torch.inference_mode():
        probs = config.word_probability(head(select(news["x"], config.features), evidence_groups(news)), news["x"])
    print(f"{len(probs):,} clean-news words ({dev_words:,} dev, {len(probs) - dev_words:,} train) in "
          f"{len(set(by_row)):,} groups of rows that share no sentence; {args.draws} halvings", file=sys.stderr)
    print(table(held_out_rates(probs, groups, budgets, args.draws, args.seed), args.target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
