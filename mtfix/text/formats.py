"""Reading input segments and writing and reading the detection, correction and gold JSONL formats."""
from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

from mtfix.errors import InputError
from mtfix.text.spans import Edit, Span, apply_edits, check_offsets

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
    # the calibrated probability that the document this segment belongs to went through machine translation
    # (mtfix.detect.document), where a detector read it
    mt_probability: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format_version": FORMAT_VERSION}
        if self.id is not None:
            out["id"] = self.id
        if self.mt_probability is not None:
            out["mt_probability"] = self.mt_probability
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
        fixed = obj.get("fixed")
        if edits is not None:
            applied = apply_edits(text, edits)  # checks the offsets, and that no two edits overlap
            if fixed is None:
                fixed = applied
        ref = obj.get("reference")
        p = obj.get("mt_probability")
        return cls(text, spans, ref if isinstance(ref, str) else None, obj.get("id"), edits, fixed,
                   float(p) if isinstance(p, (int, float)) and not isinstance(p, bool) else None)


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


_EOL = re.compile(rb"(\r\n|\n|\r)")
_WIDE = {b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32", b"\xff\xfe": "UTF-16",
         b"\xfe\xff": "UTF-16"}


def _lines(stream: BinaryIO, name: str, refuse_binary: bool = True) -> Iterator[tuple[int, bytes, str]]:
    """(line number, bytes, line end) for each line, a line ending at LF, CRLF or a lone CR; a UTF-8 byte order
    mark is dropped. Refuses empty input, UTF-16 and UTF-32, and (unless told not to) a file that is mostly NUL
    bytes: a binary file. A few NUL bytes make only their lines unreadable."""
    head = stream.read(8192)
    if not head:
        raise InputError(f"{name} is empty")
    for mark, encoding in _WIDE.items():
        if head.startswith(mark):
            raise InputError(f"{name} is {encoding} text; mtfix reads UTF-8: convert it first "
                             f"(iconv -f {encoding} -t UTF-8)")
    if refuse_binary and head.count(b"\x00") > len(head) // 10:
        raise InputError(f"{name} looks like a binary file (it is mostly NUL bytes), not text")
    pending = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    number = 0
    while True:
        chunk = stream.read(1 << 20)
        pending += chunk
        carry = b""
        if chunk and pending.endswith(b"\r"):  # perhaps the first half of a CRLF split across reads
            pending, carry = pending[:-1], b"\r"
        parts = _EOL.split(pending)
        pending = parts.pop() + carry
        for raw, eol in zip(parts[0::2], parts[1::2]):
            number += 1
            yield number, raw, eol.decode()
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


def _int(digits: str) -> int:
    if len(digits) > 4000:
        raise ValueError(f"a number of {len(digits):,} digits")
    return int(digits)


def _float(number: str) -> float:
    value = float(number)
    if not math.isfinite(value):
        raise ValueError(f"the number {number[:40]} is out of range")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class JsonNumber:
    """A JSON number as it was written (``12345678901234567890.5``, ``1e5``, ``-0``): what `mtfix clean` copies
    through unchanged in the fields it does not own, where a float or an int would write it back otherwise."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"JsonNumber({self.text!r})"


def parse_json(text: str, exact: bool = False) -> tuple[Any, str | None]:
    """A JSON value and None, or None and why it cannot be read. Numbers that could not be written back as
    JSON, such as 1e999999 or NaN, are refused rather than changed; ``exact`` keeps every number as written
    (JsonNumber), to be written back by ``dumps``."""
    try:
        if exact:
            return json.loads(text, parse_int=JsonNumber, parse_float=JsonNumber, parse_constant=JsonNumber), None
        return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant), None
    except json.JSONDecodeError as err:
        return None, f"invalid JSON ({err.msg})"
    except ValueError as err:
        return None, f"unreadable JSON ({err})"
    except RecursionError:
        return None, "invalid JSON (nested too deeply)"


def dumps(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False)``, with each JsonNumber written exactly as it was read."""
    import secrets

    numbers: list[str] = []
    tag = secrets.token_hex(8)

    def number(obj: Any) -> str:
        if isinstance(obj, JsonNumber):
            numbers.append(obj.text)
            return f"\x00{tag}:{len(numbers) - 1}\x00"
        raise TypeError(f"{type(obj).__name__} is not JSON")

    text = json.dumps(value, ensure_ascii=False, default=number)
    if not numbers:
        return text
    return re.sub(rf'"\\u0000{tag}:([0-9]+)\\u0000"', lambda m: numbers[int(m.group(1))], text)


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
            record, error = parse_json(text)
            if error is not None:
                yield Segment(number, None, error, eol)
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
