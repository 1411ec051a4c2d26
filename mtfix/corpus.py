"""Corpora in and out for `mtfix clean`: JSONL, plain text, CSV, parquet and saved `datasets` datasets, read
record by record (streaming) and written in the same format with fields added."""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .errors import InputError
from .formats import MAX_CHARS, _decode, _lines, _open_bytes

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


def fingerprint(path: str) -> str:
    """Size, modification time and the first and last MiB of the input: a changed input is a different run."""
    import hashlib

    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    h = hashlib.sha1()
    for f in files:
        stat = f.stat()
        h.update(f"{f.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        with open(f, "rb") as stream:
            h.update(stream.read(1 << 20))
            if stat.st_size > 2 << 20:
                stream.seek(-(1 << 20), os.SEEK_END)
                h.update(stream.read())
    return h.hexdigest()


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
        return None, f'"{text_field}" is a {type(value).__name__}, not a string'
    if not value.strip():
        return None, "empty text"
    if len(value) > MAX_CHARS:
        return None, f"text too long ({len(value):,} characters; the limit is {MAX_CHARS:,})"
    return value, None


def read_records(path: str, fmt: str, text_field: str = "text") -> Iterator[Record]:
    """Every record of the input in order; unusable ones carry their reason."""
    if fmt in ("jsonl", "text"):
        yield from _read_lines(path, fmt, text_field)
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


def _read_lines(path: str, fmt: str, text_field: str) -> Iterator[Record]:
    stream, name = _open_bytes(path)
    try:
        for index, (number, raw, eol) in enumerate(_lines(stream, name, refuse_binary=False)):
            text, error = _decode(number, raw, name)
            truncated = not eol
            if text is None:
                yield Record(index, number, None, error)
            elif fmt == "text":
                if not text.strip():
                    yield Record(index, number, None, "empty text")
                else:
                    yield Record(index, number, text, None)
            else:
                try:
                    fields = json.loads(text)
                except json.JSONDecodeError as err:
                    why = "truncated last line" if truncated else f"invalid JSON ({err.msg})"
                    yield Record(index, number, None, why)
                    continue
                if not isinstance(fields, dict):
                    yield Record(index, number, None, "not a JSON object")
                    continue
                value, error = _text_of(fields, text_field)
                yield Record(index, number, value, error, fields)
    finally:
        stream.close()


def _read_csv(path: str, text_field: str) -> Iterator[Record]:
    stream, name = _open_bytes(path)
    try:
        reader = io.TextIOWrapper(stream, encoding="utf-8", errors="strict", newline="")
        rows = csv.reader(reader)
        try:
            header = next(rows)
        except StopIteration:
            raise InputError(f"{name} is empty") from None
        except UnicodeDecodeError:
            raise InputError(f"{name}: the header is not UTF-8") from None
        if text_field not in header:
            raise InputError(f'{name} has no "{text_field}" column (it has: {", ".join(header)}); use --text-field')
        index = 0
        while True:
            line = rows.line_num + 1
            try:
                row = next(rows)
            except StopIteration:
                break
            except UnicodeDecodeError as err:
                yield Record(index, line, None, f"invalid UTF-8 ({err.reason})")
                break  # the decoder cannot resynchronise; what follows is reported by the count check
            except csv.Error as err:
                yield Record(index, line, None, f"bad CSV ({err})")
                index += 1
                continue
            if len(row) != len(header):
                yield Record(index, line, None, f"{len(row)} columns where the header has {len(header)}")
            else:
                fields = dict(zip(header, row))
                text, error = _text_of(fields, text_field)
                yield Record(index, line, text, error, fields)
            index += 1
    finally:
        stream.close()


def default_output_format(fmt: str) -> str:
    """Plain text cannot hold the added fields: its records come out as JSONL (or --output-format text)."""
    return "jsonl" if fmt == "text" else fmt


class Writer:
    """Writes output records (dicts) in one format to a temporary name; ``commit`` renames it into place."""

    def __init__(self, path: str, fmt: str, text_field: str = "text") -> None:
        self.path, self.fmt, self.text_field = path, fmt, text_field
        self.tmp = f"{path}.part"
        self.count = 0
        self._csv: Any = None
        self._rows: list[dict[str, Any]] = []
        self._parquet: Any = None
        if fmt in ("jsonl", "text", "csv"):
            self.stream = open(self.tmp, "w", encoding="utf-8", newline="")
        elif fmt == "dataset":
            import shutil

            shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, row: dict[str, Any]) -> None:
        self.count += 1
        if self.fmt == "jsonl":
            self.stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        elif self.fmt == "text":
            self.stream.write(str(row.get(self.text_field, "")) + "\n")
        elif self.fmt == "csv":
            flat = {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in row.items()}
            if self._csv is None:
                self._csv = csv.DictWriter(self.stream, fieldnames=list(flat), lineterminator="\n")
                self._csv.writeheader()
            self._csv.writerow(flat)
        else:
            self._rows.append({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                               for k, v in row.items()})
            if self.fmt == "parquet" and len(self._rows) >= 4096:
                self._flush_parquet()

    def _flush_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._rows:
            return
        table = pa.Table.from_pylist(self._rows)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.tmp, table.schema)
        self._parquet.write_table(table.cast(self._parquet.schema))
        self._rows = []

    def commit(self) -> None:
        """Finish the file under its temporary name, then rename it into place (whole or not at all)."""
        import shutil

        if self.fmt in ("jsonl", "text", "csv"):
            self.stream.close()
        elif self.fmt == "parquet":
            self._flush_parquet()
            if self._parquet is None:  # no rows at all: an empty file with no columns
                import pyarrow as pa
                import pyarrow.parquet as pq

                pq.write_table(pa.table({}), self.tmp)
            else:
                self._parquet.close()
        else:
            import datasets

            datasets.disable_progress_bars()
            datasets.Dataset.from_list(self._rows).save_to_disk(self.tmp)
        if Path(self.path).is_dir():
            shutil.rmtree(self.path)
        os.replace(self.tmp, self.path)

    def abandon(self) -> None:
        import shutil

        if self.fmt in ("jsonl", "text", "csv"):
            self.stream.close()
        elif self._parquet is not None:
            self._parquet.close()
        if Path(self.tmp).is_dir():
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif Path(self.tmp).exists():
            os.remove(self.tmp)
