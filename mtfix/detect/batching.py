"""Reading a stream of segments in batches, in input order, each batch read after the text before it where the
detector reads document context."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Sequence

from mtfix.detect.bounded import Detector, reads_context
from mtfix.text.formats import Document, Segment

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
