"""The options several commands share (models, review point, device, round trip, reading alone) and their
checks, made once."""
from __future__ import annotations

import argparse

from mtfix.detect import METHODS
from mtfix.errors import InputError


def read_alone(args: argparse.Namespace) -> bool:
    """Whether each segment is read alone: --alone, or JSONL input (each record its own document); the lines of a
    plain-text file are read as one document."""
    from mtfix.text.formats import guess_format

    return args.alone or guess_format(args.input, args.input_format) == "jsonl"


# --conservative --round-trip: the span decoder's settings for round-trip articles, chosen on synthetic dev
# (docs/decisions.md); its defaults are chosen on MLQE-PE dev, where edits without the
# source hurt
ROUND_TRIP = {"min_score": 0.7, "swap_score": 0.7}


def round_trip_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--conservative", action="store_true",
                   help="for one-way MT where the source is the authority: the MiniLM span decoder "
                        "(models/corrector) at its bar chosen on MLQE-PE dev, which edits far less than the "
                        "default LM corrector (models/rewriter)")
    p.add_argument("--round-trip", action="store_true",
                   help="the default's behaviour (round-trip articles); with --conservative: the span decoder "
                        "at --min-score 0.7 --swap-score 0.7, unless given")


def apply_round_trip(args: argparse.Namespace) -> None:
    """--conservative chooses the span decoder (a --corrector of its own); --round-trip with it fills in the
    decoder's round-trip settings that were not given."""
    if not getattr(args, "conservative", False):
        return
    from mtfix.models import shipped_corrector

    if getattr(args, "corrector", None):
        raise InputError("--conservative is the shipped span decoder: give it or --corrector, not both")
    if shipped_corrector() is None:
        raise InputError("--conservative needs the span decoder in models/corrector, and there is none")
    args.corrector = str(shipped_corrector())
    if getattr(args, "round_trip", False):
        for name, value in ROUND_TRIP.items():
            if getattr(args, name, None) is None:
                setattr(args, name, value)


PROBABILITIES = ("threshold", "min_score", "swap_score", "lm_gate", "max_mt_probability")


AT_LEAST_ONE = ("batch_size", "workers", "chunk_size", "max_clean", "max_text_length")


AT_LEAST_ZERO = ("bootstrap", "synthetic", "apertium_per_pivot", "max_density", "seed")


def check_options(args: argparse.Namespace) -> None:
    """Numbers out of range give a one-line error before any model loads (never a traceback later)."""
    def flag(name: str) -> str:
        return "--" + name.replace("_", "-")

    for name in PROBABILITIES:
        value = getattr(args, name, None)
        if value is not None and not 0.0 <= value <= 1.0:  # (NaN fails this too)
            raise InputError(f"{flag(name)} is a probability: give a value from 0 to 1, not {value:g}")
    if getattr(args, "lm_gate", None) is not None and (getattr(args, "fast", False)
                                                       or getattr(args, "method", None) not in (None, "fused")):
        raise InputError("--lm-gate is the fused detector's (it decides which segments the language model reads): "
                         "it goes with neither --fast nor another --method")
    for names, low in ((AT_LEAST_ONE, 1), (AT_LEAST_ZERO, 0)):
        for name in names:
            value = getattr(args, name, None)
            if value is not None and not value >= low:
                raise InputError(f"{flag(name)} must be at least {low}, not {value:g}")
    if getattr(args, "review", False):
        apply_review(args)


def apply_review(args: argparse.Namespace) -> None:
    """--review: the fused detector's review point (its review threshold, for text read alone where the input is,
    every segment read by the LM)."""
    from mtfix.detect import review_point

    if args.threshold is not None or args.lm_gate is not None:
        raise InputError("--review sets the threshold and the LM gate itself: give it without --threshold and "
                         "--lm-gate")
    if args.fast or args.method not in (None, "fused"):
        raise InputError("--review is a point of the fused detector: it goes with neither --fast nor another "
                         "--method")
    args.threshold, args.lm_gate = review_point(args.model, read_alone(args))


ALONE_HELP = ("read each segment alone. By default the lines of a plain-text file are read as one document, each "
              "after the sentences before it, where the detector was fitted to read them so (records of JSONL, "
              "and for clean of CSV, parquet and datasets, are each read alone): give --alone for a file of "
              "unrelated sentences. Text read alone is flagged at "
              "the detector's threshold for it (higher: SmolLM2 finds a sentence without its context less fluent)")


def model_options(p: argparse.ArgumentParser) -> None:
    """The options that choose the models, shared by fix and clean."""
    p.add_argument("--fast", action="store_true", help="detect with the tagger alone (no language model)")
    p.add_argument("--method", default=None, choices=list(METHODS), help="detection method (as in detect)")
    p.add_argument("--threshold", type=float, default=None, help="detection threshold (as in detect)")
    p.add_argument("--lm-gate", type=float, default=None, metavar="P",
                   help="the fused detector's language-model gate (as in detect)")
    p.add_argument("--alone", action="store_true", help=ALONE_HELP)
    p.add_argument("--model", help="a trained detector folder instead of models/detector")
    p.add_argument("--corrector", help="a trained corrector folder (LM rewriter adapters, or a span decoder) "
                                       "instead of models/rewriter")
    p.add_argument("--batch-size", type=int, default=32, help="segments per batch (default 32)")
    device_option(p)


def review_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--review", action="store_true",
                   help="the review point, for one article under your eyes: every segment read by the language "
                        "model and a lower threshold (fitted at 10 flags per 1,000 words of clean news, against "
                        "the default's 2.25): more of the wrong-sense words, more false flags to pass over")


def device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", metavar="{auto,cpu,cuda}",
                   help="where the models run: auto (default) is a CUDA GPU where there is one, else the CPU; "
                        "cuda or cuda:N asks for a GPU (an error where there is none)")
