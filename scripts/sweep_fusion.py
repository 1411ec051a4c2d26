"""How the fusion head's training weights were chosen: on the held-out part of the dev evidence (never on test),
each weighting is fitted and scored at the threshold that keeps dev clean news at 3 flags per 1,000 words:
word MCC on the held-out MLQE-PE segments and word recall on the held-out synthetic ones, next to the tagger.

    python scripts/sweep_fusion.py --cache runs/fusion/evidence.pt
    python scripts/sweep_fusion.py --cache runs/fusion/evidence.pt --drop sentence   # without a group of evidence
"""
from __future__ import annotations

import argparse
import json
import random

import torch

from mtfix.fuse import FEATURES, GROUPS
from mtfix.train import FusionTrainConfig, fit_head, fusion_weights, held_out_measures

GRID = [(0.5, 1.0), (1.0, 1.0), (1.0, 2.0), (1.0, 4.0), (1.0, 6.0), (1.0, 8.0)]  # (invisible, mlqe-pe) weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", default="runs/fusion/evidence.pt", help="written by mtfix train fusion")
    parser.add_argument("--grid", default=json.dumps(GRID), help="[invisible weight, MLQE-PE weight] pairs")
    parser.add_argument("--hidden", type=int, default=64, help="the head's hidden width (0: logistic regression)")
    parser.add_argument("--drop", action="append", default=[], choices=sorted(GROUPS),
                        help="fit the heads without this group of evidence (repeatable)")
    args = parser.parse_args()
    ev = torch.load(args.cache)
    dropped = {name for group in args.drop for name in GROUPS[group]}
    columns = [j for j, name in enumerate(FEATURES) if name not in dropped]
    data, base = ev["train"], FusionTrainConfig(data="", tagger="", out="")
    x, news_x = data["x"][:, columns], ev["news"]["x"][:, columns]
    held_segments = set(random.Random(base.seed).sample(range(len(ev["family"])),
                                                        int(len(ev["family"]) * base.held_out)))
    held = torch.tensor([int(s) in held_segments for s in data["segment"]])
    family = [ev["family"][int(s)] for s in data["segment"]]
    mlqe = held & torch.tensor([f == "mlqe-pe" for f in family])
    synthetic = held & torch.tensor([f == "synthetic" for f in family])
    gold = data["y"].bool()

    def row(name: str, probs: torch.Tensor, news: torch.Tensor) -> str:
        mcc, recall = held_out_measures(probs, news, gold, mlqe, synthetic, base.clean_flags_per_1k)
        return f"| {name} | {mcc:.3f} | {recall:.3f} |"

    lines = ["| weighting | held-out dev MLQE-PE MCC | held-out dev synthetic recall |", "|---|---|---|"]
    column = FEATURES.index("tagger")
    lines.append(row("the tagger alone", data["x"][:, column], ev["news"]["x"][:, column]))
    for invisible, mlqe_weight in json.loads(args.grid):
        config = FusionTrainConfig(data="", tagger="", out="", invisible_weight=invisible,
                                   family_weight={"mlqe-pe": mlqe_weight})
        weights = fusion_weights(ev, config)
        head = fit_head(x[~held], data["y"][~held], weights[~held], args.hidden, config.epochs, config.seed)
        with torch.no_grad():
            name = (f"invisible {invisible:g}, MLQE-PE x{mlqe_weight:g}" + (", logistic" if not args.hidden else "")
                    + "".join(f", without {g}" for g in args.drop))
            lines.append(row(name, torch.sigmoid(head(x)), torch.sigmoid(head(news_x))))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
