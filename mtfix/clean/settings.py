"""What a `mtfix clean` run is asked to do (CleanConfig), and the limits the machine sets on it."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtfix.clean.corpus import digest_files, format_of_name, guess_format
from mtfix.errors import InputError
from mtfix.settings import CleanSettings, CorrectSettings, DetectSettings

GIB = 1 << 30


WORKER_MEMORY = {"fast": 1 * GIB, "full": 2 * GIB}  # what one worker holds with its models, with room to spare


@dataclass(frozen=True, kw_only=True)
class CleanConfig(CleanSettings):
    """A `mtfix clean` run's settings (mtfix.settings.CleanSettings), with what the run derives from them: its
    journal's key, the fields it writes, the detector's document head."""

    def check(self) -> None:
        super().check()
        if self.max_mt_probability is not None and self.document_head() is None:
            raise InputError("--max-mt-probability needs a detector with a document head (document.json beside "
                             "the model): the fused detector or --fast, not a baseline")

    def settings(self) -> dict[str, Any]:
        """Every option that can change an output byte: a journal written under other settings is not reused
        (the batch size is one: padding moves the models' scores in their last digits)."""
        from mtfix.device import resolve

        keys = ("text_field", "policy", "suggest", "min_score", "swap_score", "max_density", "max_mt_probability",
                "chunk_size", "fast",
                "method", "threshold", "lm_gate", "model", "corrector", "input_format", "output_format",
                "batch_size")
        # the device the models run on, as resolved (a GPU's scores differ from the CPU's in their last digits);
        # --alone only where given, so that a journal written before the option existed is still resumed; the
        # records of CSV, parquet and datasets inputs were read as one document before they were read alone
        # a plain-text input read as one document: a journal from before each chunk carried the text before it
        # (its first lines were read with nothing before them) is not resumed
        return {**{k: getattr(self, k) for k in keys}, "device": resolve(self.device), "models": self.models(),
                "threads": self.threads(), "dictionary": self.dictionary(), "precision": self.precision(),
                **({"alone": True} if self.alone else {}),
                **({"records_alone": True} if self.records_format() else {}),
                **({"chunk_context": True} if not self.reads_alone() else {})}

    def models(self) -> str:
        """A digest of the model files the run reads (model cards left out): the detector's folder, and the
        correctors' where it corrects (--policy fix, --suggest). Weights or thresholds changed under a journal (a
        newer mtfix, a model trained again) would give its later chunks other outputs than its earlier ones, so
        such a journal is not resumed."""
        from mtfix.models import MODELS

        folders = [Path(self.model) if self.model else MODELS / "detector"]
        if self.corrects():
            folders += [Path(self.corrector)] if self.corrector else [MODELS / "rewriter", MODELS / "corrector"]
        return digest_files((str(f.relative_to(folder)), f) for folder in folders if folder.is_dir()
                            for f in sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix != ".md"))

    def corrects(self) -> bool:
        """Whether the run corrects as well as detects (--policy fix, or --suggest)."""
        return self.policy == "fix" or self.suggest

    def detect_settings(self) -> DetectSettings:
        """The detector's settings of this run, reading each record alone where reads_alone says so."""
        return DetectSettings.from_args(self, alone=self.reads_alone())

    def correct_settings(self) -> CorrectSettings:
        return CorrectSettings.from_args(self)

    def precision(self) -> str:
        """The precision the tagger and SmolLM2 run in on the CPU (bf16 where it is native, or as
        MTFIX_TAGGER_DTYPE and MTFIX_LM_DTYPE say): scores differ in their last digits between them."""
        from mtfix.detect.lm import lm_dtype
        from mtfix.detect.tagger import tagger_dtype

        return f"tagger {str(tagger_dtype()).removeprefix('torch.')}, lm {str(lm_dtype()).removeprefix('torch.')}"

    def threads(self) -> int:
        """The threads each worker process's models run on (the engine and --workers decide it; one process
        alone keeps torch's own): sums over other thread counts round differently in their last digits, so a
        journal is resumed only with the same count."""
        if self.engine == "ray":
            return 1
        return max(1, (os.cpu_count() or 1) // max(1, self.workers))

    def dictionary(self) -> str:
        """A digest of the English-German dictionary the candidates come from ("missing" without it): a
        dictionary installed or changed under a journal gives its later chunks other outputs."""
        from mtfix.detect.pivot import DICT_PATH

        if not DICT_PATH.is_file():
            return "missing"
        return digest_files([("de-en", DICT_PATH)])

    def owned(self) -> list[str]:
        """The fields this run writes into each record: an input field of the same name would be overwritten, so
        such input is refused (CSV, parquet, datasets) or its records rejected whole (JSONL)."""
        fields = ["spans", "density"] + (["mt_probability"] if self.document_head() is not None else [])
        if self.corrects():
            fields += ["edits", "fixed"]
        if self.policy == "fix":
            fields.append(f"original_{self.text_field}")
        return fields

    def document_head(self) -> Any:
        """The document head of the detector this run loads (detect.document): the fused detector's, or the
        tagger's with --fast; None for the baselines, or a detector folder without one."""
        from mtfix.detect import default_method
        from mtfix.detect.document import load_heads
        from mtfix.models import shipped_detector

        method = self.method or default_method(self.fast, self.model)
        if method not in ("fused", "model"):
            return None
        folder = Path(self.model) if self.model else shipped_detector()
        return load_heads(folder).get("fused" if method == "fused" else "fast")

    def records_format(self) -> bool:
        """Whether the input is a corpus of records other than JSONL (CSV, parquet, a datasets dataset)."""
        try:
            return guess_format(self.input, self.input_format) in ("csv", "parquet", "dataset")
        except InputError:  # a folder that is no dataset: refused when the input is opened
            return False

    def reads_alone(self) -> bool:
        """Whether each record is read alone: --alone, or an input of records (JSONL, CSV, parquet, datasets),
        each its own document; the lines of a plain-text input are read as one document."""
        return self.alone or guess_format(self.input, self.input_format) != "text"


def output_format(config: CleanConfig) -> str:
    """--output-format, else the format OUT's extension names, else the input's (plain text: JSONL, unless the
    policy is fix, whose output is the fixed text)."""
    if config.output_format != "auto":
        return config.output_format
    named = format_of_name(config.output)
    if named is not None and not Path(config.output).is_dir():
        return named
    fmt = guess_format(config.input, config.input_format)
    if fmt == "text":
        return "text" if config.policy == "fix" else "jsonl"
    return fmt


def most_workers(fast: bool) -> int:
    """How many worker processes this machine can hold: one per core, and as many as free memory allows."""
    cores = os.cpu_count() or 1
    try:
        with open("/proc/meminfo") as info:
            free = next(int(line.split()[1]) * 1024 for line in info if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return cores
    return max(1, min(cores, free // WORKER_MEMORY["fast" if fast else "full"]))


def check_workers(workers: int, fast: bool) -> None:
    """Refuse, in one line, more worker processes than this machine can hold (see most_workers)."""
    if workers < 1:
        raise InputError(f"--workers must be at least 1, not {workers}")
    cap = most_workers(fast)
    if workers > cap:
        raise InputError(f"--workers {workers} is more than this machine can run: at most {cap} "
                         f"({os.cpu_count()} cores, each worker needs about "
                         f"{WORKER_MEMORY['fast' if fast else 'full'] // GIB} GiB of free memory)")
