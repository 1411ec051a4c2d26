"""MQM-annotated MT (WMT's TSV: one row per rated error, the span marked in `target` with <v>...</v>) as gold.

Every system output of a source segment becomes one gold document whose spans are the raters' errors, labelled
"Severity:Category" (e.g. "Major:Fluency/Grammar"), each counting for any change (fixes = ()). The segments are
split by source segment into a development part and a held-out part, so that no source segment (and none of its
translations) is in both: tune on `dev`, report on `held-out`.
"""
from __future__ import annotations

import csv
import hashlib
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Iterator

from mtfix.errors import InputError
from mtfix.text.formats import Document
from mtfix.text.spans import Span

PARTS = ("dev", "held-out", "all")
COLUMNS = ("system", "doc", "doc_id", "seg_id", "rater", "source", "target", "category", "severity")
OPEN, CLOSE = "<v>", "</v>"


def part_of(doc_id: str, seg_id: str) -> str:
    """'dev' or 'held-out' for a source segment: half each, by a hash of its ids (stable across releases)."""
    digest = hashlib.sha1(f"{doc_id}:{seg_id}".encode()).digest()
    return "dev" if digest[0] % 2 == 0 else "held-out"


def unmark(target: str) -> tuple[str, tuple[int, int] | None]:
    """The target without its <v> marks, and the marked span's offsets in it (None when unmarked)."""
    start = target.find(OPEN)
    if start < 0:
        return target.replace(CLOSE, ""), None
    end = target.find(CLOSE, start)
    if end < 0:
        return target.replace(OPEN, ""), None
    clean = target[:start] + target[start + len(OPEN):end] + target[end + len(CLOSE):]
    return clean.replace(OPEN, "").replace(CLOSE, ""), (start, end - len(OPEN))


def read_mqm(path: str | Path, part: str = "all", include_references: bool = False) -> Iterator[Document]:
    """Gold documents from an MQM TSV file, in file order of first appearance; ``part`` 'dev', 'held-out' or 'all';
    human references (systems ref, refB) only when asked."""
    if part not in PARTS:
        raise InputError(f"unknown MQM part {part!r}; choose one of {', '.join(PARTS)}")
    path = Path(path)
    try:
        stream = open(path, encoding="utf-8", newline="")
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from None
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    docs: OrderedDict[tuple[str, str, str], tuple[str, list[Span]]] = OrderedDict()
    with stream:
        reader = csv.DictReader(stream, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path} is not an MQM TSV file (no {', '.join(missing)} column)")
        try:
            for number, row in enumerate(reader, start=2):
                if not include_references and row["system"] in ("ref", "refB"):
                    continue
                if part != "all" and part_of(row["doc_id"], row["seg_id"]) != part:
                    continue
                text, marked = unmark(row["target"] or "")
                key = (row["system"], row["doc_id"], row["seg_id"])
                known, spans = docs.setdefault(key, (text, []))
                if known != text:
                    raise InputError(f"{path} line {number}: the target differs from an earlier row of the same "
                                     "segment")
                if marked is not None and row["severity"] in ("Major", "Minor"):
                    spans.append(Span(marked[0], marked[1], f"{row['severity']}:{row['category']}", 1.0, ()))
        except UnicodeDecodeError:
            raise InputError(f"{path} is not UTF-8") from None
    for (system, doc_id, seg_id), (text, spans) in docs.items():
        yield Document(text, sorted(spans, key=lambda s: (s.start, s.end)), id=f"{system}|{doc_id}|{seg_id}")
