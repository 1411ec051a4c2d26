"""`mtfix train WHAT`: each trainer of mtfix.training, which parses its own options."""
from __future__ import annotations

import argparse
from typing import Any

TRAINERS = {"detector": ("tagger", "the artifact tagger, on the output of mtfix data build"),
            "fusion": ("fusion", "the head that fuses the tagger with language-model evidence"),
            "document": ("document", "the head that reads how likely a whole document went through MT"),
            "translated": ("translated", "the head that scores the words of a document that reads as translated"),
            "classes": ("classes", "the class head that names each span's kind of artifact"),
            "rewriter": ("rewriter", "LoRA adapters on SmolLM2 that rewrite a marked span (the default corrector)"),
            "corrector": ("span_decoder", "the span decoder on the detector's encoder states (--conservative)"),
            "calibrate": ("calibrate", "show or set a model folder's operating points (points.json)")}


def cmd_train(args: argparse.Namespace) -> int:
    import importlib

    module = importlib.import_module(f"mtfix.training.{TRAINERS[args.what][0]}")
    return int(module.main(args.rest))


def parser_train(sub: Any) -> None:
    """The `mtfix train` command's options."""
    p = sub.add_parser("train", help="train a model", description=(
        "Train one of mtfix's models on the data set mtfix data build writes; 'mtfix train WHAT --help' lists each "
        "trainer's options. Data and model folders are arguments (--data, --out), never read from the checkout."))
    trainers = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    for what, (_, summary) in TRAINERS.items():
        t = trainers.add_parser(what, help=summary, add_help=False)
        t.add_argument("rest", nargs=argparse.REMAINDER)
        t.set_defaults(func=cmd_train)
