"""mtfix: find and repair machine-translation artifacts in English text."""
from __future__ import annotations

__version__ = "0.1.0"

from .spans import Edit, OverlapError, Span, apply_edits  # noqa: E402

__all__ = ["Edit", "OverlapError", "Span", "apply_edits", "__version__"]
