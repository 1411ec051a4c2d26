"""Detection: pick a detector and run it over segments, in batches."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

from mtfix.detect.classes import shipped_classes
from mtfix.errors import NotBuiltError
from mtfix.models import MODELS, shipped_detector, shipped_fusion
from mtfix.text.formats import Document, Segment
from mtfix.text.spans import Span
from mtfix.text.tokens import sentence_spans, tokenize

METHODS = ("fused", "model", "spell", "lm", "all-ok", "all-bad")


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


def default_method(fast: bool = False, model_path: str | None = None) -> str:
    """fused when a fusion head is there (and not ``fast``), else the tagger, else the spell baseline; for the
    shipped models, or for the detector folder ``model_path``."""
    if model_path:
        return "fused" if (Path(model_path) / "fused" / "config.json").exists() and not fast else "model"
    if shipped_fusion() and not fast:
        return "fused"
    return "model" if shipped_detector() else "spell"


def get_detector(method: str = "spell", threshold: float | None = None, model_path: str | None = None,
                 batch_size: int = 32, lm_gate: float | None = None, alone: bool = False) -> Detector:
    """The detector for ``method``; ``threshold`` (and, for the fused detector, ``lm_gate``) None keeps the
    detector's own default; ``alone``: a fused head fitted to read each segment after the previous ones reads
    every segment alone (for inputs whose segments are unrelated sentences)."""
    if method in ("all-ok", "all-bad"):
        return ConstantDetector(method == "all-bad")
    if method == "spell":
        from mtfix.detect.spell import SpellDetector

        return Bounded(SpellDetector(), shipped_classes())
    if method in ("model", "fused"):
        path = Path(model_path) if model_path else shipped_detector()
        if path is None or not (path / "config.json").exists():
            raise NotBuiltError(f"no trained detector at {path or MODELS / 'detector'}; use --method spell "
                                "or train one with 'mtfix train detector'")
        if method == "fused":
            fusion = path / "fused"
            if not (fusion / "config.json").exists():
                raise NotBuiltError(f"no fusion head at {fusion}; use --fast (the tagger alone) or train one "
                                    "with 'mtfix train fusion'")
            from mtfix.detect.fuse import FusedDetector

            return Bounded(FusedDetector.load(str(path), str(fusion), threshold=threshold, batch_size=batch_size,
                                              lm_gate=lm_gate, alone=alone), shipped_classes(path))
        from mtfix.detect.tagger import TaggerDetector

        return Bounded(TaggerDetector.load(str(path), threshold=threshold, batch_size=batch_size),
                       shipped_classes(path))
    if method == "lm":
        from mtfix.detect.lm import LMDetector

        return Bounded(LMDetector(threshold=0.5 if threshold is None else threshold), shipped_classes())
    raise NotBuiltError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def review_point(model_path: str | None = None, alone: bool = False) -> tuple[float, float]:
    """The fused detector's review point: its review threshold (for text read alone with ``alone``, where the head
    reads context and has one fitted for that) and an LM gate of 0 (every segment read)."""
    path = Path(model_path) if model_path else shipped_detector()
    config = path / "fused" if path else None
    review = None
    if config is not None and (config / "config.json").exists():
        import json

        from mtfix.detect.fuse import FusionConfig

        raw = json.loads((config / "config.json").read_text())
        review = FusionConfig(context=raw.get("context", 0), review_threshold=raw.get("review_threshold"),
                              alone_review_threshold=raw.get("alone_review_threshold")).review_point(alone)
    if review is None:
        raise NotBuiltError(f"no review point in {(config or MODELS / 'detector' / 'fused') / 'config.json'}; fit "
                            "one with scripts/fit_review_point.py --write")
    return float(review), 0.0


MAX_WORD = 200     # characters: longer than any English word or ordinary address; flagged, never read by a model
MAX_PIECE = 4_000  # characters the models read as one piece; a longer segment is read sentence group by group
_LONG_RUN = re.compile(r"\S{%d,}" % (MAX_WORD + 1))  # a token never crosses whitespace: no such run, no such word


def read_as_is(text: str) -> bool:
    """Whether the models read ``text`` whole: at most MAX_PIECE characters and no overlong word (see ``pieces``);
    a regular expression screens out the common case before any tokenising."""
    if len(text) > MAX_PIECE:
        return False
    return not _LONG_RUN.search(text) or all(len(t.text) <= MAX_WORD for t in tokenize(text))


def pieces(text: str) -> tuple[list[tuple[int, int]], list[Span]]:
    """The (start, end) pieces of ``text`` the models read, and a span of class "other" for each overlong word
    left out of them, so that the work per segment grows linearly with its length. A segment of at most
    MAX_PIECE characters with no overlong word is one piece: itself."""
    if read_as_is(text):
        return [(0, len(text))], []
    overlong = [t for t in tokenize(text) if len(t.text) > MAX_WORD]
    flags = [Span(t.start, t.end, "other", 1.0, evidence={"kind": "overlong word", "chars": len(t.text)})
             for t in overlong]
    stretches, cursor = [], 0  # the text between overlong words
    for t in overlong:
        stretches.append((cursor, t.start))
        cursor = t.end
    stretches.append((cursor, len(text)))
    out: list[tuple[int, int]] = []
    for lo, hi in stretches:
        if not text[lo:hi].strip():
            continue
        start = end = None
        for s_lo, s_hi in ((a + lo, b + lo) for a, b in sentence_spans(text[lo:hi])):
            for c_lo, c_hi in _cut(text, s_lo, s_hi):
                if start is not None and c_hi - start > MAX_PIECE:
                    out.append((start, end))
                    start = None
                if start is None:
                    start = c_lo
                end = c_hi
        if start is not None:
            out.append((start, end))
    return out, flags


def _cut(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """A sentence longer than MAX_PIECE cut at the last space before each MAX_PIECE characters."""
    out = []
    while hi - lo > MAX_PIECE:
        space = text.rfind(" ", lo + 1, lo + MAX_PIECE)
        stop = space if space > lo else lo + MAX_PIECE
        out.append((lo, stop))
        lo = stop
        while lo < hi and text[lo].isspace():
            lo += 1
    if hi > lo:
        out.append((lo, hi))
    return out


class Bounded:
    """Any detector, reading long segments piece by piece and leaving overlong words out (see ``pieces``); with
    a class head (mtfix.detect.classes), every span it returns carries its class and that class's probability."""

    def __init__(self, inner: Detector, classes: Any = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.classes = classes
        self._own_generator: Any = None

    @property
    def class_generator(self) -> Any:
        """The candidate generator the class head reads: the detector's own, else one loaded for it."""
        own = getattr(self.inner, "generator", None)
        if own is not None:
            return own
        if self._own_generator is None:
            from mtfix.detect.candidates import CandidateGenerator

            self._own_generator = CandidateGenerator()
        return self._own_generator

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def detect(self, texts: Sequence[str], before: str | None = None) -> list[list[Span]]:
        """The inner detector's spans (see the class); ``before``: the text that came before ``texts``, for a
        detector that reads each segment after the previous ones (``reads_context``)."""
        found = self._detect(texts, before)
        if self.classes is None:
            return found
        return self.classes.assign(texts, found, self.class_generator)

    def _detect(self, texts: Sequence[str], before: str | None) -> list[list[Span]]:
        if all(read_as_is(t) for t in texts):
            return detect_texts(self.inner, texts, before)
        cut = [pieces(t) for t in texts]
        flat = [texts[i][lo:hi] for i, (p, _) in enumerate(cut) for lo, hi in p]
        # the pieces, in order: consecutive text too
        found = iter(detect_texts(self.inner, flat, before) if flat else [])
        out = []
        for p, flags in cut:
            spans = list(flags)
            for lo, _ in p:
                spans += [replace(s, start=s.start + lo, end=s.end + lo) for s in next(found)]
            out.append(sorted(spans, key=lambda s: (s.start, s.end)))
        return out


def reads_context(detector: Any) -> bool:
    """Whether ``detector`` reads each segment after the sentences before it (a fused head fitted that way, not
    told to read segments alone): it then takes the text before a batch as ``before``."""
    return bool(getattr(detector, "context", 0))


def detect_texts(detector: Any, texts: Sequence[str], before: str | None = None) -> list[list[Span]]:
    """``detector``'s spans of ``texts``, given ``before`` (the text that came before them) where it reads
    context; any other detector takes the texts alone."""
    return detector.detect(texts, before=before) if reads_context(detector) else detector.detect(texts)


BEFORE_CHARS = 2_000  # how much of the text before a batch is kept for the next one's context


def batched(segments: Iterable[Segment], batch_size: int, process: Callable[..., Sequence[Any]],
            document: Callable[[Segment, Any], Document], context: bool = False
            ) -> Iterator[tuple[Segment, Document | None]]:
    """Each readable segment with ``document(segment, result)``, ``process`` run on batches of their texts, in
    input order; unreadable segments with None. With ``context``, ``process`` also takes ``before``: the end of
    the text of the batches before (the segments are consecutive text of one document)."""
    batch: list[Segment] = []
    before = ""

    def flush() -> Iterator[tuple[Segment, Document | None]]:
        nonlocal before
        texts = [s.text for s in batch if s.text is not None]
        results = iter(process(texts, before=before) if context else process(texts)) if texts else iter(())
        if context:
            before = "\n".join(t for t in (before, *texts) if t.strip())[-BEFORE_CHARS:]
        for seg in batch:
            yield (seg, None) if seg.text is None else (seg, document(seg, next(results)))
        batch.clear()

    for segment in segments:
        batch.append(segment)
        if len(batch) >= batch_size:
            yield from flush()
    yield from flush()


def record_id(segment: Segment) -> Any:
    return segment.record.get("id") if segment.record else None


def detect_segments(detector: Detector, segments: Iterable[Segment], batch_size: int = 32,
                    threshold: float = 0.0) -> Iterator[tuple[Segment, Document | None]]:
    """Each readable segment with its detection result, in input order; unreadable ones with None."""
    return batched(segments, batch_size, detector.detect, lambda seg, spans: Document(
        seg.text or "", [s for s in spans if s.score >= threshold], id=record_id(seg)), reads_context(detector))
