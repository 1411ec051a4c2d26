"""The Python API: `mtfix.load()` returns one object whose verbs run the stages."""
from __future__ import annotations

from typing import Sequence

from .detect import Detector, default_method, get_detector
from .spans import Span


class MTFix:
    """Detects MT artifacts (the corrector's `correct` and `fix` arrive with issue #6)."""

    def __init__(self, detector: Detector) -> None:
        self.detector = detector

    def detect(self, texts: Sequence[str] | str) -> list[list[Span]]:
        """Flagged spans for each text (a single string is taken as one text)."""
        if isinstance(texts, str):
            texts = [texts]
        return self.detector.detect(list(texts))


def load(method: str | None = None, threshold: float | None = None, model: str | None = None,
         batch_size: int = 32, fast: bool = False) -> MTFix:
    """Load mtfix offline: the shipped fused detector by default (``fast``: the tagger alone), or ``method``
    ('fused', 'model', 'spell', 'lm', ...)."""
    return MTFix(get_detector(method or default_method(fast, model), threshold, model, batch_size))
