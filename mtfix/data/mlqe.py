"""Read MLQE-PE post-editing data (Moses-tokenised .mt/.pe/.tags) as gold documents."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Iterator

from mtfix.text.align import gold_spans
from mtfix.text.formats import Document
from mtfix.text.spans import Span
from mtfix.text.tokens import detokenize

BAD = "bad"


class MLQEError(ValueError):
    """The MLQE-PE files are missing, unreadable or inconsistent."""


def tag_spans(offsets: list[tuple[int, int]], tags: list[str]) -> list[Span]:
    """Spans of BAD words (consecutive ones merged) and BAD gaps (zero width) from interleaved tags."""
    n = len(offsets)
    if len(tags) != 2 * n + 1:
        raise MLQEError(f"{len(tags)} tags for {n} words (expected {2 * n + 1})")
    spans: list[Span] = []
    run_start: int | None = None
    run_end = 0
    for i in range(n):
        gap_bad = tags[2 * i] == "BAD"
        word_bad = tags[2 * i + 1] == "BAD"
        if gap_bad and run_start is None and not word_bad:
            spans.append(Span(offsets[i][0], offsets[i][0], BAD))
        if word_bad:
            if run_start is None:
                run_start = offsets[i][0]
            run_end = offsets[i][1]
        elif run_start is not None:
            spans.append(Span(run_start, run_end, BAD))
            run_start = None
    if run_start is not None:
        spans.append(Span(run_start, run_end, BAD))
    if tags[2 * n] == "BAD" and (run_start is None):
        end = offsets[-1][1] if offsets else 0
        spans.append(Span(end, end, BAD))
    return spans


def document(mt: str, pe: str, tags: str, doc_id: str = "") -> Document:
    """One gold document from a tokenised MT line, its tokenised post-edit and its tags."""
    text, offsets = detokenize(mt.split())
    reference, _ = detokenize(pe.split())
    tagged = tag_spans(offsets, tags.split())
    return Document(text=text, spans=gold_spans(text, reference, tagged), reference=reference, id=doc_id)


def _read_members(path: Path) -> dict[str, list[str]]:
    """The .mt/.pe/.tags lines of one split, from a tarball or a folder."""
    wanted = ("mt", "pe", "tags")
    found: dict[str, list[str]] = {}
    if path.is_dir():
        for ext in wanted:
            hits = sorted(path.rglob(f"*.{ext}"))
            if hits:
                found[ext] = hits[0].read_text(encoding="utf-8").split("\n")
    elif tarfile.is_tarfile(path):
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                ext = member.name.rsplit(".", 1)[-1]
                if member.isfile() and ext in wanted and ext not in found:
                    data = tar.extractfile(member)
                    assert data is not None
                    found[ext] = io.TextIOWrapper(data, encoding="utf-8").read().split("\n")
    else:
        raise MLQEError(f"{path} is neither a folder nor a tarball")
    missing = [ext for ext in wanted if ext not in found]
    if missing:
        raise MLQEError(f"{path} has no .{' / .'.join(missing)} file")
    for ext in wanted:
        if found[ext] and found[ext][-1] == "":
            found[ext].pop()
    sizes = {ext: len(found[ext]) for ext in wanted}
    if len(set(sizes.values())) != 1:
        raise MLQEError(f"{path}: line counts differ {sizes}")
    return found


def read_mlqe(path: str | Path) -> Iterator[Document]:
    """Gold documents of one MLQE-PE split (e.g. ``ro-en-dev.tar.gz`` or its unpacked folder)."""
    path = Path(path)
    if not path.exists():
        raise MLQEError(f"{path}: no such file or folder")
    files = _read_members(path)
    stem = path.name.split(".")[0]
    for i, (mt, pe, tags) in enumerate(zip(files["mt"], files["pe"], files["tags"])):
        try:
            yield document(mt, pe, tags, f"{stem}:{i + 1}")
        except MLQEError as err:
            raise MLQEError(f"{path} line {i + 1}: {err}") from None
