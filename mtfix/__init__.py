"""mtfix: find and repair machine-translation artifacts in English text."""
from __future__ import annotations

__version__ = "0.1.0"

from mtfix.text.spans import Edit, OverlapError, Span, apply_edits  # noqa: E402


def load(method: str | None = None, threshold: float | None = None, model: str | None = None,
         batch_size: int = 32, fast: bool = False, corrector: str | None = None,
         min_score: float | None = None, swap_score: float | None = None, lm_gate: float | None = None,
         device: str | None = "auto", review: bool = False, alone: bool = False):  # type: ignore[no-untyped-def]
    """Load mtfix offline: the shipped fused detector (``fast``: the tagger alone; ``review``: its review point),
    the corrector (models/rewriter, or the folder ``corrector``) on first use, on ``device`` (auto, cpu or cuda).
    The returned object has ``detect(texts) -> list[list[Span]]``, ``correct(text, spans) -> list[Edit]`` and
    ``fix(texts) -> list[Fixed]``. The options are mtfix.api.load's (which this imports only when called)."""
    from mtfix.api import load as _load

    return _load(method, threshold, model, batch_size, fast, corrector, min_score, swap_score=swap_score,
                 lm_gate=lm_gate, device=device, review=review, alone=alone)


__all__ = ["Edit", "OverlapError", "Span", "apply_edits", "load", "__version__"]
