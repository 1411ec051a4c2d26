"""Reading a stream of segments in batches, in input order, each batch read after the text before it where the
detector reads document context; and each record given its document's MT probability."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Iterable, Iterator, Sequence

from mtfix.detect.bounded import Detector, reads_context, tallies_words
from mtfix.detect.document import Tally, rounded
from mtfix.text.formats import Document, Segment

BEFORE_CHARS = 2_000  # how much of the text before a batch is kept for the next one's context


def batched(segments: Iterable[Segment], batch_size: int, process: Callable[..., Sequence[Any]],
            document: Callable[[Segment, Any], Document], context: bool = False, head: Any = None,
            whole: bool = False) -> Iterator[tuple[Segment, Document | None]]:
    """Each readable segment with ``document(segment, result)``, ``process`` run on batches of their texts, in
    input order; unreadable segments with None. With ``context``, ``process`` also takes ``before``: the end of
    the text of the batches before (the segments are consecutive text of one document). With a document ``head``
    (detect.document.DocumentHead), ``process`` also takes ``tallies`` and every Document gets its document's MT
    probability: its own segment's, or with ``whole`` the whole stream's (every record is then held until the
    stream ends)."""
    batch: list[Segment] = []
    before = ""
    total = Tally()

    def flush() -> Iterator[tuple[Segment, Document | None]]:
        nonlocal before, total
        texts = [s.text for s in batch if s.text is not None]
        options: dict[str, Any] = {"before": before} if context else {}
        tallies: list[Tally] = []
        if head is not None:
            options["tallies"] = tallies
            if whole:  # one document: a threshold that follows it reads what came before too
                options["prior"] = total
        results = iter(process(texts, **options)) if texts else iter(())
        counts = iter(tallies)
        if context:
            before = "\n".join(t for t in (before, *texts) if t.strip())[-BEFORE_CHARS:]
        for seg in batch:
            if seg.text is None:
                yield seg, None
                continue
            doc = document(seg, next(results))
            if head is not None:
                count = next(counts, None)
                if count is not None and whole:
                    total = total + count
                elif count is not None:
                    doc = replace(doc, mt_probability=rounded(head.probability(count)))
            yield seg, doc
        batch.clear()

    def read() -> Iterator[tuple[Segment, Document | None]]:
        for segment in segments:
            batch.append(segment)
            if len(batch) >= batch_size:
                yield from flush()
        yield from flush()

    if head is None or not whole:
        yield from read()
        return
    held = list(read())
    p = rounded(head.probability(total))
    for seg, doc in held:
        yield seg, (replace(doc, mt_probability=p) if doc is not None else None)


def record_id(segment: Segment) -> Any:
    return segment.record.get("id") if segment.record else None


def document_head(detector: Detector) -> Any:
    """The detector's document head (a Bounded detector's: its inner one's) where it has one and tallies what it
    reads (else None: no MT probability)."""
    head = getattr(detector, "document", None)
    return head if head is not None and tallies_words(detector) else None


def detect_segments(detector: Detector, segments: Iterable[Segment], batch_size: int = 32,
                    threshold: float = 0.0, whole: bool = False) -> Iterator[tuple[Segment, Document | None]]:
    """Each readable segment with its detection result, in input order; unreadable ones with None; each with its
    document's MT probability where the detector has a document head (``whole``: the segments are one document)."""
    return batched(segments, batch_size, detector.detect, lambda seg, spans: Document(
        seg.text or "", [s for s in spans if s.score >= threshold], id=record_id(seg)), reads_context(detector),
        document_head(detector), whole)
