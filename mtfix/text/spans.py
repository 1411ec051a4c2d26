"""Spans and edits: the one currency between stages, as character offsets into the original text."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

if TYPE_CHECKING:
    from mtfix.text.tokens import Token


class OverlapError(ValueError):
    """Two edits touch the same characters, so applying both is ambiguous."""


@dataclass(frozen=True)
class Span:
    """A flagged region ``text[start:end]``; zero width marks a place where something is missing."""

    start: int
    end: int
    label: str = "artifact"
    score: float = 1.0
    fixes: tuple[str, ...] | None = None  # gold only: acceptable replacements, () = any change counts
    evidence: dict[str, Any] | None = field(default=None, compare=False)
    class_name: str | None = field(default=None, compare=False)  # what kind of artifact (mtfix.detect.classes)
    class_p: float | None = field(default=None, compare=False)    # the class head's probability of it

    def __post_init__(self) -> None:
        if not (isinstance(self.start, int) and isinstance(self.end, int)):
            raise ValueError(f"span offsets must be integers, got {self.start!r}, {self.end!r}")
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"bad span offsets [{self.start}, {self.end})")
        if self.fixes is not None and not isinstance(self.fixes, tuple):
            object.__setattr__(self, "fixes", tuple(self.fixes))

    def to_json(self, text: str | None = None) -> dict[str, Any]:
        """A JSON-ready dict; with ``text`` the covered string is included."""
        out: dict[str, Any] = {"start": self.start, "end": self.end}
        if text is not None:
            out["text"] = text[self.start:self.end]
        out["label"] = self.label
        out["score"] = round(float(self.score), 6)
        if self.fixes is not None:
            out["fixes"] = list(self.fixes)
        if self.class_name is not None:
            out["class"] = self.class_name
            out["class_p"] = self.class_p
        if self.evidence is not None:
            out["evidence"] = self.evidence
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "Span":
        fixes = obj.get("fixes")
        return cls(
            start=int(obj["start"]),
            end=int(obj["end"]),
            label=str(obj.get("label", "artifact")),
            score=float(obj.get("score", 1.0)),
            fixes=tuple(str(f) for f in fixes) if fixes is not None else None,
            evidence=obj.get("evidence"),
            class_name=str(obj["class"]) if obj.get("class") is not None else None,
            class_p=float(obj["class_p"]) if obj.get("class_p") is not None else None,
        )


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` by ``replacement``; zero width inserts, empty replacement deletes."""

    start: int
    end: int
    replacement: str
    score: float = 1.0
    alternatives: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (isinstance(self.start, int) and isinstance(self.end, int)):
            raise ValueError(f"edit offsets must be integers, got {self.start!r}, {self.end!r}")
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"bad edit offsets [{self.start}, {self.end})")
        if not isinstance(self.alternatives, tuple):
            object.__setattr__(self, "alternatives", tuple(self.alternatives))

    def to_json(self, text: str | None = None) -> dict[str, Any]:
        """A JSON-ready dict; with ``text`` the original string is included."""
        out: dict[str, Any] = {"start": self.start, "end": self.end}
        if text is not None:
            out["original"] = text[self.start:self.end]
        out["replacement"] = self.replacement
        out["score"] = round(float(self.score), 6)
        out["alternatives"] = list(self.alternatives)
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "Edit":
        return cls(
            start=int(obj["start"]),
            end=int(obj["end"]),
            replacement=str(obj["replacement"]),
            score=float(obj.get("score", 1.0)),
            alternatives=tuple(str(a) for a in obj.get("alternatives", ())),
        )


def check_offsets(text: str, items: Iterable[Span | Edit], what: str = "span") -> None:
    """Raise ValueError when an item lies outside ``text``."""
    for item in items:
        if item.end > len(text):
            raise ValueError(f"{what} [{item.start}, {item.end}) lies outside a text of {len(text)} characters")


def _sorted_checked(text: str, edits: Sequence[Edit]) -> list[Edit]:
    check_offsets(text, edits, "edit")
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    for prev, cur in zip(ordered, ordered[1:]):
        overlapping = cur.start < prev.end
        same_insert_point = prev.start == prev.end == cur.start == cur.end
        if overlapping or same_insert_point:
            raise OverlapError(
                f"edits [{prev.start}, {prev.end}) and [{cur.start}, {cur.end}) overlap; apply them one at a time"
            )
    return ordered


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping edits; every character outside them comes back unchanged."""
    pieces: list[str] = []
    cursor = 0
    for edit in _sorted_checked(text, edits):
        pieces.append(text[cursor:edit.start])
        pieces.append(edit.replacement)
        cursor = edit.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def gold_edits(spans: Sequence[Span]) -> list[Edit]:
    """The edits that turn a gold document's text into its reference: each span's first fix."""
    return [Edit(s.start, s.end, s.fixes[0]) for s in spans if s.fixes]


def word_spans(tokens: Sequence[Token], probs: Sequence[float], threshold: float,
               evidence: Callable[[int], dict[str, Any]] | None = None) -> list[Span]:
    """Spans of consecutive words whose P(BAD) reaches ``threshold``; a span scores its highest word (and
    carries that word's evidence)."""
    spans: list[Span] = []
    run: list[int] = []
    for i, p in enumerate([*probs, 0.0]):
        if i < len(probs) and p >= threshold:
            run.append(i)
        elif run:
            top = max(run, key=lambda j: probs[j])
            spans.append(Span(tokens[run[0]].start, tokens[run[-1]].end, "artifact", probs[top],
                              evidence=evidence(top) if evidence else None))
            run = []
    return spans


def span_class(span: Span) -> str:
    """The kind of artifact a span looks like: its class (mtfix.detect.classes) where the class head named one,
    else the candidate that fired (pivot, spelling, case, spacing, pronoun, article) where the fused detector saw
    one, else its label."""
    kind = (span.evidence or {}).get("kind")
    if span.class_name is not None and kind != "overlong word":
        return span.class_name
    return str(kind) if kind else span.label
