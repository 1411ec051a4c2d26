"""`mtfix clean`: a corpus through the detector (and the corrector), resumable, nothing lost.

Records are read as a stream and cut into chunks of ``chunk_size``; each chunk's results are committed to an
SQLite journal (OUT.journal) in one transaction. A rerun of the same command skips the chunks the journal has,
so a run killed at any moment continues where it stopped. When every chunk is in, the outputs are written
from the journal in input order under temporary names and renamed into place; then the journal is removed.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .corpus import Record, Writer, default_output_format, fingerprint, guess_format, read_records
from .errors import InputError
from .text import tokenize

POLICIES = ("annotate", "fix", "filter")
DENSITY_BINS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, float("inf"))  # flagged words per 100
JOURNAL_VERSION = 1


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
    batch_size: int = 32
    restart: bool = False

    def settings(self) -> dict[str, Any]:
        """What changes the outputs: a journal written under other settings is not reused."""
        keys = ("text_field", "policy", "suggest", "min_score", "swap_score", "max_density", "chunk_size", "fast",
                "method", "threshold", "lm_gate", "model", "corrector", "input_format", "output_format")
        # lm_gate is named only when given, so that a journal written before the option existed still resumes
        return {k: getattr(self, k) for k in keys if k != "lm_gate" or self.lm_gate is not None}


@dataclass
class ChunkResult:
    chunk: int
    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (route "out" | "filtered", record)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


# --- the journal --------------------------------------------------------------------------------------------

class Journal:
    """Chunk results committed one transaction each; its meta row pins the input and the settings."""

    def __init__(self, path: Path, meta: dict[str, Any], restart: bool = False) -> None:
        self.path = path
        if restart and path.exists():
            path.unlink()
        fresh = not path.exists()
        try:
            self.db = sqlite3.connect(str(path), isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            if fresh:
                self.db.execute("BEGIN")
                self.db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
                self.db.execute("CREATE TABLE chunks (id INTEGER PRIMARY KEY, result TEXT NOT NULL)")
                self.db.execute("INSERT INTO meta VALUES ('mtfix', ?)", (json.dumps(meta, sort_keys=True),))
                self.db.execute("COMMIT")
            found = self.db.execute("SELECT value FROM meta WHERE key = 'mtfix'").fetchone()
        except sqlite3.DatabaseError as err:
            raise InputError(f"the checkpoint {path} is corrupt ({err}); delete it or rerun with --restart") \
                from None
        if found is None:
            raise InputError(f"{path} is not an mtfix checkpoint; delete it or rerun with --restart")
        stored = json.loads(found[0])
        if stored != json.loads(json.dumps(meta, sort_keys=True)):
            changed = sorted(k for k in set(stored) | set(meta) if stored.get(k) != meta.get(k))
            raise InputError(f"the checkpoint {path} belongs to another run ({', '.join(changed)} differ); "
                             "rerun the same command, or start over with --restart")

    def done(self) -> set[int]:
        return {row[0] for row in self.db.execute("SELECT id FROM chunks")}

    def put(self, result: ChunkResult) -> None:
        self.db.execute("INSERT OR REPLACE INTO chunks VALUES (?, ?)", (result.chunk, json.dumps(asdict(result))))

    def results(self) -> Iterator[ChunkResult]:
        for (text,) in self.db.execute("SELECT result FROM chunks ORDER BY id"):
            obj = json.loads(text)
            yield ChunkResult(obj["chunk"], [tuple(r) for r in obj["rows"]], obj["rejects"], obj["stats"])

    def remove(self) -> None:
        self.db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


# --- the work on one chunk ----------------------------------------------------------------------------------

class Cleaner:
    """What each worker holds: the models, loaded once, and the policy."""

    def __init__(self, config: CleanConfig) -> None:
        from .api import load

        self.config = config
        self.mt = load(config.method, config.threshold, config.model, config.batch_size, config.fast,
                       config.corrector, config.min_score, config.swap_score, config.lm_gate)
        self.correct = config.policy == "fix" or config.suggest
        self.out_format = output_format(config)

    def process(self, chunk: int, records: list[Record]) -> ChunkResult:
        result = ChunkResult(chunk)
        good = [r for r in records if r.text is not None]
        texts = [r.text for r in good if r.text is not None]
        if self.correct:
            fixed = self.mt.fix(texts) if texts else []
            found = [(f.spans, f.edits, f.fixed) for f in fixed]
        else:
            found = [(spans, None, None) for spans in (self.mt.detect(texts) if texts else [])]
        by_index = {r.index: f for r, f in zip(good, found)}
        stats: dict[str, Any] = {"records": len(records), "written": 0, "words": 0, "flagged_words": 0,
                                 "rejected": 0, "filtered": 0, "edits": 0, "classes": Counter(),
                                 "density": [0] * (len(DENSITY_BINS) - 1)}
        for record in records:
            if record.text is None:
                result.rejects.append({"line": record.line, "record": record.index, "reason": record.error,
                                       **({"fields": _jsonable(record.fields)} if record.fields is not None else {})})
                stats["rejected"] += 1
                continue
            spans, edits, fixed_text = by_index[record.index]
            tokens = tokenize(record.text)
            flagged = sum(1 for t in tokens if any(s.start < t.end and t.start < s.end for s in spans))
            density = 100.0 * flagged / max(1, len(tokens))
            row = self._row(record, spans, edits, fixed_text, density)
            route = "filtered" if self.config.policy == "filter" and density > self.config.max_density else "out"
            result.rows.append((route, row))
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

    def _row(self, record: Record, spans: Any, edits: Any, fixed_text: str | None, density: float) -> dict[str, Any]:
        text_field = self.config.text_field
        assert record.text is not None
        row: dict[str, Any] = dict(_jsonable(record.fields)) if record.fields is not None else \
            {"line": record.line, text_field: record.text}
        row["spans"] = [s.to_json(record.text) for s in spans]
        if edits is not None:
            row["edits"] = [e.to_json(record.text) for e in edits]
            row["fixed"] = fixed_text
        row["density"] = round(density, 3)
        if self.config.policy == "fix" and fixed_text is not None:
            row[f"original_{text_field}"] = record.text
            row[text_field] = fixed_text
        return row


def span_class(span: Any) -> str:
    """The kind of artifact a span looks like: the candidate that fired (pivot, spelling, case, spacing,
    pronoun, article) where the fused detector saw one, else its label."""
    kind = (span.evidence or {}).get("kind")
    return str(kind) if kind else span.label


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(fields, ensure_ascii=False, default=str))


def output_format(config: CleanConfig) -> str:
    fmt = guess_format(config.input, config.input_format)
    return default_output_format(fmt) if config.output_format == "auto" else config.output_format


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


_WORKER: Cleaner | None = None


def _init_worker(config: CleanConfig, threads: int) -> None:
    global _WORKER
    import torch

    torch.set_num_threads(threads)
    os.environ.setdefault("MTFIX_NO_PROGRESS", "1")
    _WORKER = Cleaner(config)


def _work(job: tuple[int, list[Record]]) -> ChunkResult:
    assert _WORKER is not None
    return _WORKER.process(*job)


def run_local(config: CleanConfig, jobs: Iterator[tuple[int, list[Record]]],
              put: Callable[[ChunkResult], None]) -> None:
    """One process, or ``workers`` processes each loading the models once; at most 2 chunks per worker are
    in flight, so memory stays flat however long the input."""
    if config.workers <= 1:
        cleaner = Cleaner(config)
        for chunk, records in jobs:
            put(cleaner.process(chunk, records))
        return
    import multiprocessing as mp
    from collections import deque

    threads = max(1, (os.cpu_count() or 1) // config.workers)
    ctx = mp.get_context("spawn")
    with ctx.Pool(config.workers, initializer=_init_worker, initargs=(config, threads)) as pool:
        pending: deque[Any] = deque()
        for job in jobs:
            pending.append(pool.apply_async(_work, (job,)))
            while len(pending) >= 2 * config.workers or (pending and pending[0].ready()):
                put(pending.popleft().get())
        while pending:
            put(pending.popleft().get())


class RayCleaner:
    """A Ray Data actor: the models loaded once, then chunk after chunk."""

    def __init__(self, config: dict[str, Any]) -> None:
        import torch

        torch.set_num_threads(1)
        self.cleaner = Cleaner(CleanConfig(**config))

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        results = []
        for chunk, payload in zip(batch["chunk"], batch["payload"]):
            records = [Record(**r) for r in json.loads(payload)]
            results.append(json.dumps(asdict(self.cleaner.process(int(chunk), records))))
        return {"result": results}


def run_ray(config: CleanConfig, jobs: Iterator[tuple[int, list[Record]]],
            put: Callable[[ChunkResult], None], window: int = 512) -> None:
    """The same chunks through Ray Data: a pool of ``workers`` actors (models loaded once per actor), fed
    ``window`` chunks at a time; results are journalled as they arrive, so a rerun resumes the same way."""
    try:
        import ray
    except ImportError:
        raise InputError("--engine ray needs Ray: pip install 'ray[data]'") from None
    if not ray.is_initialized():
        ray.init(address=config.ray_address, include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True, **({} if config.ray_address else {"num_cpus": max(2, config.workers)}))
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.verbose_progress = False
    settings = {k: v for k, v in asdict(config).items()}
    while True:
        items = [{"chunk": chunk, "payload": json.dumps([asdict(r) for r in records])}
                 for chunk, records in _take(jobs, window)]
        if not items:
            break
        ds = ray.data.from_items(items).map_batches(
            RayCleaner, fn_constructor_kwargs={"config": settings}, batch_size=1,
            concurrency=max(1, config.workers), num_cpus=1)
        for row in ds.iter_rows():
            obj = json.loads(row["result"])
            put(ChunkResult(obj["chunk"], [tuple(r) for r in obj["rows"]], obj["rejects"], obj["stats"]))


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
        for key in ("records", "written", "words", "flagged_words", "rejected", "filtered", "edits"):
            total[key] += part[key]
        total["classes"].update(part["classes"])
        total["density"] = [a + b for a, b in zip(total["density"], part["density"])]
    total["classes"] = dict(sorted(total["classes"].items(), key=lambda kv: (-kv[1], kv[0])))
    total["flags_per_100_words"] = round(100.0 * total["flagged_words"] / max(1, total["words"]), 3)
    total["density_bins"] = [f"{lo:g}-{hi:g}" if hi != float("inf") else f"{lo:g}+"
                             for lo, hi in zip(DENSITY_BINS, DENSITY_BINS[1:])]
    return total


def clean(config: CleanConfig, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the cleaning; returns the summary. ``progress(records, words)`` after each chunk."""
    if config.policy not in POLICIES:
        raise InputError(f"unknown policy {config.policy!r}; choose one of {', '.join(POLICIES)}")
    if not Path(config.input).exists():
        raise InputError(f"{config.input}: no such file")
    if Path(config.output).exists() and Path(config.input).exists() and \
            Path(config.output).resolve() == Path(config.input).resolve():
        raise InputError(f"-o {config.output} is the input; the input is never modified: write elsewhere")
    in_format = guess_format(config.input, config.input_format)
    config.input_format = in_format
    out_format = output_format(config)
    meta = {"version": JOURNAL_VERSION, "input": str(Path(config.input).resolve()),
            "input_fingerprint": fingerprint(config.input), "settings": config.settings()}
    journal = Journal(Path(f"{config.output}.journal"), meta, config.restart)
    done = journal.done()
    started = time.time()

    def put(result: ChunkResult) -> None:
        journal.put(result)
        if progress:
            progress(result.stats["records"], result.stats["words"])

    def pending() -> Iterator[tuple[int, list[Record]]]:
        for chunk, records in chunks(read_records(config.input, in_format, config.text_field), config.chunk_size):
            if chunk in done:
                if progress:
                    progress(len(records), sum(len(r.text.split()) for r in records if r.text))
                continue
            yield chunk, records

    if config.engine == "ray":
        run_ray(config, pending(), put)
    elif config.engine == "local":
        run_local(config, pending(), put)
    else:
        raise InputError(f"unknown engine {config.engine!r}; choose local or ray")
    summary = write_outputs(config, journal, out_format, {"seconds": round(time.time() - started, 2),
                                                          "resumed_chunks": len(done)})
    journal.remove()
    return summary


def write_outputs(config: CleanConfig, journal: Journal, out_format: str, extra: dict[str, Any]) -> dict[str, Any]:
    """OUT, OUT.rejects.jsonl, OUT.filtered (policy filter) and the summary, from the journal in input order;
    each written whole under a temporary name, then renamed."""
    writers = {"out": Writer(config.output, out_format, config.text_field)}
    if config.policy == "filter":
        writers["filtered"] = Writer(filtered_path(config.output), out_format, config.text_field)
    rejects = Writer(f"{config.output}.rejects.jsonl", "jsonl")
    parts = []
    try:
        for result in journal.results():
            for route, row in result.rows:
                writers[route].write(row)
            for reject in result.rejects:
                rejects.write(reject)
            parts.append(result.stats)
    except BaseException:
        for w in (*writers.values(), rejects):
            w.abandon()
        raise
    summary = merge_stats(parts)
    summary.update(input=config.input, output=config.output, policy=config.policy, format=out_format, **extra)
    for w in (*writers.values(), rejects):
        w.commit()
    from .report import write_summary

    write_summary(summary, Path(f"{config.output}.summary.json"), Path(f"{config.output}.summary.html"))
    return summary


def filtered_path(output: str) -> str:
    """OUT.filtered, keeping OUT's extension so that it reads as the same format (out.jsonl -> out.filtered.jsonl)."""
    p = Path(output)
    return str(p.with_name(f"{p.stem}.filtered{p.suffix}")) if p.suffix else f"{output}.filtered"
