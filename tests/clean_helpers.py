"""What the tests of `mtfix clean`'s guarantees share: a corpus, a run on the tiny models, an interrupted run, the
command line in process, and a process's children."""
import json
from pathlib import Path

import pytest

from mtfix.clean import CleanConfig, clean
from mtfix.cli import main

from .conftest import CLEAN


def run(capsys, *argv):
    """mtfix's command line in this process: its exit status, standard output and error (never a traceback)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def config(tiny_models, src, out, **kw) -> CleanConfig:
    """A clean run on the tiny models, three records a chunk."""
    tagger, corrector = tiny_models
    return CleanConfig(input=str(src), output=str(out), fast=True, model=str(tagger), corrector=str(corrector),
                       threshold=0.5, min_score=0.0, chunk_size=kw.pop("chunk_size", 3), **kw)


def corpus(path: Path, n: int = 12) -> Path:
    """A JSONL corpus of ``n`` records with an id and a clean sentence."""
    path.write_text("".join(json.dumps({"id": i, "text": CLEAN[i % len(CLEAN)]}) + "\n" for i in range(n)))
    return path


def interrupted(tiny_models, src, out, monkeypatch, after: int = 2, **kw) -> None:
    """A run stopped (as by Ctrl-C) after ``after`` chunks are committed; its journal stays."""
    from mtfix import clean as clean_module

    real = clean_module.Cleaner.process
    calls = {"n": 0}

    def process(self, chunk, records, before=""):
        calls["n"] += 1
        if calls["n"] > after:
            raise KeyboardInterrupt
        return real(self, chunk, records, before)

    monkeypatch.setattr(clean_module.Cleaner, "process", process)
    with pytest.raises(KeyboardInterrupt):
        clean(config(tiny_models, src, out, **kw))
    monkeypatch.setattr(clean_module.Cleaner, "process", real)
    assert Path(f"{out}.journal").exists() and not Path(out).exists()


def started_workers(proc, journal: Path, count: int = 2, wait: float = 120) -> list[int]:
    """The worker processes of a `mtfix clean --workers` run, once ``count`` of them run and its checkpoint is
    there (fewer if it never gets that far)."""
    import time

    deadline = time.time() + wait
    workers: list[int] = []
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        workers = [p for p in children(proc.pid)
                   if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")]
        if len(workers) == count and journal.exists():
            break
    return workers


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found
