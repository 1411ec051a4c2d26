"""`mtfix clean`: a corpus through the detector (and the corrector), resumable, nothing lost.

Records are read as a stream and cut into chunks of ``chunk_size``; each chunk's results are committed to an
SQLite journal (OUT.journal) in one transaction. A rerun of the same command skips the chunks the journal has,
so a run killed at any moment continues where it stopped. When every chunk is in, the outputs are written
from the journal in input order under temporary names and renamed into place; then the journal is removed.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from mtfix.clean.corpus import (
    MARKER,
    Record,
    Writer,
    check_columns,
    check_input,
    fingerprint,
    format_of_name,
    guess_format,
    input_schema,
    jsonable,
    read_records,
)
from mtfix.errors import InputError, MtfixError
from mtfix.text.outputs import is_special, same_file
from mtfix.text.spans import span_class
from mtfix.text.tokens import tokenize

POLICIES = ("annotate", "fix", "filter")
DENSITY_BINS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, float("inf"))  # flagged words per 100
JOURNAL_VERSION = 2
GIB = 1 << 30
WORKER_MEMORY = {"fast": 1 * GIB, "full": 2 * GIB}  # what one worker holds with its models, with room to spare


class WorkerDied(MtfixError):
    """A worker process ended without a result (killed, often by the out-of-memory killer)."""


@dataclass
class CleanConfig:
    input: str
    output: str
    input_format: str = "auto"
    output_format: str = "auto"
    text_field: str = "text"
    policy: str = "annotate"
    suggest: bool = False          # annotate/filter: also run the corrector and add its edits
    min_score: float | None = None
    swap_score: float | None = None  # the corrector's bar for meaning swaps (mtfix fix --swap-score)
    max_density: float = 10.0      # filter: records above this many flagged words per 100 go to OUT.filtered
    chunk_size: int = 64
    workers: int = 1
    engine: str = "local"
    ray_address: str | None = None
    fast: bool = False
    method: str | None = None
    threshold: float | None = None
    lm_gate: float | None = None
    model: str | None = None
    corrector: str | None = None
    device: str = "auto"           # where the models run: auto, cpu, cuda (mtfix.device)
    batch_size: int = 32
    restart: bool = False
    alone: bool = False            # each record read alone (records of JSONL, CSV, parquet, datasets always are)

    def settings(self) -> dict[str, Any]:
        """Every option that can change an output byte: a journal written under other settings is not reused
        (the batch size is one: padding moves the models' scores in their last digits)."""
        from mtfix.device import resolve

        keys = ("text_field", "policy", "suggest", "min_score", "swap_score", "max_density", "chunk_size", "fast",
                "method", "threshold", "lm_gate", "model", "corrector", "input_format", "output_format",
                "batch_size")
        # the device the models run on, as resolved (a GPU's scores differ from the CPU's in their last digits);
        # --alone only where given, so that a journal written before the option existed is still resumed; the
        # records of CSV, parquet and datasets inputs were read as one document before they were read alone
        # a plain-text input read as one document: a journal from before each chunk carried the text before it
        # (its first lines were read with nothing before them) is not resumed
        return {**{k: getattr(self, k) for k in keys}, "device": resolve(self.device), "models": self.models(),
                "threads": self.threads(), "dictionary": self.dictionary(),
                **({"alone": True} if self.alone else {}),
                **({"records_alone": True} if self.records_format() else {}),
                **({"chunk_context": True} if not self.reads_alone() else {})}

    def models(self) -> str:
        """A digest of the model files the run reads (model cards left out): the detector's folder, and the
        correctors' where it corrects (--policy fix, --suggest). Weights or thresholds changed under a journal (a
        newer mtfix, a model trained again) would give its later chunks other outputs than its earlier ones, so
        such a journal is not resumed."""
        from mtfix.models import MODELS

        folders = [Path(self.model) if self.model else MODELS / "detector"]
        if self.policy == "fix" or self.suggest:
            folders += [Path(self.corrector)] if self.corrector else [MODELS / "rewriter", MODELS / "corrector"]
        h = hashlib.sha1()
        for folder in folders:
            files = sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix != ".md") if folder.is_dir() else []
            for f in files:
                h.update(f"{f.relative_to(folder)}:{f.stat().st_size}:".encode())
                with open(f, "rb") as stream:
                    for block in iter(lambda: stream.read(1 << 22), b""):
                        h.update(block)
        return h.hexdigest()

    def threads(self) -> int:
        """The threads each process's models run on (the engine and --workers decide it): sums over other
        thread counts round differently in their last digits, so a journal is resumed only with the same count."""
        if self.engine == "ray":
            return 1
        return max(1, (os.cpu_count() or 1) // max(1, self.workers))

    def dictionary(self) -> str:
        """A digest of the English-German dictionary the candidates come from ("missing" without it): a
        dictionary installed or changed under a journal gives its later chunks other outputs."""
        from mtfix.detect.pivot import DICT_PATH

        if not DICT_PATH.is_file():
            return "missing"
        h = hashlib.sha1()
        with open(DICT_PATH, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 22), b""):
                h.update(block)
        return h.hexdigest()

    def owned(self) -> list[str]:
        """The fields this run writes into each record: an input field of the same name would be overwritten, so
        such input is refused (CSV, parquet, datasets) or its records rejected whole (JSONL)."""
        fields = ["spans", "density"]
        if self.policy == "fix" or self.suggest:
            fields += ["edits", "fixed"]
        if self.policy == "fix":
            fields.append(f"original_{self.text_field}")
        return fields

    def records_format(self) -> bool:
        """Whether the input is a corpus of records other than JSONL (CSV, parquet, a datasets dataset)."""
        try:
            return guess_format(self.input, self.input_format) in ("csv", "parquet", "dataset")
        except InputError:  # a folder that is no dataset: refused when the input is opened
            return False

    def reads_alone(self) -> bool:
        """Whether each record is read alone: --alone, or an input of records (JSONL, CSV, parquet, datasets),
        each its own document; the lines of a plain-text input are read as one document."""
        return self.alone or guess_format(self.input, self.input_format) != "text"


@dataclass
class ChunkResult:
    """What the models found for one chunk: per record, None (rejected) or (route, the fields mtfix adds)."""

    chunk: int
    found: list[tuple[str, dict[str, Any]] | None] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"chunk": self.chunk, "found": self.found, "stats": self.stats}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "ChunkResult":
        obj = json.loads(text)
        return cls(obj["chunk"], [tuple(f) if f is not None else None for f in obj["found"]], obj["stats"])


# --- the journal --------------------------------------------------------------------------------------------

def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Journal:
    """Chunk results committed one transaction each, each with its checksum; its meta row pins the input and
    the settings. One run at a time holds it (a lock on OUT.lock)."""

    def __init__(self, path: Path, meta: dict[str, Any], restart: bool = False,
                 warn: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.lock_path = path.with_suffix(".lock")
        self._lock = _take_lock(self.lock_path)
        try:
            self._open(meta, restart, warn)
        except BaseException:
            self._release()
            raise

    def _open(self, meta: dict[str, Any], restart: bool, warn: Callable[[str], None] | None) -> None:
        path = self.path
        if restart:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        fresh = not path.exists()
        bad: list[int] = []
        try:
            self.db = sqlite3.connect(str(path), isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            if fresh:
                self.db.execute("BEGIN")
                self.db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
                self.db.execute("CREATE TABLE chunks (id INTEGER PRIMARY KEY, sha TEXT NOT NULL, result TEXT NOT NULL)")
                self.db.execute("INSERT INTO meta VALUES ('mtfix', ?)", (json.dumps(meta, sort_keys=True),))
                self.db.execute("COMMIT")
            found = self.db.execute("SELECT value FROM meta WHERE key = 'mtfix'").fetchone()
            if found is not None:
                stored = json.loads(found[0])
                if stored.get("version") != JOURNAL_VERSION:
                    raise InputError(f"the checkpoint {path} was written by another version of mtfix; rerun with "
                                     "--restart")
                for chunk, sha, text in self.db.execute("SELECT id, sha, result FROM chunks"):
                    if not isinstance(text, str) or sha != _digest(text) or not _loads(text, chunk):
                        bad.append(chunk)
                if bad:
                    self.db.executemany("DELETE FROM chunks WHERE id = ?", [(c,) for c in bad])
        except (sqlite3.DatabaseError, json.JSONDecodeError, UnicodeDecodeError) as err:
            raise InputError(f"the checkpoint {path} is corrupt ({err}); delete it or rerun with --restart") \
                from None
        if found is None:
            raise InputError(f"{path} is not an mtfix checkpoint; delete it or rerun with --restart")
        if stored != json.loads(json.dumps(meta, sort_keys=True)):
            changed = sorted(k for k in set(stored) | set(meta) if stored.get(k) != meta.get(k))
            if "settings" in changed:
                settings = stored.get("settings") or {}
                changed += sorted(k for k in set(settings) | set(meta["settings"])
                                  if settings.get(k) != meta["settings"].get(k))
                changed.remove("settings")
            raise InputError(f"the checkpoint {path} belongs to another run ({', '.join(changed)} differ); "
                             "rerun the same command, or start over with --restart")
        if bad and warn:
            warn(f"{len(bad)} damaged chunk(s) in the checkpoint {path} will be redone")

    def done(self) -> set[int]:
        return {row[0] for row in self._query("SELECT id FROM chunks")}

    def put(self, result: ChunkResult) -> None:
        text = result.to_json()
        # damage that reading the checkpoint did not meet (a free page, an index) shows when writing to it
        self._query("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?)", (result.chunk, _digest(text), text))

    def get(self, chunk: int) -> ChunkResult | None:
        rows = self._query("SELECT sha, result FROM chunks WHERE id = ?", (chunk,))
        if not rows:
            return None
        sha, text = rows[0]
        if sha != _digest(text):
            raise InputError(f"the checkpoint {self.path} changed while mtfix read it (chunk {chunk}); rerun")
        return ChunkResult.from_json(text)

    def ids(self) -> list[int]:
        return [row[0] for row in self._query("SELECT id FROM chunks ORDER BY id")]

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as err:
            raise InputError(f"the checkpoint {self.path} is corrupt ({err}); delete it or rerun with --restart") \
                from None

    def close(self) -> None:
        self.db.close()
        self._release()

    def remove(self) -> None:
        self.db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self.lock_path.unlink(missing_ok=True)
            self._lock.close()
            self._lock = None


COUNTS = ("records", "written", "words", "flagged_words", "rejected", "filtered", "edits")


def _loads(text: str, chunk: int) -> bool:
    """Whether a journal row holds this chunk's result in the shape the writer reads (a row with a valid
    checksum and another shape is damage too)."""
    try:
        result = ChunkResult.from_json(text)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return False
    stats = result.stats
    return (result.chunk == chunk and isinstance(stats, dict)
            and all(type(stats.get(k)) is int for k in COUNTS)
            and isinstance(stats.get("classes"), dict)
            and all(isinstance(k, str) and type(v) is int for k, v in stats["classes"].items())
            and isinstance(stats.get("density"), list) and len(stats["density"]) == len(DENSITY_BINS) - 1
            and all(type(v) is int for v in stats["density"])
            and all(found is None or (len(found) == 2 and found[0] in ("out", "filtered")
                                      and isinstance(found[1], dict)) for found in result.found))


def _take_lock(path: Path) -> Any:
    """An exclusive lock on OUT.lock, or a one-line refusal when another run holds it."""
    import fcntl

    try:
        stream = open(path, "a")
    except OSError as err:
        raise InputError(f"cannot write {path}: {err.strerror}") from None
    try:
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        stream.close()
        raise InputError(f"another mtfix clean is writing to this output ({path} is locked); wait for it, or give "
                         "another -o") from None
    return stream


# --- the work on one chunk ----------------------------------------------------------------------------------

class Cleaner:
    """What each worker holds: the models, loaded once, and the policy."""

    def __init__(self, config: CleanConfig) -> None:
        from mtfix.api import load

        self.config = config
        self.alone = config.reads_alone()  # else the lines of a plain text, read after the text before them
        self.mt = load(config.method, config.threshold, config.model, config.batch_size, config.fast,
                       config.corrector, config.min_score, config.swap_score, config.lm_gate, config.device,
                       alone=self.alone)
        self.correct = config.policy == "fix" or config.suggest

    def process(self, chunk: int, records: list[Record], before: str = "") -> ChunkResult:
        """The fields to add to each record of a chunk (records carry their text only: their other fields stay
        with the reader and are joined back when the outputs are written). ``before``: the input's text before
        the chunk (chunk_jobs), which a detector reading the lines of plain text as one document reads first."""
        result = ChunkResult(chunk)
        good = [r for r in records if r.text is not None and r.text.strip()]
        texts = [r.text for r in good if r.text is not None]
        before_text = None if self.alone else before
        if self.correct:
            fixed = self.mt.fix(texts, before=before_text) if texts else []
            found = [(f.spans, f.edits, f.fixed) for f in fixed]
        else:
            found = [(spans, None, None) for spans in (self.mt.detect(texts, before=before_text) if texts else [])]
        by_index = {r.index: f for r, f in zip(good, found)}
        stats: dict[str, Any] = {"records": len(records), "written": 0, "words": 0, "flagged_words": 0,
                                 "rejected": 0, "filtered": 0, "edits": 0, "classes": Counter(),
                                 "density": [0] * (len(DENSITY_BINS) - 1)}
        for record in records:
            if record.text is None:
                result.found.append(None)
                stats["rejected"] += 1
                continue
            blank = (([], [] if self.correct else None, record.text if self.correct else None))
            spans, edits, fixed_text = by_index.get(record.index, blank)
            tokens = tokenize(record.text)
            flagged = sum(1 for t in tokens if any(s.start < t.end and t.start < s.end for s in spans))
            density = 100.0 * flagged / max(1, len(tokens))
            added: dict[str, Any] = {"spans": [s.to_json(record.text) for s in spans]}
            if edits is not None:
                added["edits"] = [e.to_json(record.text) for e in edits]
                added["fixed"] = fixed_text
            added["density"] = round(density, 3)
            route = "filtered" if self.config.policy == "filter" and density > self.config.max_density else "out"
            result.found.append((route, added))
            stats["filtered" if route == "filtered" else "written"] += 1
            stats["words"] += len(tokens)
            stats["flagged_words"] += flagged
            stats["edits"] += len(edits or [])
            for span in spans:
                stats["classes"][span_class(span)] += 1
            stats["density"][next(i for i, hi in enumerate(DENSITY_BINS[1:]) if density < hi)] += 1
        stats["classes"] = dict(stats["classes"])
        result.stats = stats
        return result


def output_row(record: Record, added: dict[str, Any], config: CleanConfig) -> dict[str, Any]:
    """The record's own fields (plain text: its line and text) with mtfix's added; policy fix puts the fixed
    text in the text field and keeps the original in original_TEXTFIELD."""
    text_field = config.text_field
    assert record.text is not None
    row: dict[str, Any] = dict(record.fields) if record.fields is not None else \
        {"line": record.line, text_field: record.text}
    row.update(added)
    if config.policy == "fix" and added.get("fixed") is not None:
        row[f"original_{text_field}"] = record.text
        row[text_field] = added["fixed"]
    return row


def reject_row(record: Record) -> dict[str, Any]:
    """A rejected record with its line, reason and everything read of it (nothing lost: the rejects file and
    OUT together hold the whole input)."""
    row: dict[str, Any] = {"line": record.line, "record": record.index, "reason": record.error}
    if record.fields is not None:
        row["fields"] = jsonable(record.fields)
    if record.raw is not None:
        row.update(record.raw)
    return row


def output_format(config: CleanConfig) -> str:
    """--output-format, else the format OUT's extension names, else the input's (plain text: JSONL, unless the
    policy is fix, whose output is the fixed text)."""
    if config.output_format != "auto":
        return config.output_format
    named = format_of_name(config.output)
    if named is not None and not Path(config.output).is_dir():
        return named
    fmt = guess_format(config.input, config.input_format)
    if fmt == "text":
        return "text" if config.policy == "fix" else "jsonl"
    return fmt


# --- engines ------------------------------------------------------------------------------------------------

def chunks(records: Iterable[Record], size: int) -> Iterator[tuple[int, list[Record]]]:
    batch: list[Record] = []
    n = 0
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield n, batch
            n, batch = n + 1, []
    if batch:
        yield n, batch


Job = tuple[int, list[Record], str]  # a chunk's number, its records, and the input's text before it


def chunk_jobs(chunked: Iterable[tuple[int, list[Record]]], carry: bool = True) -> Iterator[Job]:
    """Each chunk with the end of the input's text before it (its readable, non-blank records' texts, one a line,
    the last BEFORE_CHARS characters, as `mtfix detect` carries it from batch to batch): taken from the input,
    not from results, so that chunks stay independent and a resumed run reads each chunk as the first run did.
    ``carry`` False (records read alone): "" for every chunk."""
    from mtfix.detect import BEFORE_CHARS

    before = ""
    for chunk, records in chunked:
        yield chunk, records, before
        if not carry:
            continue
        texts = [r.text for r in records if r.text is not None and r.text.strip()]
        before = "\n".join(t for t in (before, *texts) if t)[-BEFORE_CHARS:]


def _bare(records: list[Record]) -> list[Record]:
    """What a worker needs of each record: its position and text (not its fields, which may be large)."""
    return [Record(r.index, r.line, r.text, r.error) for r in records]


_WORKER: Cleaner | None = None


def _init_worker(config: CleanConfig, threads: int, parent: int) -> None:
    global _WORKER
    import torch

    watch_parent(parent)
    torch.set_num_threads(threads)
    os.environ.setdefault("MTFIX_NO_PROGRESS", "1")
    _WORKER = Cleaner(config)


def watch_parent(parent: int, every: float = 0.5) -> None:
    """End this worker process when the process that started it is gone (killed with SIGKILL, it cannot stop
    its workers itself): a thread that watches (the kernel's parent-death signal follows the thread that started
    the process, not the process)."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="mtfix-parent-watch", daemon=True).start()


def _work(job: Job) -> ChunkResult:
    assert _WORKER is not None
    return _WORKER.process(*job)


def most_workers(fast: bool) -> int:
    """How many worker processes this machine can hold: one per core, and as many as free memory allows."""
    cores = os.cpu_count() or 1
    try:
        with open("/proc/meminfo") as info:
            free = next(int(line.split()[1]) * 1024 for line in info if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return cores
    return max(1, min(cores, free // WORKER_MEMORY["fast" if fast else "full"]))


def check_workers(workers: int, fast: bool) -> None:
    """Refuse, in one line, more worker processes than this machine can hold (see most_workers)."""
    if workers < 1:
        raise InputError(f"--workers must be at least 1, not {workers}")
    cap = most_workers(fast)
    if workers > cap:
        raise InputError(f"--workers {workers} is more than this machine can run: at most {cap} "
                         f"({os.cpu_count()} cores, each worker needs about "
                         f"{WORKER_MEMORY['fast' if fast else 'full'] // GIB} GiB of free memory)")


def run_local(config: CleanConfig, jobs: Iterator[Job],
              put: Callable[[ChunkResult], None]) -> None:
    """One process, or ``workers`` processes each loading the models once; at most 2 chunks per worker are
    in flight, so memory stays flat however long the input. A worker that dies stops the run in one line; the
    chunks already done stay in the checkpoint."""
    if config.workers <= 1:
        cleaner = Cleaner(config)
        for chunk, records, before in jobs:
            put(cleaner.process(chunk, _bare(records), before))
        return
    import multiprocessing as mp
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, (os.cpu_count() or 1) // config.workers)
    pool = ProcessPoolExecutor(config.workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                               initargs=(config, threads, os.getpid()))
    try:
        pending: deque[Any] = deque()
        for chunk, records, before in jobs:
            pending.append(pool.submit(_work, (chunk, _bare(records), before)))
            while len(pending) >= 2 * config.workers or (pending and pending[0].done()):
                put(pending.popleft().result())
        while pending:
            put(pending.popleft().result())
    except BrokenProcessPool:
        raise WorkerDied(f"a worker process died (killed, perhaps for lack of memory); the finished chunks are "
                         f"kept in {config.output}.journal: rerun the same command to resume (fewer --workers "
                         "if memory is short)") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class RayCleaner:
    """A Ray Data actor: the models loaded once, then chunk after chunk."""

    def __init__(self, config: dict[str, Any]) -> None:
        import torch

        torch.set_num_threads(1)
        self.cleaner = Cleaner(CleanConfig(**config))

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        results = []
        for chunk, payload, before in zip(batch["chunk"], batch["payload"], batch["before"]):
            records = [Record(**r) for r in json.loads(payload)]
            results.append(self.cleaner.process(int(chunk), records, str(before)).to_json())
        return {"result": results}


RAY_CONNECT_TIMEOUT = 5.0  # seconds to reach a --ray-address before giving up


def check_ray_address(address: str) -> None:
    """Fail in one line, after a short stated wait, when nothing answers at a --ray-address host:port (Ray
    itself retries for a minute and a half)."""
    import socket

    if address in ("auto", "local"):
        return
    host_port = address.split("://", 1)[-1]
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--ray-address {address}: give HOST:PORT (or ray://HOST:PORT, or auto)")
    try:
        with socket.create_connection((host, int(port)), timeout=RAY_CONNECT_TIMEOUT) as conn:
            conn.settimeout(RAY_CONNECT_TIMEOUT)
            conn.sendall(H2_PREFACE)
            answer = _read(conn, 9)
    except OSError as err:
        raise InputError(f"no Ray cluster answers at {address} ({err.strerror or err}; waited at most "
                         f"{RAY_CONNECT_TIMEOUT:g} s)") from None
    if len(answer) < 9 or answer[3] != 4:  # a gRPC server opens with an HTTP/2 SETTINGS frame (type 4)
        raise InputError(f"what answers at {address} is not a Ray cluster (it does not speak gRPC); give the "
                         "address `ray start --head` printed")


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # and empty SETTINGS


def _read(conn: Any, n: int) -> bytes:
    """Up to ``n`` bytes from a socket: fewer where the peer closes first."""
    data = b""
    while len(data) < n:
        block = conn.recv(n - len(data))
        if not block:
            break
        data += block
    return data


def run_ray(config: CleanConfig, jobs: Iterator[Job],
            put: Callable[[ChunkResult], None], window: int = 512) -> None:
    """The same chunks through Ray Data: a pool of ``workers`` actors (models loaded once per actor), fed
    ``window`` chunks at a time; results are journalled as they arrive, so a rerun resumes the same way."""
    try:
        import ray
    except ImportError:
        raise InputError("--engine ray needs Ray: pip install 'ray[data]'") from None
    if not ray.is_initialized():  # clean() checked a --ray-address before anything was written
        try:
            ray.init(address=config.ray_address, include_dashboard=False, log_to_driver=False,
                     ignore_reinit_error=True, **({} if config.ray_address else {"num_cpus": max(2, config.workers)}))
        except Exception as err:  # Ray raises ConnectionError, RuntimeError, ValueError ... for a bad address
            where = f"the Ray cluster at {config.ray_address}" if config.ray_address else "a local Ray cluster"
            raise InputError(f"cannot start or join {where}: {str(err).splitlines()[0] if str(err) else err!r}") \
                from None
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.verbose_progress = False
    settings = {k: v for k, v in asdict(config).items()}
    while True:
        items = [{"chunk": chunk, "payload": json.dumps([asdict(r) for r in _bare(records)]), "before": before}
                 for chunk, records, before in _take(jobs, window)]
        if not items:
            break
        ds = ray.data.from_items(items).map_batches(
            RayCleaner, fn_constructor_kwargs={"config": settings}, batch_size=1,
            concurrency=max(1, config.workers), num_cpus=1)
        for row in ds.iter_rows():
            put(ChunkResult.from_json(row["result"]))


def _take(jobs: Iterator[Any], n: int) -> list[Any]:
    out = []
    for job in jobs:
        out.append(job)
        if len(out) == n:
            break
    return out


# --- the whole run ------------------------------------------------------------------------------------------

def merge_stats(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {"records": 0, "written": 0, "words": 0, "flagged_words": 0, "rejected": 0,
                             "filtered": 0, "edits": 0, "classes": Counter(), "density": [0] * (len(DENSITY_BINS) - 1)}
    for part in parts:
        for key in COUNTS:
            total[key] += part[key]
        total["classes"].update(part["classes"])
        total["density"] = [a + b for a, b in zip(total["density"], part["density"])]
    total["classes"] = dict(sorted(total["classes"].items(), key=lambda kv: (-kv[1], kv[0])))
    total["flags_per_100_words"] = round(100.0 * total["flagged_words"] / max(1, total["words"]), 3)
    total["density_bins"] = [f"{lo:g}-{hi:g}" if hi != float("inf") else f"{lo:g}+"
                             for lo, hi in zip(DENSITY_BINS, DENSITY_BINS[1:])]
    return total


def remove_temporaries(config: CleanConfig) -> None:
    """Remove the temporary files (and dataset folders) an earlier run of this OUT left when it was killed while
    writing its outputs: each output's own, named `.NAME.*.part` beside it (mtfix.text.outputs.temporary_beside)."""
    import shutil

    outputs = [config.output, *side_paths(config)]
    folder = Path(os.path.abspath(config.output)).parent
    names = "|".join(re.escape(os.path.basename(p)) for p in outputs)
    ours = re.compile(rf"\.({names})\.[a-z0-9_]{{8}}\.part")  # tempfile's names: eight random characters
    for left in folder.iterdir():
        if not ours.fullmatch(left.name):
            continue
        if left.is_dir() and not left.is_symlink():
            shutil.rmtree(left, ignore_errors=True)
        else:
            left.unlink(missing_ok=True)


def side_paths(config: CleanConfig) -> list[str]:
    """Every file a run writes beside OUT."""
    out = config.output
    paths = [f"{out}.rejects.jsonl", f"{out}.summary.json", f"{out}.summary.html", f"{out}.journal",
             f"{out}.journal-wal", f"{out}.journal-shm", f"{out}.lock"]
    if config.policy == "filter":
        paths.append(filtered_path(out))
    return paths


def check_outputs(config: CleanConfig, out_format: str) -> None:
    """OUT and every file beside it: never the input, never a device or FIFO (clean writes several files and
    renames them into place), never a folder mtfix did not write."""
    outputs = [config.output, *side_paths(config)]
    for path in outputs:
        if same_file(path, config.input) or (Path(config.input).is_dir() and
                                              Path(path).resolve().is_relative_to(Path(config.input).resolve())):
            raise InputError(f"-o {config.output} would write {path}, which is the input (or inside it); the "
                             "input is never modified: write elsewhere")
        if is_special(path):
            raise InputError(f"{path} is a device or pipe, not a file: mtfix clean writes OUT and files beside it "
                             "(rejects, summary), so give a path in a folder")
    for path in outputs[1:]:
        if Path(path).is_dir():
            raise InputError(f"{path} is a folder; mtfix clean writes a file there: move it, or give another -o")
    out = Path(config.output)
    if out.is_dir() and not (out_format == "dataset" and (out / MARKER).exists()):
        why = "a dataset folder mtfix did not write" if out_format == "dataset" else "a folder"
        raise InputError(f"-o {config.output} is {why}; mtfix never replaces a folder it did not write: give a new "
                         "name" + ("" if out_format == "dataset" else " for the output file"))
    if out.is_dir():
        if Path(config.input).resolve().is_relative_to(out.resolve()):
            raise InputError(f"the input {config.input} is inside -o {config.output}, which a dataset output "
                             "replaces whole: move the input out of it, or give another -o")
        foreign = foreign_files(out)
        if foreign:
            more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
            raise InputError(f"-o {config.output} holds {foreign[0]}{more}, which mtfix did not write; a dataset "
                             "output replaces the folder whole: move them, or give another -o")
    if out.exists() and not out.is_dir() and out_format == "dataset":
        raise InputError(f"-o {config.output} is a file; a dataset output is a folder: give a new name")
    if out_format == "text" and config.policy == "annotate":
        raise InputError(f"-o {config.output} is plain text, which cannot hold the flagged spans: give an OUT "
                         "ending in .jsonl (or --output-format jsonl), or --policy fix to write the fixed text")


SAVED = re.compile(r"data-[0-9]+-of-[0-9]+\.arrow|dataset_info\.json|state\.json")  # what save_to_disk writes


def foreign_files(folder: Path) -> list[str]:
    """What a dataset folder holds besides the files mtfix (through datasets' save_to_disk) writes there."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if not (p.parent == folder and p.is_file() and not p.is_symlink()
                          and (p.name == MARKER or SAVED.fullmatch(p.name))))


def _one_line(records: Iterator[Record]) -> Iterator[Record]:
    """For plain-text output: a text with a line break would become two lines; such records are rejected."""
    for record in records:
        if record.text is not None and any(c in record.text for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"):
            yield Record(record.index, record.line, None, "the text holds a line break, which plain-text output "
                         "cannot keep on one line (write CSV or JSONL)", record.fields, record.raw)
        else:
            yield record


def clean(config: CleanConfig, progress: Callable[[int, int], None] | None = None,
          warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the cleaning; returns the summary. ``progress(records, words)`` after each chunk."""
    if config.policy not in POLICIES:
        raise InputError(f"unknown policy {config.policy!r}; choose one of {', '.join(POLICIES)}")
    if config.engine not in ("local", "ray"):
        raise InputError(f"unknown engine {config.engine!r}; choose local or ray")
    check_input(config.input)
    in_format = guess_format(config.input, config.input_format)
    config.input_format = in_format
    out_format = output_format(config)
    check_outputs(config, out_format)
    check_columns(config.input, in_format, config.owned())
    if config.engine == "ray" and config.ray_address not in (None, "local"):
        check_ray_address(config.ray_address)  # a cluster's size is the cluster's to say
    else:
        check_workers(config.workers, config.fast)
    meta = {"version": JOURNAL_VERSION, "input": str(Path(config.input).resolve()),
            "input_fingerprint": fingerprint(config.input), "settings": config.settings()}

    def records() -> Iterator[Record]:
        found = read_records(config.input, in_format, config.text_field, config.owned())
        return _one_line(found) if out_format == "text" else found

    journal = Journal(Path(f"{config.output}.journal"), meta, config.restart, warn)
    try:
        remove_temporaries(config)  # a run killed while writing left them; this run holds OUT.lock
        done = journal.done()
        started = time.time()

        def put(result: ChunkResult) -> None:
            journal.put(result)
            if progress:
                progress(result.stats["records"], result.stats["words"])

        def pending() -> Iterator[Job]:
            for chunk, batch, before in chunk_jobs(chunks(records(), config.chunk_size), not config.reads_alone()):
                if chunk in done:
                    if progress:
                        progress(len(batch), sum(len(r.text.split()) for r in batch if r.text))
                    continue
                yield chunk, batch, before

        if config.engine == "ray":
            run_ray(config, pending(), put)
        else:
            run_local(config, pending(), put)
        summary = write_outputs(config, journal, records(), out_format, {"seconds": round(time.time() - started, 2),
                                                                         "resumed_chunks": len(done)})
    except BaseException:
        journal.close()
        raise
    journal.remove()
    return summary


def write_outputs(config: CleanConfig, journal: Journal, records: Iterable[Record], out_format: str,
                  extra: dict[str, Any]) -> dict[str, Any]:
    """OUT, OUT.rejects.jsonl, OUT.filtered (policy filter) and the summary, from the input joined with the
    journal in input order; each written whole under a temporary name, then renamed. In plain-text output
    under policy fix, a rejected record leaves an empty line, so that lines stay one to one with the input."""
    schema = input_schema(config.input, config.input_format) if out_format in ("parquet", "dataset") and \
        config.input_format == out_format else None
    writers = {"out": Writer(config.output, out_format, config.text_field, schema)}
    if config.policy == "filter":
        writers["filtered"] = Writer(filtered_path(config.output), out_format, config.text_field, schema)
    rejects = Writer(f"{config.output}.rejects.jsonl", "jsonl")
    blank_lines = out_format == "text" and config.policy == "fix"
    parts = []
    n_chunks = 0
    try:
        for chunk, batch in chunks(records, config.chunk_size):
            n_chunks = chunk + 1
            result = journal.get(chunk)
            if result is None or len(result.found) != len(batch):
                raise InputError(f"the checkpoint {journal.path} does not match the input at chunk {chunk}; rerun "
                                 "with --restart")
            for record, found in zip(batch, result.found):
                if found is None or record.text is None:
                    rejects.write(reject_row(record))
                    if blank_lines:
                        writers["out"].write({config.text_field: ""})
                    continue
                route, added = found
                writers[route].write(output_row(record, added, config))
            parts.append(result.stats)
        extra_ids = [i for i in journal.ids() if i >= n_chunks]
        if extra_ids:
            raise InputError(f"the checkpoint {journal.path} holds {len(extra_ids)} chunk(s) beyond the input's "
                             f"{n_chunks}; it was not written by this run: rerun with --restart")
        summary = merge_stats(parts)
        summary.update(input=config.input, output=config.output, policy=config.policy, format=out_format, **extra)
        for w in (*writers.values(), rejects):
            w.commit()
    except BaseException:
        for w in (*writers.values(), rejects):
            w.abandon()
        raise
    from mtfix.clean.report import write_summary

    write_summary(summary, Path(f"{config.output}.summary.json"), Path(f"{config.output}.summary.html"))
    return summary


def filtered_path(output: str) -> str:
    """OUT.filtered, keeping OUT's extension so that it reads as the same format (out.jsonl -> out.filtered.jsonl)."""
    p = Path(output)
    return str(p.with_name(f"{p.stem}.filtered{p.suffix}")) if p.suffix else f"{output}.filtered"
