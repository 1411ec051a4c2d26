"""mtfix: find and repair machine-translation artifacts in English text."""
from __future__ import annotations

__version__ = "0.1.0"

from mtfix.text.spans import Edit, OverlapError, Span, apply_edits  # noqa: E402


def load(method: str | None = None, threshold: float | None = None, model: str | None = None,
         batch_size: int = 32, fast: bool = False, corrector: str | None = None,
         min_score: float | None = None):  # type: ignore[no-untyped-def]
    """Load mtfix offline (the fused detector; ``fast``: the tagger alone; the corrector in models/corrector, or
    the folder ``corrector``, on first use). The returned object has ``detect(texts) -> list[list[Span]]``,
    ``correct(text, spans) -> list[Edit]`` and ``fix(texts) -> list[Fixed]``."""
    from mtfix.api import load as _load

    return _load(method, threshold, model, batch_size, fast, corrector, min_score)


__all__ = ["Edit", "OverlapError", "Span", "apply_edits", "load", "__version__"]
