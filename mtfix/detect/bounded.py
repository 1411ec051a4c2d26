"""What every detector is (the Detector protocol), how a call reads its texts (after the text before them, or
alone), and bounded time: a word too long to be English is flagged and never read by a model, and a segment too
long for one pass is read in pieces of whole sentences."""
from __future__ import annotations

import itertools
import re
from dataclasses import replace
from typing import Any, Protocol, Sequence

from mtfix.detect.document import Tally
from mtfix.text.spans import Span
from mtfix.text.tokens import sentence_spans, tokenize


class Detector(Protocol):
    name: str

    def detect(self, texts: Sequence[str]) -> list[list[Span]]: ...


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

    def detect(self, texts: Sequence[str], before: str | None = None, threshold: float | None = None,
               tallies: list[Any] | None = None, prior: Tally | None = None, documents: Sequence[int] | None = None
               ) -> list[list[Span]]:
        """The inner detector's spans (see the class); ``before``: the text that came before ``texts``, for a
        detector that reads each segment after the previous ones (``reads_context``); ``threshold``: this call's
        operating point (None: the detector's own); ``tallies``: a list that gets each text's document.Tally
        where the inner detector tallies (``tallies_words``); ``prior``: the texts are one document's, read after
        what this tally holds (else each text is its own document, for a threshold that follows it);
        ``documents``: the texts are lines of several documents, this many each, each read after its own lines
        and one document for the threshold."""
        if documents is not None and not all(read_as_is(t) for t in texts):  # pieces: one document at a time
            found: list[list[Span]] = []
            for at, size in zip(itertools.accumulate([0, *documents]), documents):
                found += self._detect(texts[at:at + size], None, threshold, tallies, Tally())
        else:
            found = self._detect(texts, before, threshold, tallies, prior, documents)
        if self.classes is None:
            return found
        return self.classes.assign(texts, found, self.class_generator)

    def _detect(self, texts: Sequence[str], before: str | None, threshold: float | None,
                tallies: list[Any] | None, prior: Tally | None, documents: Sequence[int] | None = None
                ) -> list[list[Span]]:
        if all(read_as_is(t) for t in texts):
            return detect_texts(self.inner, texts, before, threshold, tallies, prior, documents)
        if prior is None and len(texts) > 1 and getattr(self.inner, "follow", None) is not None:
            # each text its own document: the pieces of one text are read as one
            out: list[list[Span]] = []
            for text in texts:
                out += self._detect([text], before, threshold, tallies, Tally())
            return out
        cut = [pieces(t) for t in texts]
        flat = [texts[i][lo:hi] for i, (p, _) in enumerate(cut) for lo, hi in p]
        # the pieces, in order: consecutive text too
        counted: list[Any] | None = [] if tallies is not None and tallies_words(self.inner) else None
        found = iter(detect_texts(self.inner, flat, before, threshold, counted, prior) if flat else [])
        parts = iter(counted or [])
        out = []
        for p, flags in cut:
            spans = list(flags)
            for lo, _ in p:
                spans += [replace(s, start=s.start + lo, end=s.end + lo) for s in next(found)]
            out.append(sorted(spans, key=lambda s: (s.start, s.end)))
            if counted is not None:  # a text's tally: its pieces'
                tallies.append(sum((next(parts) for _ in p), Tally()))  # type: ignore[union-attr]
        return out


def reads_context(detector: Any) -> bool:
    """Whether ``detector`` reads each segment after the sentences before it (a fused head fitted that way, not
    told to read segments alone): it then takes the text before a batch as ``before``."""
    return bool(getattr(detector, "context", 0))


def tallies_words(detector: Any) -> bool:
    """Whether ``detector`` tallies what it reads for the document's MT probability (the fused detector and the
    tagger do; the baselines do not)."""
    inner = getattr(detector, "inner", detector)
    return getattr(inner, "name", "") in ("fused", "model")


def detect_texts(detector: Any, texts: Sequence[str], before: str | None = None, threshold: float | None = None,
                 tallies: list[Any] | None = None, prior: Any = None, documents: Sequence[int] | None = None
                 ) -> list[list[Span]]:
    """``detector``'s spans of ``texts``, given ``before`` (the text that came before them) where it reads
    context (any other detector takes the texts alone), at ``threshold`` where one is given (a detector with an
    operating point: the tagger, the fused detector); ``tallies``: a list that gets each text's document.Tally
    where the detector tallies (``tallies_words``), else stays as it is; ``prior``: the texts are one
    document's, read after what this document.Tally holds (the fused detector's threshold follows the document);
    ``documents``: the texts are lines of several documents, this many each, each read after its own lines only
    (where the detector reads context; else it reads each text alone anyway) and, for the fused detector, one
    document for the threshold."""
    fused = getattr(getattr(detector, "inner", detector), "name", "") == "fused"
    options: dict[str, Any] = {"before": before} if reads_context(detector) else {}
    if documents is not None and (reads_context(detector) or fused):
        options["documents"] = documents
    if threshold is not None:
        options["threshold"] = threshold
    if tallies is not None and tallies_words(detector):
        options["tallies"] = tallies
    if prior is not None and fused:
        options["prior"] = prior
    return detector.detect(texts, **options)
