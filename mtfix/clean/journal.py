"""The checkpoint of a `mtfix clean` run: each chunk's result committed to SQLite (OUT.journal) in one
transaction with its checksum, the meta row pinning the input and every setting that changes an output byte."""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mtfix.errors import InputError

DENSITY_BINS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, float("inf"))  # flagged words per 100
MT_BINS = tuple(i / 10 for i in range(11))  # documents by MT probability, in tenths


def mt_bin(p: float) -> int:
    """The MT_BINS bin of an MT probability (1.0 in the last)."""
    return min(int(p * 10), len(MT_BINS) - 2)


JOURNAL_VERSION = 2


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
