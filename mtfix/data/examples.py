"""A labelled example of the data set, and its splits."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SPLITS = ("train", "dev", "test")


@dataclass
class Example:
    text: str
    spans: list[dict[str, Any]]
    reference: str
    source: str

    def to_row(self) -> dict[str, Any]:
        return {"text": self.text, "spans": self.spans, "reference": self.reference, "source": self.source}
