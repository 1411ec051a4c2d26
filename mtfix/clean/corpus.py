"""Corpora in and out for `mtfix clean`: JSONL, plain text, CSV, parquet and saved `datasets` datasets, read
record by record (streaming) and written in the same format with fields added."""
from __future__ import annotations

import base64
import csv
import io
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from mtfix.errors import InputError
from mtfix.text.formats import MAX_CHARS, JsonNumber, _decode, _lines, _open_bytes, dumps, parse_json
from mtfix.text.outputs import is_special, place, temporary_beside

FORMATS = ("jsonl", "text", "csv", "parquet", "dataset")


@dataclass
class Record:
    """One input record: its position, its text (None when unusable, with the reason in ``error``), and the
    record's own fields (None for plain text)."""

    index: int            # 0-based position among all input records
    line: int             # 1-based line (text, JSONL, CSV) or row (parquet, dataset)
    text: str | None
    error: str | None = None
    fields: dict[str, Any] | None = None
    raw: dict[str, Any] | None = None  # a rejected line as read ({"raw": text}, {"raw_base64": bytes}, ...)


def guess_format(path: str, declared: str = "auto") -> str:
    if declared != "auto":
        return declared
    p = Path(path)
    if p.is_dir():
        if (p / "dataset_info.json").exists() or (p / "state.json").exists() or (p / "dataset_dict.json").exists():
            return "dataset"
        raise InputError(f"{path} is a folder but not a saved datasets dataset")
    suffix = p.suffix.lower()
    return {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}.get(
        suffix, "text")


SUFFIXES = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet",
            ".txt": "text", ".text": "text"}


def format_of_name(path: str) -> str | None:
    """The format OUT's extension names, if it names one."""
    return SUFFIXES.get(Path(path).suffix.lower())


def fingerprint(path: str) -> str:
    """A digest of the input's whole content (every file of a dataset folder, with its name), streamed: an input
    changed anywhere, whatever its size and modification time, is a different run."""
    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    return digest_files([(str(f.relative_to(p)) if p.is_dir() else f.name, f) for f in files])


def digest_files(files: Iterable[tuple[str, Path]]) -> str:
    """A SHA-1 digest of files, each under a name, read in blocks (however large)."""
    import hashlib

    h = hashlib.sha1()
    for name, f in files:
        h.update(f"{name}:{f.stat().st_size}:".encode())
        with open(f, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()


def check_input(path: str) -> None:
    """Refuse, in one line and before anything is read or written, an input mtfix clean cannot read twice: a
    FIFO, a process substitution, a device (clean reads its input once to run, and again to resume and to write
    the outputs in input order)."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if is_special(path):
        raise InputError(f"{path} is a pipe or device, not a file: mtfix clean reads its input more than once (to "
                         "resume and to write in order); save it to a file first (mtfix detect and fix read pipes)")


def count_records(path: str, fmt: str) -> int | None:
    """How many records the input holds (for the progress bar's ETA); None if unknown."""
    if fmt in ("jsonl", "text"):
        n, last = 0, b"\n"
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 22), b""):
                n += block.count(b"\n")
                last = block[-1:]
        return n + (1 if last != b"\n" else 0)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if fmt == "dataset":
        return len(_load_dataset(path))
    return None


def _text_of(fields: dict[str, Any], text_field: str) -> tuple[str | None, str | None]:
    if text_field not in fields or fields[text_field] is None:
        return None, f'no "{text_field}" field'
    value = fields[text_field]
    if not isinstance(value, str):
        kind = "number" if isinstance(value, JsonNumber) else type(value).__name__
        return None, f'"{text_field}" is a {kind}, not a string'
    if not value.strip():
        return None, "empty text"
    if len(value) > MAX_CHARS:
        return None, f"text too long ({len(value):,} characters; the limit is {MAX_CHARS:,})"
    return value, None


def columns(path: str, fmt: str) -> list[str] | None:
    """The input's column names (a CSV header, a parquet schema, a dataset's features); None for JSONL and plain
    text, whose records name their own fields."""
    if fmt == "csv":
        stream, name = _open_bytes(path)
        try:
            return _csv_header(_csv_rows(stream)[1], name)
        finally:
            stream.close()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    if fmt == "dataset":
        return list(_load_dataset(path).features)
    return None


def check_columns(path: str, fmt: str, owned: Iterable[str]) -> None:
    """Refuse, in one line, an input whose columns could not all be written back: two columns of one name, or a
    column named as a field mtfix writes (``owned``: spans, density, ...), which the output would overwrite."""
    names = columns(path, fmt)
    if names is None:
        return
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        shown = ", ".join(repr(n) for n in twice)
        raise InputError(f"{path} has more than one column named {shown}; each column needs its own name (one "
                         "would be lost): rename them")
    clash = [n for n in names if n in set(owned)]
    if clash:
        raise InputError(f"{path} has column(s) {', '.join(clash)}, which mtfix clean writes; rename them (or "
                         "drop them) so that nothing of yours is overwritten")


def read_records(path: str, fmt: str, text_field: str = "text", owned: Iterable[str] = ()) -> Iterator[Record]:
    """Every record of the input in order; unusable ones carry their reason. A JSONL record that holds a field
    mtfix writes (``owned``) is rejected whole, so that the output never overwrites it."""
    if fmt in ("jsonl", "text"):
        yield from _read_lines(path, fmt, text_field, frozenset(owned))
    elif fmt == "csv":
        yield from _read_csv(path, text_field)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        index = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            for fields in batch.to_pylist():
                text, error = _text_of(fields, text_field)
                yield Record(index, index + 1, text, error, fields)
                index += 1
    elif fmt == "dataset":
        for index, fields in enumerate(_load_dataset(path)):
            text, error = _text_of(fields, text_field)
            yield Record(index, index + 1, text, error, dict(fields))
    else:
        raise InputError(f"unknown input format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _load_dataset(path: str) -> Any:
    import datasets

    datasets.disable_progress_bars()
    try:
        loaded = datasets.load_from_disk(path)
    except Exception as err:  # datasets raises many kinds for a folder it cannot read
        raise InputError(f"cannot read {path} as a saved datasets dataset: {err}") from None
    if isinstance(loaded, datasets.DatasetDict):
        raise InputError(f"{path} holds several splits ({', '.join(loaded)}); give the folder of one")
    return loaded


def _raw(raw: bytes) -> dict[str, Any]:
    try:
        return {"raw": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"raw_base64": base64.b64encode(raw).decode("ascii")}


def _read_lines(path: str, fmt: str, text_field: str, owned: frozenset[str] = frozenset()) -> Iterator[Record]:
    """Plain text: every line a record, blank lines included (kept in place, nothing to check); JSONL: every
    line a record, and a line that holds no usable record is rejected with its raw content."""
    stream, name = _open_bytes(path)
    try:
        for index, (number, raw, eol) in enumerate(_lines(stream, name, refuse_binary=False)):
            text, error = _decode(number, raw, name)
            truncated = not eol
            if text is None:
                yield Record(index, number, None, error, raw=_raw(raw))
            elif fmt == "text":
                yield Record(index, number, text, None)
            else:
                fields, error = parse_json(text, exact=True)
                if error is not None:
                    why = "truncated last line" if truncated and error.startswith("invalid") else error
                    yield Record(index, number, None, why, raw=_raw(raw))
                    continue
                if not isinstance(fields, dict):
                    yield Record(index, number, None, "not a JSON object", raw=_raw(raw))
                    continue
                clash = [k for k in fields if k in owned]
                if clash:
                    yield Record(index, number, None, f"holds field(s) mtfix clean writes ({', '.join(clash)}); "
                                 "rename them so that nothing of yours is overwritten", fields)
                    continue
                value, error = _text_of(fields, text_field)
                yield Record(index, number, value, error, fields)
    finally:
        stream.close()


def _undecodable(cell: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in cell)


class _Tap:
    """The lines a csv reader takes, kept, so that a row it cannot parse is rejected with its raw text."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = iter(lines)
        self.taken: list[str] = []

    def __iter__(self) -> "_Tap":
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.taken.append(line)
        return line


def _csv_rows(stream: Any) -> tuple[_Tap, Any]:
    """A csv reader over a byte stream, and the tap that keeps the lines of each row it reads. Invalid bytes are
    carried as surrogates, so that one bad row is rejected and the reader goes on; a long field is the text's limit
    to judge (MAX_CHARS), not csv's."""
    csv.field_size_limit(sys.maxsize)
    tap = _Tap(io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline=""))
    return tap, csv.reader(tap)


def _csv_header(rows: Any, name: str) -> list[str]:
    """The header row, or a one-line refusal: an empty file, a header csv cannot read, or one not in UTF-8."""
    try:
        header = next(rows)
    except StopIteration:
        raise InputError(f"{name} is empty") from None
    except csv.Error as err:
        raise InputError(f"{name}: the header is not readable CSV ({err})") from None
    if any(_undecodable(h) for h in header):
        raise InputError(f"{name}: the header is not UTF-8")
    return header


def _read_csv(path: str, text_field: str) -> Iterator[Record]:
    stream, name = _open_bytes(path)
    try:
        tap, rows = _csv_rows(stream)
        header = _csv_header(rows, name)
        if len(set(header)) != len(header):
            raise InputError(f"{name} has two columns of one name; each column needs its own name: rename them")
        if text_field not in header:
            raise InputError(f'{name} has no "{text_field}" column (it has: {", ".join(header)}); use --text-field')
        index = 0
        while True:
            line = rows.line_num + 1
            tap.taken = []
            try:
                row = next(rows)
            except StopIteration:
                break
            except csv.Error as err:
                yield Record(index, line, None, f"bad CSV ({err})",
                             raw=_raw("".join(tap.taken).encode("utf-8", "surrogateescape")))
                index += 1
                continue
            if any(_undecodable(cell) for cell in row):
                cells = [base64.b64encode(c.encode("utf-8", "surrogateescape")).decode("ascii") for c in row]
                yield Record(index, line, None, "invalid UTF-8", raw={"raw_fields_base64": cells})
            elif len(row) != len(header):
                yield Record(index, line, None, f"{len(row)} columns where the header has {len(header)}",
                             raw={"raw_fields": row})
            else:
                fields = dict(zip(header, row))
                text, error = _text_of(fields, text_field)
                yield Record(index, line, text, error, fields)
            index += 1
    finally:
        stream.close()


def input_schema(path: str, fmt: str) -> Any:
    """The input's own column types (a pyarrow schema for parquet, datasets Features for a dataset), so that
    the output keeps them; None for the formats whose values are JSON or strings."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).schema_arrow
    if fmt == "dataset":
        return _load_dataset(path).features
    return None


def jsonable(value: Any) -> Any:
    """A field value as JSON can hold it: bytes as {"base64": ...}, other non-JSON values as their string."""
    if isinstance(value, (bytes, bytearray)):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool, JsonNumber)):
        return value
    return str(value)


ADDED_AS_JSON = {"spans", "edits"}  # fields mtfix adds that hold lists: JSON strings in parquet and datasets
MARKER = ".mtfix-output"  # in a dataset folder mtfix wrote: the one kind of folder mtfix may replace


class Writer:
    """Writes output records (dicts) in one format under a temporary name beside ``path``; ``commit`` renames
    it into place (whole or not at all). Parquet and dataset outputs keep the input's column types
    (``schema``); the fields mtfix adds that hold lists or objects are written as JSON strings there."""

    def __init__(self, path: str, fmt: str, text_field: str = "text", schema: Any = None) -> None:
        self.path, self.fmt, self.text_field, self.schema = path, fmt, text_field, schema
        names = [] if schema is None else list(schema.names if fmt == "parquet" else schema)
        self.own = names  # the input's columns, in order
        self.kept = set(names) - ADDED_AS_JSON  # the input's columns written with their own type
        self.tmp = temporary_beside(path, folder=fmt == "dataset")
        self.count = 0
        self._csv: Any = None
        self._rows: list[dict[str, Any]] = []
        self._parquet: Any = None
        self._columns: list[str] | None = None
        if fmt in ("jsonl", "text", "csv"):
            self.stream = open(self.tmp, "w", encoding="utf-8", newline="")

    def write(self, row: dict[str, Any]) -> None:
        self.count += 1
        if self.fmt == "jsonl":
            self.stream.write(dumps(jsonable(row)) + "\n")
        elif self.fmt == "text":
            self.stream.write(str(row.get(self.text_field, "")) + "\n")
        elif self.fmt == "csv":
            flat = {k: v if isinstance(v, str) else dumps(jsonable(v)) for k, v in row.items()}
            if self._csv is None:
                self._csv = csv.DictWriter(self.stream, fieldnames=list(flat), lineterminator="\n")
                self._csv.writeheader()
            self._csv.writerow(flat)
        else:
            if self._columns is None:
                self._columns = list(row)
            self._rows.append({k: self._cell(k, v) for k, v in row.items()})
            if self.fmt == "parquet" and len(self._rows) >= 4096:
                self._flush_parquet()

    def _cell(self, key: str, value: Any) -> Any:
        if key in self.kept:
            return value
        if isinstance(value, JsonNumber):  # a JSONL number in a string column: as it was written
            return value.text
        return dumps(jsonable(value)) if isinstance(value, (list, dict)) else value

    def _arrow_schema(self, columns: list[str]) -> Any:
        """The input's columns with their types, then the added ones (strings, or a float for density)."""
        import pyarrow as pa

        return pa.schema([self.schema.field(name) if name in self.kept else
                          pa.field(name, pa.float64() if name == "density" else pa.string()) for name in columns])

    def _flush_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._rows:
            return
        schema = self._arrow_schema(self._columns or [])
        table = pa.Table.from_pylist(self._rows, schema=schema)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.tmp, schema)
        self._parquet.write_table(table)
        self._rows = []

    def _columns_when_empty(self) -> list[str]:
        return self.own + [c for c in ("spans", "density") if c not in self.own]

    def commit(self) -> None:
        """Finish the file under its temporary name, then rename it into place."""
        import shutil

        if self.fmt in ("jsonl", "text", "csv"):
            self.stream.close()
        elif self.fmt == "parquet":
            self._flush_parquet()
            if self._parquet is None:  # no rows: the columns still have their names and types
                import pyarrow.parquet as pq

                pq.write_table(self._arrow_schema(self._columns_when_empty()).empty_table(), self.tmp)
            else:
                self._parquet.close()
        else:
            import datasets

            datasets.disable_progress_bars()
            self._dataset().save_to_disk(self.tmp)
            Path(self.tmp, MARKER).write_text("written by mtfix clean; mtfix may replace this folder\n")
        if Path(self.path).is_dir():  # only a dataset folder mtfix wrote gets here (see check_outputs)
            mode = stat.S_IMODE(os.stat(self.path).st_mode)
            old = temporary_beside(self.path, folder=True)
            os.rmdir(old)
            os.replace(self.path, old)
            os.chmod(self.tmp, mode)
            os.replace(self.tmp, self.path)
            shutil.rmtree(old)
        else:
            place(self.tmp, self.path)

    def _dataset(self) -> Any:
        """The rows as a Dataset with the input's features for its own columns."""
        import datasets

        columns = self._columns or self._columns_when_empty()
        features = datasets.Features({c: self.schema[c] if c in self.kept else
                                      datasets.Value("float64" if c == "density" else "string") for c in columns})
        if self._rows:
            return datasets.Dataset.from_list(self._rows, features=features)
        return datasets.Dataset.from_dict({c: [] for c in columns}, features=features)

    def abandon(self) -> None:
        import shutil

        if self.fmt in ("jsonl", "text", "csv"):
            self.stream.close()
        elif self._parquet is not None:
            self._parquet.close()
        if Path(self.tmp).is_dir():
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            Path(self.tmp).unlink(missing_ok=True)
