"""The settings of each stage in one place: frozen dataclasses, checked once when made (a one-line InputError, never
a traceback later). The command line's options and the keywords of ``mtfix.load`` are derived from their fields;
clean's and serve's settings are the detector's and the corrector's plus their own."""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields, replace
from typing import Any

from mtfix.errors import InputError

METHODS = ("fused", "model", "spell", "lm", "all-ok", "all-bad")


POLICIES = ("annotate", "fix", "filter")

ALONE_HELP = ("read each segment alone. By default the lines of a plain-text file are read as one document, each "
              "after the sentences before it, where the detector was fitted to read them so (records of JSONL, "
              "and for clean of CSV, parquet and datasets, are each read alone): give --alone for a file of "
              "unrelated sentences. Text read alone is flagged at "
              "the detector's threshold for it (higher: SmolLM2 finds a sentence without its context less fluent)")


def setting(default: Any, help: str, kind: str = "", **option: Any) -> Any:
    """A field with its command-line help; ``kind`` ('probability', 'positive', 'count') is checked when the settings
    are made; ``option``: more of argparse's keywords (choices, metavar)."""
    return field(default=default, metadata={"help": help, "kind": kind, "option": option})


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What every stage's settings share: checked when made, options derived from the fields."""

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        for f in fields(self):
            value, kind = getattr(self, f.name), f.metadata.get("kind")
            if value is None or not kind:
                continue
            if kind == "probability" and not 0.0 <= value <= 1.0:  # (NaN fails this too)
                raise InputError(f"{flag(f.name)} is a probability: give a value from 0 to 1, not {value:g}")
            low = {"positive": 1, "count": 0}.get(kind)
            if low is not None and not value >= low:
                raise InputError(f"{flag(f.name)} must be at least {low}, not {value:g}")

    @classmethod
    def from_args(cls, args: argparse.Namespace, **given: Any) -> Any:
        """The settings a command's parsed options give (``given`` wins; fields the command has no option for keep
        their defaults)."""
        found = {f.name: getattr(args, f.name) for f in fields(cls) if f.init and hasattr(args, f.name)}
        return cls(**{**found, **given})

    @classmethod
    def options(cls, parser: argparse.ArgumentParser, names: tuple[str, ...], **helps: str) -> None:
        """Add the options of fields ``names`` to ``parser`` (``helps``: a command's own words for some)."""
        by_name = {f.name: f for f in fields(cls)}
        for name in names:
            f = by_name[name]
            help = helps.get(name, f.metadata["help"])
            if isinstance(f.default, bool):
                parser.add_argument(flag(name), action="store_true", help=help)
                continue
            kind = f.metadata["kind"]
            typed = float if kind == "probability" else type(f.default) if isinstance(f.default, (int, float)) \
                else int if kind in ("positive", "count") else str
            parser.add_argument(flag(name), type=typed, default=f.default, help=help, **f.metadata["option"])


@dataclass(frozen=True, kw_only=True)
class DetectSettings(Settings):
    """Which detector reads the text, at which operating point, on which device."""

    method: str | None = setting(None, "fused (the default): the tagger in models/detector with SmolLM2 "
                                 "language-model evidence and candidate contrast, each span saying which evidence "
                                 "fired; model: the tagger alone (what --fast picks, about 30 times the words per "
                                 "second: bench_detect.py); spell: words missing from an English lexicon (the "
                                 "baseline); lm: zero-shot SmolLM2 surprisal (score = nats / 16, so 0.5 flags words "
                                 "above 8 nats); all-ok / all-bad: flag nothing / every word (trivial baselines)",
                                 choices=list(METHODS))
    fast: bool = setting(False, "the tagger alone, without the language model: faster, blind to most wrong-sense "
                                "words")
    model: str | None = setting(None, "a trained detector folder to use instead of models/detector (for fused, "
                                      "with its fusion head in FOLDER/fused)")
    threshold: float | None = setting(None, "flag words whose calibrated probability reaches this (default: the "
                                      "model's own, chosen on clean news to keep unseen clean news under 3 flags "
                                      "per 1,000 words: fitted at 2.25 on 190,000 dev and train news words for the "
                                      "fused detector, at 3 on dev news for --fast; the fused detector's follows "
                                      "the document, as its points.json says, on text read in context: for the "
                                      "shipped one, from an MT probability of 0.8 the words scored by its head "
                                      "for translated documents and flagged from 0.325, 0.40 under it, every pivot "
                                      "sibling of a surprising word tried there; a threshold given reads with the "
                                      "fusion head and the three most frequent)",
                                      "probability")
    lm_gate: float | None = setting(None, "the fused detector reads a segment with the language model only where "
                                    "the tagger's highest P(BAD) in it reaches P; elsewhere the tagger's own P(BAD) "
                                    "stands (default: the model's own; the shipped model's is 0: the language model "
                                    "reads every segment, since wrong-sense words sit in lines the tagger finds "
                                    "clean; a gate such as 0.15 spares it about half of clean news, for speed over "
                                    "recall)", "probability", metavar="P")
    alone: bool = setting(False, ALONE_HELP)
    review: bool = setting(False, "the review point, for one article under your eyes: every segment read by the "
                                  "language model and a lower threshold (fitted at 10 flags per 1,000 words of "
                                  "clean news, against the default's 2.25): more of the wrong-sense words, more "
                                  "false flags to pass over; one threshold for any document, so in an article "
                                  "that reads as translated the default, which follows it, may flag more")
    batch_size: int = setting(32, "segments per batch (default 32)", "positive")
    device: str = setting("auto", "where the models run: auto (default) is a CUDA GPU where there is one, else the "
                                  "CPU; cuda or cuda:N asks for a GPU (an error where there is none)",
                          metavar="{auto,cpu,cuda}")

    def check(self) -> None:
        super().check()
        other = self.method not in (None, "fused")
        if self.fast and self.method not in (None, "model"):
            raise InputError("--fast is the tagger alone: it goes with no --method, or --method model")
        if self.lm_gate is not None and (self.fast or other):
            raise InputError("--lm-gate is the fused detector's (it decides which segments the language model "
                             "reads): it goes with neither --fast nor another --method")
        if self.review and (self.threshold is not None or self.lm_gate is not None):
            raise InputError("--review sets the threshold and the LM gate itself: give it without --threshold and "
                             "--lm-gate")
        if self.review and (self.fast or other):
            raise InputError("--review is a point of the fused detector: it goes with neither --fast nor another "
                             "--method")


@dataclass(frozen=True, kw_only=True)
class CorrectSettings(Settings):
    """Which corrector proposes the fixes, and its bars."""

    corrector: str | None = setting(None, "a trained corrector folder (LM rewriter adapters, or a span decoder) "
                                          "instead of models/rewriter")
    min_score: float | None = setting(None, "propose an edit only when its calibrated probability of being right "
                                      "reaches this (default: the corrector's own, chosen on dev, lower in a "
                                      "document that reads as translated where the detector's threshold drops "
                                      "too; a bar given stands everywhere)", "probability")
    swap_score: float | None = setting(None, "the bar for meaning swaps (a content word put in place of an "
                                       "unrelated one: 'guides' -> 'leaders'), where above --min-score: raise it to "
                                       "keep the words as translated (default: the corrector's own, chosen on dev; "
                                       "the LM rewriter's is its --min-score)", "probability")
    conservative: bool = setting(False, "for one-way MT where the source is the authority: the MiniLM span "
                                        "decoder (models/corrector) at its bar chosen on MLQE-PE dev, which edits "
                                        "far less than the default LM corrector (models/rewriter)")
    round_trip: bool = setting(False, "the default's behaviour (round-trip articles); with --conservative: the "
                                      "span decoder at its round-trip bars (models/corrector/points.json: "
                                      "--min-score 0.7 --swap-score 0.7), unless given")

    def check(self) -> None:
        super().check()
        if self.conservative and self.corrector:
            raise InputError("--conservative is the shipped span decoder: give it or --corrector, not both")

    def resolved(self) -> CorrectSettings:
        """--conservative made explicit: the shipped span decoder as --corrector, and with --round-trip the
        decoder's round-trip bars where none were given."""
        if not self.conservative:
            return self
        from mtfix.models import shipped_corrector
        from mtfix.points import read_points

        folder = shipped_corrector()
        if folder is None:
            raise InputError("--conservative needs the span decoder in models/corrector, and there is none")
        bars = {}
        if self.round_trip:  # the decoder's round-trip bars (points.json), chosen on synthetic dev
            points = read_points(folder)
            bars = {k: points[f"round_trip_{k}"] for k in ("min_score", "swap_score")
                    if getattr(self, k) is None and f"round_trip_{k}" in points}
        return replace(self, corrector=str(folder), conservative=False, round_trip=False, **bars)


@dataclass(frozen=True, kw_only=True)
class CleanSettings(DetectSettings, CorrectSettings):
    """What a `mtfix clean` run is asked to do: the detector's and the corrector's settings (with --conservative
    made explicit, CorrectSettings.resolved) and clean's own (the run's: mtfix.clean.CleanConfig)."""

    input: str
    output: str
    input_format: str = setting("auto", "", choices=["auto", "jsonl", "text", "csv", "parquet", "dataset"])
    output_format: str = setting("auto", "auto: as OUT's extension, else as the input (see -o); text writes the "
                                 "fixed text alone, one line per input record (--policy fix or filter: plain text "
                                 "cannot hold spans)", choices=["auto", "jsonl", "text", "csv", "parquet", "dataset"])
    text_field: str = setting("text", "the field or column holding the text (default: text)")
    policy: str = setting("annotate", "annotate: add the fields only (default); fix: also replace the text by the "
                          "fixed text (edits scoring at least --min-score; the original kept in "
                          "original_TEXTFIELD); filter: route records above --max-density (or "
                          "--max-mt-probability) to OUT.filtered (same format)", choices=list(POLICIES))
    suggest: bool = setting(False, "annotate/filter: run the corrector too and add its edits")
    max_density: float = setting(10.0, "filter: records with more flagged words per 100 than this are filtered "
                                       "(default 10)", "count")
    max_mt_probability: float | None = setting(
        None, "filter: also filter the documents whose MT probability (mt_probability: the calibrated probability "
              "that the document went through machine translation) is above P; each record of JSONL, CSV, parquet "
              "or a dataset is a document, a plain-text input (without --alone) one document whole", "probability",
        metavar="P")
    chunk_size: int = setting(64, "records per checkpointed chunk (default 64)", "positive")
    workers: int = setting(1, "worker processes, each loading the models once (at most one per core, and as many "
                              "as free memory holds)", "positive")
    engine: str = setting("local", "local (default), or ray: the same pipeline on Ray Data, --workers actors",
                          choices=["local", "ray"])
    ray_address: str | None = setting(None, "a Ray cluster to join (default: a local Ray instance)")
    restart: bool = setting(False, "ignore (and remove) an existing checkpoint")

    def check(self) -> None:
        super().check()
        if self.policy not in POLICIES:
            raise InputError(f"unknown policy {self.policy!r}; choose one of {', '.join(POLICIES)}")
        if self.engine not in ("local", "ray"):
            raise InputError(f"unknown engine {self.engine!r}; choose local or ray")
        if self.max_mt_probability is not None and self.policy != "filter":
            raise InputError("--max-mt-probability says which documents --policy filter routes: give --policy filter")


@dataclass(frozen=True, kw_only=True)
class ServeSettings(DetectSettings, CorrectSettings):
    """What `mtfix serve` is asked to do: the detector's and the corrector's settings and the server's own."""

    host: str = setting("127.0.0.1", "the address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 for "
                                     "every interface)")
    port: int = setting(8081, "the port (default 8081, LanguageTool's own)")
    no_fix: bool = setting(False, "flags only, with the detector's own candidates as replacements (no corrector: "
                                  "faster)")
    workers: int = setting(1, "server processes, each loading the models (at most one per core)", "positive")
    max_text_length: int = setting(50_000, "the longest text accepted, in UTF-16 units as LanguageTool counts "
                                           "(default 50000)", "positive")
    allow_origin: str = setting("*", "the Access-Control-Allow-Origin for browser clients (default *)")

    def check(self) -> None:
        super().check()
        if not 0 < self.port < 65536:
            raise InputError(f"--port must be from 1 to 65535, not {self.port}")


def split(options: dict[str, Any]) -> tuple[DetectSettings, CorrectSettings]:
    """The detector's and the corrector's settings from keywords (mtfix.load's); an unknown keyword is a
    TypeError, as for any Python function."""
    detect = {f.name for f in fields(DetectSettings)}
    correct = {f.name for f in fields(CorrectSettings)}
    unknown = sorted(set(options) - detect - correct)
    if unknown:
        raise TypeError(f"load() got an unexpected keyword argument {unknown[0]!r}")
    return (DetectSettings(**{k: v for k, v in options.items() if k in detect}),
            CorrectSettings(**{k: v for k, v in options.items() if k in correct}))
