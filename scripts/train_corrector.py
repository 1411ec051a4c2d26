"""Train the span corrector (the same as `mtfix train corrector`); the full run lives here, not in the tests.

    mtfix data build -o runs/data
    python scripts/train_corrector.py --data runs/data/dataset --out runs/corrector --minutes 35
    python scripts/train_corrector.py --data runs/data/dataset --out runs/corrector-scratch --encoder scratch

The default encoder is the shipped detector's MiniLM (frozen; its states are cached once, so the decoder trains
on them for several epochs); --encoder scratch trains a small encoder over the pieces with the decoder.
"""
from __future__ import annotations

import argparse
import json
import sys

from mtfix.train_corrector import CorrectorTrainConfig, train_corrector


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = CorrectorTrainConfig(data="", out="")
    parser.add_argument("--data", required=True, help="the DatasetDict folder written by mtfix data build")
    parser.add_argument("--out", required=True, help="where to save the model (e.g. models/corrector)")
    parser.add_argument("--tagger", default="", help="the detector whose encoder it reads (default: models/detector)")
    parser.add_argument("--encoder", default="tagger", choices=["tagger", "scratch"])
    parser.add_argument("--mix", default=json.dumps(defaults.mix), help="training segments per source family, JSON")
    parser.add_argument("--identity-share", type=float, default=defaults.identity_share,
                        help="keep-the-original examples per span example (default %(default)s)")
    parser.add_argument("--vocab-size", type=int, default=defaults.vocab_size)
    parser.add_argument("--layers", type=int, default=defaults.layers, help="decoder layers")
    parser.add_argument("--d-model", type=int, default=defaults.d_model, help="decoder width")
    parser.add_argument("--heads", type=int, default=defaults.heads)
    parser.add_argument("--ffn", type=int, default=defaults.ffn)
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (CPUs with avx512_bf16)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--epochs", type=float, default=defaults.epochs)
    parser.add_argument("--minutes", type=float, default=0.0,
                        help="time budget, input preparation included; the learning rate decays to zero at its end")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    config = CorrectorTrainConfig(data=args.data, out=args.out, tagger=args.tagger, encoder=args.encoder,
                                  mix=json.loads(args.mix), identity_share=args.identity_share,
                                  vocab_size=args.vocab_size, layers=args.layers, d_model=args.d_model,
                                  heads=args.heads, ffn=args.ffn, bf16=args.bf16, batch_size=args.batch_size,
                                  lr=args.lr, epochs=args.epochs, max_minutes=args.minutes, seed=args.seed)
    train_corrector(config, lambda msg: print(msg, file=sys.stderr, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
