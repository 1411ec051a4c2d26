"""What a hostile user tries on `mtfix clean`, second round (docs/guarantees.md): each holds, or is refused in one
line with nothing lost."""
import csv
import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mtfix.clean import CleanConfig, clean
from mtfix.errors import InputError

from ..clean_helpers import config, corpus, interrupted, run, started_workers
from ..conftest import CLEAN

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "MTFIX_NO_PROGRESS": "1"}


def cli_options(tiny_models) -> list[str]:
    tagger, corrector = tiny_models
    return ["--fast", "--model", str(tagger), "--corrector", str(corrector), "--threshold", "0.5",
            "--chunk-size", "3"]


# --- data lost or silently changed ----------------------------------------------------------------------------

def test_a_dataset_output_never_replaces_a_folder_that_holds_the_input(tiny_models, tmp_path, capsys):
    src = tmp_path / "a.jsonl"
    src.write_text('{"text":"Hello there."}\n')
    ds = tmp_path / "ds"
    clean(config(tiny_models, src, ds, output_format="dataset"))
    inside = ds / "in.jsonl"
    inside.write_bytes(src.read_bytes())
    capsys.readouterr()
    code, _, err = run(capsys, "clean", *cli_options(tiny_models), inside, "-o", ds, "--output-format", "dataset")
    assert code == 1 and "inside -o" in err and len(err.strip().splitlines()) == 1
    assert inside.read_bytes() == src.read_bytes()


def test_a_dataset_output_never_replaces_a_folder_that_holds_files_mtfix_did_not_write(tiny_models, tmp_path):
    src = corpus(tmp_path / "a.jsonl", 3)
    ds = tmp_path / "ds"
    clean(config(tiny_models, src, ds, output_format="dataset"))
    (ds / "notes.md").write_text("mine")
    with pytest.raises(InputError, match="holds notes.md, which mtfix did not write"):
        clean(config(tiny_models, src, ds, output_format="dataset"))
    assert (ds / "notes.md").read_text() == "mine"
    (ds / "notes.md").unlink()
    clean(config(tiny_models, src, ds, output_format="dataset"))  # only mtfix's files again: replaced
    assert sorted(p.name for p in ds.iterdir() if not p.name.endswith(".arrow")) == \
        [".mtfix-output", "dataset_info.json", "state.json"]


@pytest.mark.parametrize("side", ["journal-shm", "journal-wal"])
def test_a_journal_side_file_linked_to_the_input_is_refused(tiny_models, tmp_path, side):
    src = corpus(tmp_path / "in.jsonl")
    before = src.read_bytes()
    out = tmp_path / "out.jsonl"
    os.link(src, f"{out}.{side}")
    with pytest.raises(InputError, match=re.escape(f"would write {out}.{side}, which is the input")):
        clean(config(tiny_models, src, out))
    assert src.read_bytes() == before and not out.exists() and not Path(f"{out}.journal").exists()


def test_a_csv_with_two_columns_of_one_name_is_refused(tiny_models, tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("note,note,text\na,b,The council met.\n")
    code, _, err = run(capsys, "clean", *cli_options(tiny_models), src, "-o", tmp_path / "out.csv")
    assert code == 1 and "more than one column named 'note'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.csv").exists() and not Path(f"{tmp_path / 'out.csv'}.journal").exists()
    src.write_text(",,text\na,b,The council met.\n")
    with pytest.raises(InputError, match="more than one column named ''"):
        clean(config(tiny_models, src, tmp_path / "out.csv"))


def test_a_csv_column_with_an_empty_name_is_kept(tiny_models, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(",text\n7,The council met on Monday.\n")
    clean(config(tiny_models, src, tmp_path / "out.csv"))
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert rows[0][""] == "7" and rows[0]["text"] == "The council met on Monday."


@pytest.mark.parametrize("field", ["spans", "density", "edits", "fixed", "original_text"])
def test_a_record_holding_a_field_mtfix_writes_is_rejected_whole(tiny_models, tmp_path, field):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": CLEAN[0], field: "my gold annotation"}) + "\n"
                   + json.dumps({"text": CLEAN[1]}) + "\n")
    summary = clean(config(tiny_models, src, tmp_path / "out.jsonl", policy="fix"))
    rejects = [json.loads(line) for line in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()]
    assert summary["written"] == 1 and summary["rejected"] == 1
    assert rejects[0]["fields"] == {"text": CLEAN[0], field: "my gold annotation"} and field in rejects[0]["reason"]


def test_a_column_named_as_a_field_mtfix_writes_is_refused(tiny_models, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": [CLEAN[0]], "density": ["high"]}), src)
    with pytest.raises(InputError, match="column\\(s\\) density, which mtfix clean writes"):
        clean(config(tiny_models, src, tmp_path / "out.parquet"))
    csv_src = tmp_path / "in.csv"
    csv_src.write_text("text,spans\nThe council met.,my gold\n")
    with pytest.raises(InputError, match="column\\(s\\) spans"):
        clean(config(tiny_models, csv_src, tmp_path / "out.csv"))
    # the columns a run does not write are the user's: "fixed" is mtfix's only where it corrects
    csv_src.write_text("text,fixed\nThe council met.,yes\n")
    clean(config(tiny_models, csv_src, tmp_path / "out.csv"))
    assert list(csv.DictReader((tmp_path / "out.csv").open()))[0]["fixed"] == "yes"
    with pytest.raises(InputError, match="column\\(s\\) fixed"):
        clean(config(tiny_models, csv_src, tmp_path / "out2.csv", suggest=True))


def test_a_long_csv_field_is_kept_and_a_too_long_text_rejected_with_its_content(tiny_models, tmp_path):
    src = tmp_path / "in.csv"
    notes = "n" * 150_000  # past csv's own field limit (131,072)
    too_long = "x" * 300_000
    src.write_text(f"notes,text\n{notes},{CLEAN[0]}\n,{too_long}\n")
    summary = clean(config(tiny_models, src, tmp_path / "out.csv"))
    rejects = [json.loads(line) for line in (tmp_path / "out.csv.rejects.jsonl").read_text().splitlines()]
    assert summary["written"] == 1 and [r["line"] for r in rejects] == [3]
    assert rejects[0]["fields"] == {"notes": "", "text": too_long} and "too long" in rejects[0]["reason"]
    csv.field_size_limit(1 << 20)
    assert next(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))["notes"] == notes


# --- resumes that would mix two runs ------------------------------------------------------------------------

def test_an_input_changed_past_its_first_mib_with_size_and_time_restored_is_not_resumed(tiny_models, tmp_path,
                                                                                       monkeypatch):
    src = tmp_path / "in.txt"
    lines = [CLEAN[i % len(CLEAN)] for i in range(50_000)]
    src.write_text("\n".join(lines) + "\n")
    assert src.stat().st_size > 3 << 20
    out = tmp_path / "out.jsonl"
    interrupted(tiny_models, src, out, monkeypatch, chunk_size=8)
    stamp = src.stat()
    data = bytearray(src.read_bytes())
    at = data.index(b"wheat", 3 << 19)  # past the first MiB, before the last
    data[at:at + 5] = b"maize"
    src.write_bytes(bytes(data))
    os.utime(src, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert src.stat().st_size == stamp.st_size and src.stat().st_mtime_ns == stamp.st_mtime_ns
    with pytest.raises(InputError, match="input_fingerprint differ"):
        clean(config(tiny_models, src, out, chunk_size=8))


def test_a_dictionary_installed_under_a_journal_is_in_its_key(tmp_path, monkeypatch):
    from mtfix.detect import pivot

    missing = CleanConfig(input="x", output="y")
    monkeypatch.setattr(pivot, "DICT_PATH", tmp_path / "de-en")
    assert missing.settings()["dictionary"] == "missing"
    (tmp_path / "de-en").write_text("Haus :: house\n")
    first = missing.settings()["dictionary"]
    (tmp_path / "de-en").write_text("Haus :: home\n")
    assert first not in ("missing", missing.settings()["dictionary"])


@pytest.mark.parametrize("shape", ['{"chunk": 1, "found": [], "stats": {}}',
                                   '{"chunk": 1, "found": [["out"]], "stats": {"records": 1}}',
                                   '{"chunk": 1, "found": 5, "stats": []}'])
def test_a_journal_row_of_the_wrong_shape_is_redone(tiny_models, tmp_path, monkeypatch, capsys, shape):
    import hashlib

    src = corpus(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    interrupted(tiny_models, src, out, monkeypatch)
    with sqlite3.connect(f"{out}.journal") as db:
        db.execute("UPDATE chunks SET sha = ?, result = ? WHERE id = 1",
                   (hashlib.sha256(shape.encode()).hexdigest(), shape))
    capsys.readouterr()
    code, _, err = run(capsys, "clean", *cli_options(tiny_models), "--min-score", "0", src, "-o", out)
    assert code == 0 and "1 damaged chunk(s)" in err
    clean(config(tiny_models, src, tmp_path / "ref.jsonl"))
    assert out.read_bytes() == (tmp_path / "ref.jsonl").read_bytes()


# --- processes and files left behind --------------------------------------------------------------------------

def test_workers_die_with_their_parent(tiny_models, tmp_path):
    src = corpus(tmp_path / "in.jsonl", 4000)
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "mtfix", "clean", str(src), "-o", str(out),
                             *cli_options(tiny_models), "--chunk-size", "2", "--workers", "2"],
                            env=ENV, cwd=ROOT, stderr=subprocess.DEVNULL)
    workers = started_workers(proc, Path(f"{out}.journal"))
    assert len(workers) == 2, "the workers never started"
    proc.kill()
    proc.wait()
    deadline = time.time() + 20
    while time.time() < deadline and any(Path(f"/proc/{p}").exists() for p in workers):
        time.sleep(0.2)
    alive = [p for p in workers if Path(f"/proc/{p}").exists()]
    for p in alive:
        os.kill(p, signal.SIGKILL)
    assert not alive, "workers outlived their parent"


def test_the_next_run_removes_the_temporary_files_a_killed_run_left(tiny_models, tmp_path):
    src = corpus(tmp_path / "in.jsonl", 3)
    out = tmp_path / "out.jsonl"
    left = [tmp_path / ".out.jsonl.ab_cd123.part", tmp_path / ".out.jsonl.rejects.jsonl.x1y2z3w4.part"]
    for path in left:
        path.write_text("half")
    (tmp_path / ".out.jsonl.summary.html.folder00.part").mkdir()
    theirs = [tmp_path / ".other.jsonl.ab_cd123.part", tmp_path / ".out.jsonl.notes.part", tmp_path / "out.jsonl.part"]
    for path in theirs:
        path.write_text("not mtfix's")
    clean(config(tiny_models, src, out))
    assert not any(p.exists() for p in left) and not (tmp_path / ".out.jsonl.summary.html.folder00.part").exists()
    assert all(p.read_text() == "not mtfix's" for p in theirs)
    assert set(tmp_path.glob(".out.jsonl*.part")) == {tmp_path / ".out.jsonl.notes.part"}


def test_sigterm_mid_run_leaves_the_checkpoint_and_no_temporary(tiny_models, tmp_path):
    src = corpus(tmp_path / "in.jsonl", 3000)
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "mtfix", "clean", str(src), "-o", str(out),
                             *cli_options(tiny_models)], env=ENV, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    journal = Path(f"{out}.journal")
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not journal.exists():
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert journal.exists() and not out.exists() and not list(tmp_path.glob(".*.part"))
    assert not Path(f"{out}.lock").exists()


@pytest.mark.parametrize("kind", ["fifo", "substitution"])
def test_a_pipe_as_input_is_refused_before_anything_is_written(tiny_models, tmp_path, kind):
    out = tmp_path / "out.jsonl"
    if kind == "fifo":
        fifo = tmp_path / "in.jsonl"
        os.mkfifo(fifo)
        argv = [sys.executable, "-m", "mtfix", "clean", str(fifo), "-o", str(out), *cli_options(tiny_models)]
        proc = subprocess.run(argv, env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=60)
    else:
        command = (f"{sys.executable} -m mtfix clean <(printf '{{\"text\": \"Hello there.\"}}\\n') -o {out} "
                   + " ".join(cli_options(tiny_models)))
        proc = subprocess.run(["bash", "-c", command], env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "is a pipe or device, not a file" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == (["in.jsonl"] if kind == "fifo" else [])


def test_outputs_honour_the_umask_and_keep_an_existing_files_mode(tiny_models, tmp_path):
    src = corpus(tmp_path / "in.jsonl", 3)
    old = os.umask(0o002)
    try:
        clean(config(tiny_models, src, tmp_path / "out.jsonl"))
        for name in ("out.jsonl", "out.jsonl.summary.json", "out.jsonl.summary.html", "out.jsonl.rejects.jsonl"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o664, name
        os.chmod(tmp_path / "out.jsonl", 0o640)
        clean(config(tiny_models, src, tmp_path / "out.jsonl", suggest=True))
        assert stat.S_IMODE((tmp_path / "out.jsonl").stat().st_mode) == 0o640
        clean(config(tiny_models, src, tmp_path / "ds", output_format="dataset"))
        assert stat.S_IMODE((tmp_path / "ds").stat().st_mode) == 0o775
        os.chmod(tmp_path / "ds", 0o750)
        clean(config(tiny_models, src, tmp_path / "ds", output_format="dataset", suggest=True))
        assert stat.S_IMODE((tmp_path / "ds").stat().st_mode) == 0o750
    finally:
        os.umask(old)


class _Listener:
    """A TCP server on loopback that is not Ray: it says nothing, or answers like a web server."""

    def __init__(self, reply: bytes | None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            if self.reply is not None:
                conn.sendall(self.reply)

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.mark.parametrize("reply", [None, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"])
def test_a_ray_address_that_is_not_ray_is_one_line_in_bounded_time(tiny_models, tmp_path, capsys, reply):
    listener = _Listener(reply)
    try:
        src = corpus(tmp_path / "in.jsonl")
        started = time.time()
        code, _, err = run(capsys, "clean", src, "-o", tmp_path / "out.jsonl", "--fast", "--engine", "ray",
                           "--ray-address", f"127.0.0.1:{listener.port}")
    finally:
        listener.close()
    assert code == 1 and time.time() - started < 30 and len(err.strip().splitlines()) == 1
    assert "cannot write" not in err
    assert ("not a Ray cluster" in err) if reply else ("no Ray cluster answers" in err)
    assert not (tmp_path / "out.jsonl.journal").exists()


def test_workers_are_capped_for_a_local_ray_address(tiny_models, tmp_path, capsys):
    src = corpus(tmp_path / "in.jsonl")
    code, _, err = run(capsys, "clean", src, "-o", tmp_path / "out.jsonl", "--fast", "--engine", "ray",
                       "--ray-address", "local", "--workers", "100000")
    assert code == 1 and "--workers 100000 is more than this machine can run" in err


def test_a_run_killed_with_one_worker_count_is_not_resumed_with_another(tiny_models, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # two workers: a thread each, against two for one worker
    src = corpus(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    interrupted(tiny_models, src, out, monkeypatch)
    with pytest.raises(InputError, match="threads differ"):
        clean(config(tiny_models, src, out, workers=2))
    assert Path(f"{out}.journal").exists() and not out.exists()
