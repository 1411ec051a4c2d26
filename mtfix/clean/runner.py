"""The work on each chunk (Cleaner) and the engines that run chunks: one process, a pool of worker
processes that die with their parent, or Ray Data."""
from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import asdict
from typing import Any, Callable, Iterable, Iterator

from mtfix.clean.corpus import Record
from mtfix.clean.journal import DENSITY_BINS, MT_BINS, ChunkResult, mt_bin
from mtfix.clean.settings import CleanConfig
from mtfix.detect import document_head
from mtfix.detect.document import Tally, rounded
from mtfix.errors import InputError, MtfixError
from mtfix.score import word_labels
from mtfix.text.spans import span_class
from mtfix.text.tokens import tokenize


class WorkerDied(MtfixError):
    """A worker process ended without a result (killed, often by the out-of-memory killer)."""


class Cleaner:
    """What each worker holds: the models, loaded once, and the policy."""

    def __init__(self, config: CleanConfig) -> None:
        from mtfix.api import from_settings

        self.config = config
        self.alone = config.reads_alone()  # else the lines of a plain text, read after the text before them
        self.mt = from_settings(config.detect_settings(), config.correct_settings())
        self.correct = config.corrects()
        self.head = document_head(self.mt.detector)

    def process(self, chunk: int, records: list[Record], before: str = "") -> ChunkResult:
        """The fields to add to each record of a chunk (records carry their text only: their other fields stay
        with the reader and are joined back when the outputs are written). ``before``: the input's text before
        the chunk (chunk_jobs), which a detector reading the lines of plain text as one document reads first."""
        result = ChunkResult(chunk)
        good = [r for r in records if r.text is not None and r.text.strip()]
        texts = [r.text for r in good if r.text is not None]
        before_text = None if self.alone else before
        tallies: list[Tally] = []
        options: dict[str, Any] = {"before": before_text, **({"tallies": tallies} if self.head is not None else {})}
        if self.correct:
            fixed = self.mt.fix(texts, **options) if texts else []
            found = [(f.spans, f.edits, f.fixed) for f in fixed]
        else:
            found = [(spans, None, None) for spans in (self.mt.detect(texts, **options) if texts else [])]
        by_index = {r.index: f for r, f in zip(good, found)}
        counted = {r.index: t for r, t in zip(good, tallies)}
        stats: dict[str, Any] = {"records": len(records), "written": 0, "words": 0, "flagged_words": 0,
                                 "rejected": 0, "filtered": 0, "edits": 0, "classes": Counter(),
                                 "density": [0] * (len(DENSITY_BINS) - 1),
                                 "mt_probability": [0] * (len(MT_BINS) - 1)}
        if not self.alone and self.head is not None:  # the lines of one document: its tally, summed at the end
            stats["tally"] = sum(counted.values(), Tally()).to_json()
        for record in records:
            if record.text is None:
                result.found.append(None)
                stats["rejected"] += 1
                continue
            blank = (([], [] if self.correct else None, record.text if self.correct else None))
            spans, edits, fixed_text = by_index.get(record.index, blank)
            tokens = tokenize(record.text)
            flagged = sum(word_labels(tokens, spans))  # the words a (non-empty) span touches, as score counts
            density = 100.0 * flagged / max(1, len(tokens))
            added: dict[str, Any] = {"spans": [s.to_json(record.text) for s in spans]}
            if edits is not None:
                added["edits"] = [e.to_json(record.text) for e in edits]
                added["fixed"] = fixed_text
            added["density"] = round(density, 3)
            p = None
            if self.alone and record.index in counted:  # each record its own document
                p = rounded(self.head.probability(counted[record.index]))
                if p is not None:
                    added["mt_probability"] = p
                    stats["mt_probability"][mt_bin(p)] += 1
            limit = self.config.max_mt_probability
            route = "filtered" if self.config.policy == "filter" and (
                density > self.config.max_density or (limit is not None and p is not None and p > limit)) else "out"
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

    pool = ProcessPoolExecutor(config.workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                               initargs=(config, config.threads(), os.getpid()))
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

        settings = CleanConfig(**config)
        torch.set_num_threads(settings.threads())
        self.cleaner = Cleaner(settings)

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
