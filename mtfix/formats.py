"""Reading input segments and writing and reading the detection, correction and gold JSONL formats."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

from .errors import InputError
from .spans import Edit, Span, apply_edits, check_offsets

FORMAT_VERSION = 1
MAX_CHARS = 200_000  # longer segments are reported, not processed: split such text into paragraphs


@dataclass
class Document:
    """A segment with its spans, and where known its edits, fixed text and reference."""

    text: str
    spans: list[Span] = field(default_factory=list)
    reference: str | None = None
    id: str | None = None
    edits: list[Edit] | None = None
    fixed: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format_version": FORMAT_VERSION}
        if self.id is not None:
            out["id"] = self.id
        out["text"] = self.text
        out["spans"] = [s.to_json(self.text) for s in self.spans]
        if self.edits is not None:
            out["fixed"] = self.fixed if self.fixed is not None else apply_edits(self.text, self.edits)
            out["edits"] = [e.to_json(self.text) for e in self.edits]
        if self.reference is not None:
            out["reference"] = self.reference
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "Document":
        text = obj.get("text")
        if not isinstance(text, str):
            raise ValueError('no "text" string')
        version = obj.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise ValueError(f"format_version {version} is not supported (this mtfix reads {FORMAT_VERSION})")
        spans = [Span.from_json(s) for s in obj.get("spans") or []]
        edits = [Edit.from_json(e) for e in obj["edits"]] if obj.get("edits") is not None else None
        check_offsets(text, spans, "span")
        if edits is not None:
            check_offsets(text, edits, "edit")
        fixed = obj.get("fixed")
        if fixed is None and edits is not None:
            fixed = apply_edits(text, edits)
        ref = obj.get("reference")
        return cls(text, spans, ref if isinstance(ref, str) else None, obj.get("id"), edits, fixed)


@dataclass
class Segment:
    """One input record: its text, or why it could not be read."""

    line: int
    text: str | None
    error: str | None = None
    eol: str = "\n"
    record: dict[str, Any] | None = None


def _open_bytes(path: str) -> tuple[BinaryIO, str]:
    if path == "-":
        return sys.stdin.buffer, "<stdin>"
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        raise InputError(f"{path} is a folder, not a file")
    try:
        return open(p, "rb"), path
    except OSError as err:
        raise InputError(f"cannot open {path}: {err.strerror}") from None


def _lines(stream: BinaryIO, name: str, refuse_binary: bool = True) -> Iterator[tuple[int, bytes, str]]:
    """(line number, bytes, line end) for each line; refuses empty input, and binary input unless told not to
    (a corpus reports binary lines one by one)."""
    head = stream.read(8192)
    if not head:
        raise InputError(f"{name} is empty")
    if refuse_binary and b"\x00" in head:
        raise InputError(f"{name} looks like a binary file (it holds NUL bytes), not text")
    pending = head
    number = 0
    while True:
        chunk = stream.read(1 << 20)
        pending += chunk
        parts = pending.split(b"\n")
        pending = parts.pop()
        for raw in parts:
            number += 1
            if raw.endswith(b"\r"):
                yield number, raw[:-1], "\r\n"
            else:
                yield number, raw, "\n"
        if not chunk:
            break
    if pending:
        yield number + 1, pending, ""


def _decode(number: int, raw: bytes, name: str) -> tuple[str | None, str | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, f"invalid UTF-8 at byte {err.start}"
    if "\x00" in text:
        return None, "binary data (NUL bytes)"
    if len(text) > MAX_CHARS:
        return None, f"line too long ({len(text):,} characters; the limit is {MAX_CHARS:,}: split it into paragraphs)"
    return text, None


def guess_format(path: str, declared: str = "auto") -> str:
    """'text' or 'jsonl', from ``declared`` or the file name."""
    if declared != "auto":
        return declared
    return "jsonl" if path.endswith((".jsonl", ".json", ".ndjson")) else "text"


def read_segments(path: str, fmt: str = "auto", text_field: str = "text") -> Iterator[Segment]:
    """Input segments in order: plain text (one per line, blank lines kept) or JSONL with a text field."""
    fmt = guess_format(path, fmt)
    stream, name = _open_bytes(path)
    try:
        for number, raw, eol in _lines(stream, name):
            text, error = _decode(number, raw, name)
            if fmt == "text" or text is None:
                yield Segment(number, text, error, eol)
                continue
            if not text.strip():
                yield Segment(number, None, "empty line", eol)
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as err:
                yield Segment(number, None, f"invalid JSON ({err.msg})", eol)
                continue
            if not isinstance(record, dict):
                yield Segment(number, None, "not a JSON object", eol)
            elif text_field not in record:
                yield Segment(number, None, f'no "{text_field}" field', eol, record)
            elif not isinstance(record[text_field], str):
                kind = type(record[text_field]).__name__
                yield Segment(number, None, f'"{text_field}" is a {kind}, not a string', eol, record)
            else:
                yield Segment(number, record[text_field], None, eol, record)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def read_documents(path: str) -> Iterator[Document]:
    """Documents from a JSONL file in the detection, correction or gold format."""
    for segment in read_segments(path, "jsonl"):
        if segment.error:
            raise InputError(f"{path} line {segment.line}: {segment.error}")
        assert segment.record is not None
        try:
            yield Document.from_json(segment.record)
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"{path} line {segment.line}: {err}") from None


def write_jsonl(records: Iterable[dict[str, Any]], out: Any) -> None:
    """One compact JSON object per line, UTF-8 kept as is."""
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
