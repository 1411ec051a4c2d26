"""Detection: pick a detector and run it over segments, in batches."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator, Protocol, Sequence

from .errors import NotBuiltError
from .formats import Document, Segment
from .spans import Span
from .text import tokenize

METHODS = ("spell", "all-ok", "all-bad", "model", "lm")


class Detector(Protocol):
    name: str

    def detect(self, texts: Sequence[str]) -> list[list[Span]]: ...


class ConstantDetector:
    """The trivial baselines: flag every word (all-bad) or none (all-ok)."""

    def __init__(self, bad: bool) -> None:
        self.name = "all-bad" if bad else "all-ok"
        self.bad = bad

    def detect(self, texts: Sequence[str]) -> list[list[Span]]:
        if not self.bad:
            return [[] for _ in texts]
        return [[Span(t.start, t.end, "artifact", 1.0) for t in tokenize(text)] for text in texts]


MODELS = Path(os.environ.get("MTFIX_MODELS", Path(__file__).resolve().parents[1] / "models"))


def shipped_detector() -> Path | None:
    """The shipped detector's folder, if there is one."""
    path = MODELS / "detector"
    return path if (path / "config.json").exists() else None


def default_method() -> str:
    return "model" if shipped_detector() else "spell"


def get_detector(method: str = "spell", threshold: float | None = None, model_path: str | None = None,
                 batch_size: int = 32) -> Detector:
    """The detector for ``method``; ``threshold`` None keeps the detector's own default."""
    if method in ("all-ok", "all-bad"):
        return ConstantDetector(method == "all-bad")
    if method == "spell":
        from .spell import SpellDetector

        return SpellDetector()
    if method == "model":
        path = Path(model_path) if model_path else shipped_detector()
        if path is None or not (path / "config.json").exists():
            raise NotBuiltError(f"no trained detector at {path or MODELS / 'detector'}; use --method spell "
                                "or train one with 'mtfix train detector'")
        from .tagger import TaggerDetector

        return TaggerDetector.load(str(path), threshold=threshold, batch_size=batch_size)
    if method == "lm":
        from .lm import LMDetector

        return LMDetector(threshold=0.5 if threshold is None else threshold)
    raise NotBuiltError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def detect_segments(detector: Detector, segments: Iterable[Segment], batch_size: int = 32,
                    threshold: float = 0.0) -> Iterator[tuple[Segment, Document | None]]:
    """Each readable segment with its detection result, in input order; unreadable ones with None."""
    batch: list[Segment] = []

    def flush() -> Iterator[tuple[Segment, Document | None]]:
        texts = [s.text for s in batch if s.text is not None]
        found = iter(detector.detect(texts)) if texts else iter(())
        for seg in batch:
            if seg.text is None:
                yield seg, None
            else:
                spans = [s for s in next(found) if s.score >= threshold]
                doc_id = seg.record.get("id") if seg.record else None
                yield seg, Document(seg.text, spans, id=doc_id)
        batch.clear()

    for segment in segments:
        batch.append(segment)
        if len(batch) >= batch_size:
            yield from flush()
    yield from flush()
