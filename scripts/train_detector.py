"""Train the artifact tagger (the same as `mtfix train detector`); the full run lives here, not in the tests.

    mtfix data build -o runs/data
    python scripts/train_detector.py --data runs/data/dataset --out runs/detector --minutes 45
    python scripts/train_detector.py --data runs/data/dataset --out runs/detector --device cuda   # on a GPU
"""
from __future__ import annotations

import argparse
import sys

from mtfix.detect.train import TrainConfig, device_problem, json_object, recalibrate, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the DatasetDict folder written by mtfix data build")
    parser.add_argument("--out", required=True, help="where to save the model (e.g. models/detector)")
    parser.add_argument("--mix", type=json_object, default=TrainConfig(data="", out="").mix,
                        help="training segments per source family, as JSON (default: the shipped tagger's draw)")
    parser.add_argument("--epochs", type=float, default=3.0,
                        help="passes over the mix (default 3, the shipped tagger's; about 24 minutes each on 2 cores "
                             "with the default mix, 4.4 minutes for all three on one H100)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr-encoder", type=float, default=5e-5)
    parser.add_argument("--lr-features", type=float, default=1e-3)
    parser.add_argument("--invisible-weight", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--minutes", type=float, default=0.0, help="stop training after this long (0: no limit)")
    parser.add_argument("--device", default="cpu", help="where to train: cpu (the default) or cuda")
    parser.add_argument("--encoder", default="", help="pretrained encoder folder (default: the MiniLM package)")
    parser.add_argument("--recalibrate", action="store_true",
                        help="only refit the temperature and threshold of the model already in --out, on dev")
    args = parser.parse_args(argv)
    if device_problem(args.device):
        parser.error(device_problem(args.device))
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    config = TrainConfig(data=args.data, out=args.out, mix=args.mix, epochs=args.epochs,
                         batch_size=args.batch_size, lr_encoder=args.lr_encoder, lr_features=args.lr_features,
                         invisible_weight=args.invisible_weight, seed=args.seed, max_minutes=args.minutes,
                         encoder=args.encoder, device=args.device)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if args.recalibrate:
        recalibrate(args.out, config, log)
    else:
        train(config, log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
