"""What mtfix promises whatever the user types: nothing it did not write is deleted or changed, resume is exact,
and bad input or a bad option is one line, never a traceback (docs/guarantees.md)."""
import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtfix.clean import WorkerDied, _take_lock, clean
from mtfix.errors import InputError

from .clean_helpers import config, corpus, interrupted, run, started_workers
from .conftest import CLEAN

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "MTFIX_NO_PROGRESS": "1"}


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under a folder: a file's bytes, or the kind of anything else."""
    found: dict[str, bytes | str] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            found[str(p)] = "link:" + os.readlink(p)
        elif p.is_file():
            found[str(p)] = p.read_bytes()
        else:
            found[str(p)] = "folder" if p.is_dir() else "special"
    return found


# --- 1-4: data loss and writes where they must not go ------------------------------------------------------

def test_clean_into_the_folder_that_holds_the_input_deletes_nothing(tiny_models, tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    src = corpus(folder / "in.txt")
    (folder / "notes.md").write_text("mine")
    before = snapshot(tmp_path)
    with pytest.raises(InputError, match="folder"):
        clean(config(tiny_models, src, folder, policy="fix"))
    with pytest.raises(InputError, match="folder"):
        clean(config(tiny_models, src, folder, output_format="dataset"))
    assert snapshot(tmp_path) == before


def test_a_dataset_folder_is_replaced_only_when_mtfix_wrote_it(tiny_models, tmp_path):
    import datasets

    src = tmp_path / "in_ds"
    datasets.Dataset.from_list([{"text": t} for t in CLEAN[:3]]).save_to_disk(str(src))
    theirs = tmp_path / "theirs_ds"
    datasets.Dataset.from_list([{"text": "keep me"}]).save_to_disk(str(theirs))
    with pytest.raises(InputError, match="did not write"):
        clean(config(tiny_models, src, theirs))
    assert datasets.load_from_disk(str(theirs))["text"] == ["keep me"]
    ours = tmp_path / "ours_ds"
    clean(config(tiny_models, src, ours))
    assert "edits" not in datasets.load_from_disk(str(ours)).column_names
    clean(config(tiny_models, src, ours, suggest=True))  # mtfix's own output: replaced
    replaced = datasets.load_from_disk(str(ours))
    assert replaced["text"] == CLEAN[:3] and "edits" in replaced.column_names


def test_clean_refuses_a_device_or_fifo_and_leaves_it_be(tiny_models, tmp_path):
    src = corpus(tmp_path / "in.jsonl")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="device or pipe"):
        clean(config(tiny_models, src, fifo))
    assert not fifo.is_file() and fifo.exists()
    with pytest.raises(InputError, match="device or pipe"):
        clean(config(tiny_models, src, "/dev/null"))
    assert not Path("/dev/null.rejects.jsonl").exists() and Path("/dev/null").is_char_device()


def test_detect_and_fix_write_through_a_fifo_and_dev_null(tiny_models, tmp_path, capsys):
    tagger, corrector = tiny_models
    src = tmp_path / "in.txt"
    src.write_text("an orgoly here\n")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    code, _, _ = run(capsys, "detect", "--method", "spell", "--format", "jsonl", src, "-o", fifo)
    reader.join(10)
    assert code == 0 and json.loads(got[0])["spans"][0]["text"] == "orgoly"
    assert not fifo.is_file() and fifo.exists()
    code, _, _ = run(capsys, "fix", src, "--fast", "--model", tagger, "--corrector", corrector, "-o", "/dev/null")
    assert code == 0 and Path("/dev/null").is_char_device()


@pytest.mark.parametrize("command", ["detect", "fix", "clean"])
@pytest.mark.parametrize("alias", ["same", "relative", "symlink", "hardlink"])
def test_every_command_refuses_to_write_over_its_input(tiny_models, tmp_path, capsys, monkeypatch, command, alias):
    tagger, corrector = tiny_models
    src = tmp_path / "w.txt"
    src.write_text("an orgoly here\n")
    out = {"same": src, "relative": Path("sub/../w.txt"), "symlink": tmp_path / "link.txt",
           "hardlink": tmp_path / "hard.txt"}[alias]
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    if alias == "symlink":
        out.symlink_to(src)
    if alias == "hardlink":
        os.link(src, out)
    models = ["--fast", "--model", tagger, "--corrector", corrector]
    argv = {"detect": ["detect", "--method", "spell", "--format", "jsonl", src, "-o", out],
            "fix": ["fix", src, *models, "-o", out],
            "clean": ["clean", src, *models, "--policy", "fix", "-o", out]}[command]
    code, _, err = run(capsys, *argv)
    assert code == 1 and "input" in err and src.read_text() == "an orgoly here\n"


def test_workers_are_capped_at_what_the_machine_holds(tiny_models, tmp_path, capsys):
    src = corpus(tmp_path / "in.jsonl")
    code, _, err = run(capsys, "clean", src, "-o", tmp_path / "out.jsonl", "--fast", "--workers", "100000")
    assert code == 1 and "--workers 100000 is more than this machine can run" in err
    assert len(err.strip().splitlines()) == 1


# --- 5-9: resume that is exact -----------------------------------------------------------------------------

def test_resume_with_another_batch_size_is_refused(tiny_models, tmp_path, monkeypatch):
    src = corpus(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    interrupted(tiny_models, src, out, monkeypatch)
    with pytest.raises(InputError, match="batch_size differ"):
        clean(config(tiny_models, src, out, batch_size=5))
    clean(config(tiny_models, src, out))
    clean(config(tiny_models, src, tmp_path / "ref.jsonl"))
    assert out.read_bytes() == (tmp_path / "ref.jsonl").read_bytes()


@pytest.mark.parametrize("damage", ["invalid json", "checksum"])
def test_a_damaged_chunk_in_the_journal_is_redone(tiny_models, tmp_path, monkeypatch, damage):
    src = corpus(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    interrupted(tiny_models, src, out, monkeypatch)
    with sqlite3.connect(f"{out}.journal") as db:
        if damage == "invalid json":
            db.execute("UPDATE chunks SET result = '{not json' WHERE id = 0")
        else:
            db.execute("UPDATE chunks SET result = replace(result, 'density', 'densitx') WHERE id = 1")
    warnings: list[str] = []
    summary = clean(config(tiny_models, src, out), warn=warnings.append)
    clean(config(tiny_models, src, tmp_path / "ref.jsonl"))
    assert out.read_bytes() == (tmp_path / "ref.jsonl").read_bytes()
    assert summary["resumed_chunks"] == 1 and "1 damaged chunk(s)" in warnings[0]


def test_random_bytes_in_the_journal_are_one_line(tiny_models, tmp_path, monkeypatch, capsys):
    src = corpus(tmp_path / "in.jsonl", 60)
    out = tmp_path / "out.jsonl"
    interrupted(tiny_models, src, out, monkeypatch, after=15)
    capsys.readouterr()  # what the interrupted run wrote is not the resumed run's message
    journal = Path(f"{out}.journal")
    with sqlite3.connect(journal) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(journal.read_bytes())
    data[len(data) // 3: len(data) // 3 + 2000] = os.urandom(2000)
    journal.write_bytes(bytes(data))
    tagger, corrector = tiny_models
    code, _, err = run(capsys, "clean", src, "-o", out, "--fast", "--model", tagger, "--corrector", corrector,
                       "--threshold", "0.5", "--min-score", "0", "--chunk-size", "3")
    # either the damage fell on rows (redone) or it is one line naming the checkpoint and the way out: corrupt
    # pages, or a chunk id the bytes turned into one beyond the input
    assert code == 0 or (len(err.strip().splitlines()) == 1 and "checkpoint" in err and "--restart" in err)
    if code == 0:  # the damage fell on rows: those chunks were redone
        clean(config(tiny_models, src, tmp_path / "ref.jsonl"))
        assert out.read_bytes() == (tmp_path / "ref.jsonl").read_bytes()


def test_a_journal_chunk_beyond_the_input_is_refused(tiny_models, tmp_path, monkeypatch):
    src = corpus(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    interrupted(tiny_models, src, out, monkeypatch)
    with sqlite3.connect(f"{out}.journal") as db:
        sha, result = db.execute("SELECT sha, result FROM chunks WHERE id = 0").fetchone()
        moved = result.replace('"chunk": 0', '"chunk": 99', 1)
        import hashlib

        db.execute("INSERT INTO chunks VALUES (99, ?, ?)", (hashlib.sha256(moved.encode()).hexdigest(), moved))
    with pytest.raises(InputError, match="beyond the input"):
        clean(config(tiny_models, src, out))
    assert not out.exists()


def test_a_killed_worker_stops_the_run_in_one_line_and_keeps_the_checkpoint(tiny_models, tmp_path):
    tagger, corrector = tiny_models
    src = corpus(tmp_path / "in.jsonl", 4000)
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "mtfix", "clean", str(src), "-o", str(out), "--fast", "--model",
                             str(tagger), "--corrector", str(corrector), "--threshold", "0.5", "--chunk-size", "2",
                             "--workers", "2"], env=ENV, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    journal = Path(f"{out}.journal")
    workers = started_workers(proc, journal)
    assert len(workers) == 2, "the workers never started"
    os.kill(workers[0], signal.SIGKILL)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the run hung after a worker died")
    assert proc.returncode == 1 and "a worker process died" in err and "Traceback" not in err
    assert journal.exists() and not out.exists()


def test_worker_died_is_an_mtfix_error():
    assert issubclass(WorkerDied, Exception) and WorkerDied("x").exit_code == 1


def test_a_second_run_on_the_same_output_is_refused(tiny_models, tmp_path):
    src = corpus(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    held = _take_lock(Path(f"{out}.lock"))
    try:
        with pytest.raises(InputError, match="another mtfix clean is writing"):
            clean(config(tiny_models, src, out))
    finally:
        held.close()
    clean(config(tiny_models, src, out))
    assert out.exists() and not Path(f"{out}.lock").exists()


# --- 10-19: tracebacks and wrong records -------------------------------------------------------------------

NUMBERS = ["9" * 5000, "1e999999", "NaN", "12345678901234567890.5", "0.10000000000000000001", "-0", "1E5", "1.0",
           "-Infinity"]


def test_clean_copies_numbers_through_exactly_as_written(tiny_models, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(f'{{"text": "{CLEAN[i % len(CLEAN)]}", "n": {n}, "deep": [{{"x": {n}}}]}}\n'
                           for i, n in enumerate(NUMBERS)))
    summary = clean(config(tiny_models, src, tmp_path / "out.jsonl"))
    assert summary["written"] == len(NUMBERS) and summary["rejected"] == 0
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    for line, n in zip(lines, NUMBERS):
        assert line.startswith('{"text": "') and f'"n": {n}, "deep": [{{"x": {n}}}]' in line
    csv_out = tmp_path / "out.csv"
    clean(config(tiny_models, src, csv_out))
    import csv

    rows = list(csv.DictReader(csv_out.open(encoding="utf-8")))
    assert [r["n"] for r in rows] == NUMBERS and rows[1]["deep"] == '[{"x": 1e999999}]'
    # detect, which writes no field of the input back, still refuses what a float cannot hold
    code, out, err = run(capsys, "detect", "--method", "spell", "--format", "jsonl", src)
    assert code == 1 and "line 1: unreadable JSON" in err


def test_byte_order_marks_and_lone_carriage_returns(tmp_path, capsys):
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_bytes(b"\xef\xbb\xbf" + json.dumps({"text": "an orgoly here"}).encode() + b"\n")
    code, out, _ = run(capsys, "detect", "--method", "spell", "--format", "jsonl", jsonl)
    assert code == 0 and json.loads(out)["spans"][0]["start"] == 3
    text = tmp_path / "bom.txt"
    text.write_bytes(b"\xef\xbb\xbfan orgoly here\rsecond orgoly line\r\n")
    code, out, _ = run(capsys, "detect", "--method", "spell", "--format", "jsonl", text)
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in records] == ["an orgoly here", "second orgoly line"]
    assert records[0]["spans"][0]["start"] == 3
    wide = tmp_path / "wide.txt"
    wide.write_bytes("an orgoly here\n".encode("utf-16"))
    code, _, err = run(capsys, "detect", "--method", "spell", wide)
    assert code == 1 and "is UTF-16 text" in err


def test_a_nul_byte_loses_only_its_own_line(tiny_models, tmp_path, capsys):
    tagger, corrector = tiny_models
    src = tmp_path / "in.txt"
    src.write_bytes(b"an orgoly here\nbad \x00 line\nfine text\n")
    code, out, err = run(capsys, "detect", "--method", "spell", "--format", "jsonl", src)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and [r["text"] for r in records] == ["an orgoly here", None, "fine text"]
    assert "line 2: binary data" in err
    code, out, err = run(capsys, "fix", src, "--fast", "--model", tagger, "--corrector", corrector, "--apply")
    assert code == 1 and "fine text" in out and "line 2: binary data" in err


def test_score_and_output_errors_are_one_line(tiny_models, tmp_path, capsys):
    tagger, corrector = tiny_models
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"text": "a b c", "spans": []}) + "\n")
    pred = tmp_path / "pred.jsonl"
    pred.write_text(json.dumps({"text": "a b c", "spans": [], "edits": [
        {"start": 0, "end": 3, "replacement": "x"}, {"start": 2, "end": 5, "replacement": "y"}]}) + "\n")
    code, _, err = run(capsys, "score", "--gold", gold, "--pred", pred)
    assert code == 1 and "overlap" in err
    code, _, err = run(capsys, "score", "--gold", gold, "--pred", gold, "--seed", "-1")
    assert code == 1 and "--seed must be at least 0" in err
    folder = tmp_path / "empty"
    folder.mkdir()
    src = tmp_path / "in.txt"
    src.write_text("an orgoly here\n")
    code, _, err = run(capsys, "fix", src, "--fast", "--model", tagger, "--corrector", corrector, "-o", folder)
    assert code == 1 and "is a folder" in err and not any(folder.iterdir())
    if Path("/dev/full").exists():
        code, _, err = run(capsys, "detect", "--method", "spell", src, "-o", "/dev/full")
        assert code == 1 and "No space left" in err
        with open("/dev/full", "w") as full:
            done = subprocess.run([sys.executable, "-m", "mtfix", "detect", "--method", "spell", str(src)],
                                  stdout=full, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
        assert done.returncode == 1 and "No space left" in done.stderr and "Traceback" not in done.stderr
    assert "95%%" not in subprocess.run([sys.executable, "-m", "mtfix", "score", "--help"], capture_output=True,
                                        text=True, cwd=ROOT).stdout


def test_parquet_keeps_its_schema_even_when_every_record_is_rejected(tiny_models, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"text": [CLEAN[0], CLEAN[1]], "blob": [b"\x00\x01", b"\xff"], "tags": [[1, 2], [3]]})
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    clean(config(tiny_models, src, tmp_path / "out.parquet"))
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.column("blob").to_pylist() == [b"\x00\x01", b"\xff"] and out.column("tags").to_pylist() == [[1, 2], [3]]
    assert out.schema.field("blob").type == pa.binary() and out.schema.field("tags").type == pa.list_(pa.int64())
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"text": ["", " "], "blob": [b"a", b"b"]}), empty)
    clean(config(tiny_models, empty, tmp_path / "none.parquet"))
    none = pq.read_table(tmp_path / "none.parquet")
    assert none.num_rows == 0 and {"text", "blob", "spans"} <= set(none.schema.names)
    assert none.schema.field("blob").type == pa.binary()


def test_plain_text_output_stays_one_line_per_record(tiny_models, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('id,text\n1,"The council approved it."\n2,"Two\nlines here."\n3,"The minister signed it."\n')
    summary = clean(config(tiny_models, src, tmp_path / "out.txt", policy="fix", output_format="text"))
    lines = (tmp_path / "out.txt").read_text().split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""  # 3 records, the middle one rejected
    reject = json.loads((tmp_path / "out.txt.rejects.jsonl").read_text())
    assert "line break" in reject["reason"] and reject["fields"]["text"] == "Two\nlines here."
    assert summary["rejected"] == 1


def test_rejects_hold_the_raw_line(tiny_models, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'[1,2,3]\n42\n{bad\n\xff\xfe oops\n' + json.dumps({"text": CLEAN[0]}).encode() + b"\n")
    clean(config(tiny_models, src, tmp_path / "out.jsonl"))
    rejects = [json.loads(line) for line in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()]
    assert [r.get("raw") for r in rejects[:3]] == ["[1,2,3]", "42", "{bad"]
    assert base64.b64decode(rejects[3]["raw_base64"]) == b"\xff\xfe oops"


def test_clean_exit_status_follows_rejected_records(tiny_models, tmp_path, capsys):
    tagger, corrector = tiny_models
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": CLEAN[0]}) + "\n{bad\n")
    code, _, err = run(capsys, "clean", src, "-o", tmp_path / "out.jsonl", "--fast", "--model", tagger,
                       "--corrector", corrector)
    assert code == 1 and "1 rejected records" in err


def test_an_unreachable_ray_cluster_fails_fast(tiny_models, tmp_path, capsys):
    src = corpus(tmp_path / "in.jsonl")
    started = time.time()
    code, _, err = run(capsys, "clean", src, "-o", tmp_path / "out.jsonl", "--fast", "--engine", "ray",
                       "--ray-address", "127.0.0.1:1")
    assert code == 1 and "no Ray cluster answers at 127.0.0.1:1" in err and time.time() - started < 30


# --- 20: bounded time -------------------------------------------------------------------------------------

def test_an_endless_word_is_one_span_and_costs_little(tiny_models, tmp_path, capsys):
    tagger, corrector = tiny_models
    src = tmp_path / "in.txt"
    src.write_text("The council met today. " + "x" * 100_000 + " and then it rained.\n" + CLEAN[0] + "\n")
    started = time.time()
    code, out, _ = run(capsys, "detect", "--fast", "--model", tagger, "--format", "jsonl", src)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and time.time() - started < 60
    long_spans = [s for s in records[0]["spans"] if s["end"] - s["start"] == 100_000]
    assert len(long_spans) == 1 and long_spans[0]["label"] == "other"


# --- the property: nothing mtfix did not write is touched --------------------------------------------------

OUTS = ["input", "folder_of_input", "other_folder", "sibling", "new", "symlink_to_input", "hardlink_to_input",
        "fifo", "side_file_is_input", "dataset_folder"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["jsonl", "txt", "csv"]), out=st.sampled_from(OUTS),
       policy=st.sampled_from(["annotate", "fix", "filter"]),
       out_format=st.sampled_from(["auto", "jsonl", "text", "csv", "dataset"]))
def test_no_combination_touches_a_file_mtfix_did_not_write(tiny_models, tmp_path_factory, kind, out, policy,
                                                           out_format):
    root = tmp_path_factory.mktemp("prop")
    work = root / "work"
    work.mkdir()
    src = work / f"in.{kind}"
    if kind == "csv":
        src.write_text("text\n" + "".join(f'"{t}"\n' for t in CLEAN[:4]))
    elif kind == "txt":
        src.write_text("\n".join(CLEAN[:4]) + "\n")
    else:
        corpus(src, 4)
    (work / "notes.md").write_text("mine")
    (root / "other").mkdir()
    (root / "other" / "keep.txt").write_text("keep")
    target = {"input": src, "folder_of_input": work, "other_folder": root / "other", "sibling": work / "notes.md",
              "new": root / "result", "symlink_to_input": root / "link", "hardlink_to_input": root / "hard",
              "fifo": root / "fifo", "side_file_is_input": root / "x", "dataset_folder": root / "other"}[out]
    if out == "symlink_to_input":
        target.symlink_to(src)
    elif out == "hardlink_to_input":
        os.link(src, target)
    elif out == "fifo":
        os.mkfifo(target)
    elif out == "side_file_is_input":
        os.link(src, root / "x.rejects.jsonl")
    before = snapshot(root)
    try:
        clean(config(tiny_models, src, target, policy=policy, output_format=out_format))
    except InputError:
        pass
    after = snapshot(root)
    ours = {str(target), *(f"{target}{s}" for s in (".rejects.jsonl", ".summary.json", ".summary.html"))}
    ours |= {str(Path(target).with_name(f"{Path(target).stem}.filtered{Path(target).suffix}")), f"{target}.filtered"}
    for path, content in before.items():
        if path in ours and content not in ("folder", "special") and not path.startswith(str(src)) and \
                out not in ("symlink_to_input", "hardlink_to_input", "side_file_is_input"):
            continue  # a plain file named as OUT (or beside it, as its side files) is OUT's to replace
        assert after.get(path) == content, f"{path} changed ({out}, {policy}, {out_format})"
    assert not [p for p in after if p.endswith(".part") or ".journal" in p or p.endswith(".lock")]
