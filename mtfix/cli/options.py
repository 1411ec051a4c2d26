"""What several commands share: the options of the stages' settings (mtfix.settings, where each is described and
checked), reading alone, and the checks of the numbers of the commands without settings (data, score)."""
from __future__ import annotations

import argparse

from mtfix.errors import InputError
from mtfix.settings import CorrectSettings, DetectSettings


def read_alone(args: argparse.Namespace) -> bool:
    """Whether each segment is read alone: --alone, or JSONL input (each record its own document); the lines of a
    plain-text file are read as one document."""
    from mtfix.text.formats import guess_format

    return args.alone or guess_format(args.input, args.input_format) == "jsonl"


def detect_settings(args: argparse.Namespace) -> DetectSettings:
    """detect's and fix's detector settings, reading alone where the input says so (read_alone)."""
    return DetectSettings.from_args(args, alone=read_alone(args))


def correct_settings(args: argparse.Namespace) -> CorrectSettings:
    """The corrector's settings, --conservative made explicit (the shipped span decoder and its bars)."""
    return CorrectSettings.from_args(args).resolved()


MODELS = ("fast", "method", "threshold", "lm_gate", "alone", "model", "batch_size", "device")


AS_IN_DETECT = {"method": "detection method (as in detect)", "threshold": "detection threshold (as in detect)",
                "lm_gate": "the fused detector's language-model gate (as in detect)",
                "fast": "detect with the tagger alone (no language model)",
                "model": "a trained detector folder instead of models/detector"}


def model_options(p: argparse.ArgumentParser) -> None:
    """The options that choose the models, shared by fix and clean (described in full by detect --help)."""
    DetectSettings.options(p, MODELS, **AS_IN_DETECT)
    CorrectSettings.options(p, ("corrector",))


NUMBERS = {"probability": ("threshold",), "positive": ("max_clean",),
           "count": ("bootstrap", "synthetic", "apertium_per_pivot", "seed")}


def check_numbers(args: argparse.Namespace) -> None:
    """The numbers of data and score (the stages' are checked by their settings): a one-line error before any
    work starts."""
    def flag(name: str) -> str:
        return "--" + name.replace("_", "-")

    for name in NUMBERS["probability"]:
        value = getattr(args, name, None)
        if value is not None and not 0.0 <= value <= 1.0:  # (NaN fails this too)
            raise InputError(f"{flag(name)} is a probability: give a value from 0 to 1, not {value:g}")
    for kind, low in (("positive", 1), ("count", 0)):
        for name in NUMBERS[kind]:
            value = getattr(args, name, None)
            if value is not None and not value >= low:
                raise InputError(f"{flag(name)} must be at least {low}, not {value:g}")
