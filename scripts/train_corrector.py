"""Train the span corrector (the same as `mtfix train corrector`); the full run lives here, not in the tests.

    mtfix data build -o runs/data
    python scripts/train_corrector.py --data runs/data/dataset --out runs/corrector --minutes 35
    python scripts/train_corrector.py --data runs/data/dataset --out runs/corrector-scratch --encoder scratch

The default encoder is the shipped detector's MiniLM (frozen; its states are cached once, so the decoder trains
on them for several epochs); --encoder scratch trains a small encoder over the pieces with the decoder.

On a rented GPU without the data set: write the run's rows here, carry them, and train there on exactly them:

    python scripts/train_corrector.py --data runs/data/dataset --mix '{...}' --dev-rows 250 \
        --export-rows runs/rows.jsonl.xz
    python scripts/train_corrector.py --rows runs/rows.jsonl.xz --pieces models/corrector/pieces.model \
        --device cuda --bf16 --batch-size 128 --minutes 6 --out runs/corrector-gpu
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mtfix.detect.train import device_problem, json_object
from mtfix.correct.train import CorrectorTrainConfig, export_rows, train_corrector


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = CorrectorTrainConfig(data="", out="")
    parser.add_argument("--data", default="", help="the DatasetDict folder written by mtfix data build")
    parser.add_argument("--out", default="", help="where to save the model (e.g. models/corrector)")
    parser.add_argument("--rows", default="", help="train on rows written by --export-rows instead of --data")
    parser.add_argument("--export-rows", metavar="FILE", default="",
                        help="write this run's training and dev rows to FILE (.jsonl.xz) and stop")
    parser.add_argument("--pieces", default="", help="reuse this sentencepiece model instead of training one")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--dev-rows", type=int, default=0,
                        help="dev segments per family for the calibration (default: an eighth of the mix)")
    parser.add_argument("--tagger", default="", help="the detector whose encoder it reads (default: models/detector)")
    parser.add_argument("--encoder", default="tagger", choices=["tagger", "scratch"])
    parser.add_argument("--mix", type=json_object, default=defaults.mix,
                        help="training segments per source family, JSON")
    parser.add_argument("--identity-share", type=float, default=defaults.identity_share,
                        help="keep-the-original examples per span example (default %(default)s)")
    parser.add_argument("--vocab-size", type=int, default=defaults.vocab_size)
    parser.add_argument("--layers", type=int, default=defaults.layers, help="decoder layers")
    parser.add_argument("--d-model", type=int, default=defaults.d_model, help="decoder width")
    parser.add_argument("--heads", type=int, default=defaults.heads)
    parser.add_argument("--ffn", type=int, default=defaults.ffn)
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (GPUs, CPUs with avx512_bf16)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--epochs", type=float, default=defaults.epochs)
    parser.add_argument("--minutes", type=float, default=0.0,
                        help="time budget, input preparation included; the learning rate decays to zero at its end")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    if device_problem(args.device):
        parser.error(device_problem(args.device))
    if not (args.data or args.rows):
        parser.error("give --data (the data set) or --rows (exported rows)")
    if not (args.out or args.export_rows):
        parser.error("give --out (where to save the model)")
    if args.rows and not args.pieces:
        parser.error("--rows needs --pieces (the pieces model the rows' run uses)")
    config = CorrectorTrainConfig(data=args.data, out=args.out, tagger=args.tagger, encoder=args.encoder,
                                  mix=args.mix, identity_share=args.identity_share,
                                  vocab_size=args.vocab_size, layers=args.layers, d_model=args.d_model,
                                  heads=args.heads, ffn=args.ffn, bf16=args.bf16, batch_size=args.batch_size,
                                  lr=args.lr, epochs=args.epochs, max_minutes=args.minutes, seed=args.seed,
                                  device=args.device, pieces=args.pieces, rows=args.rows, dev_rows=args.dev_rows)
    if args.export_rows:
        n_train, n_dev = export_rows(config, Path(args.export_rows))
        print(f"wrote {n_train:,} training and {n_dev:,} dev rows to {args.export_rows}", file=sys.stderr)
        return 0
    train_corrector(config, lambda msg: print(msg, file=sys.stderr, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
