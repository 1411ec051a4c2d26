"""mtfix: find and repair machine-translation artifacts in English text. ``mtfix.load()`` (mtfix.api.load) returns
one object whose ``detect``, ``correct`` and ``fix`` run the stages; it is imported on first use, since it imports
torch."""
from __future__ import annotations

from typing import Any

from mtfix.text.spans import Edit, OverlapError, Span, apply_edits

__version__ = "0.1.0"
__all__ = ["Edit", "OverlapError", "Span", "apply_edits", "load", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "load":
        from mtfix.api import load

        return load
    raise AttributeError(f"module 'mtfix' has no attribute {name!r}")
