import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from mtfix.clean import JOURNAL_VERSION, CleanConfig, Journal, clean, filtered_path
from mtfix.cli import main
from mtfix.errors import InputError

from ..conftest import CLEAN

ROOT = Path(__file__).resolve().parents[2]


def config(tiny_models, src, out, **kw) -> CleanConfig:
    tagger, corrector = tiny_models
    return CleanConfig(input=str(src), output=str(out), fast=True, model=str(tagger), corrector=str(corrector),
                       threshold=0.5, min_score=0.0, chunk_size=kw.pop("chunk_size", 3), **kw)


def corpus_lines(n: int) -> list[str]:
    return [json.dumps({"id": i, "text": CLEAN[i % len(CLEAN)], "meta": {"n": i}}) for i in range(n)]


def test_annotate_keeps_every_record_in_order_with_fields_added(tiny_models, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(corpus_lines(10)) + "\n")
    before = src.read_bytes()
    summary = clean(config(tiny_models, src, tmp_path / "out.jsonl"))
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == list(range(10)) and rows[3]["meta"] == {"n": 3}
    assert all({"spans", "density"} <= set(r) and "edits" not in r for r in rows)
    assert summary["records"] == summary["written"] == 10 and summary["rejected"] == 0
    assert sum(summary["density"]) == 10 and summary["words"] > 100
    assert src.read_bytes() == before  # the input is never modified
    assert not Path(f"{tmp_path}/out.jsonl.journal").exists()  # a finished run leaves no checkpoint
    page = (tmp_path / "out.jsonl.summary.html").read_text()
    assert "<svg" in page and "density" in page
    assert json.loads((tmp_path / "out.jsonl.summary.json").read_text())["records"] == 10


def test_bad_records_go_to_rejects_with_line_and_reason(tiny_models, tmp_path):
    src = tmp_path / "in.jsonl"
    good = corpus_lines(3)
    src.write_bytes(b"\n".join([
        good[0].encode(), b'{"id": 1, "text": "caf\xe9 au lait"}', b'{"id": 2, "text": ""}', b'{"id": 3, "text": 7}',
        b'{"id": 4}', json.dumps({"id": 5, "text": "x" * 1_000_000}).encode(), b"\x00\x01\x02\xff garbage",
        good[1].encode(), good[2].encode()[:-1]]))  # the last line truncated, with no newline
    summary = clean(config(tiny_models, src, tmp_path / "out.jsonl"))
    rejects = [json.loads(line) for line in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()]
    reasons = {r["line"]: r["reason"] for r in rejects}
    assert set(reasons) == {2, 3, 4, 5, 6, 7, 9}
    assert "UTF-8" in reasons[2] and reasons[3] == "empty text" and "number" in reasons[4]
    assert "no \"text\"" in reasons[5] and "too long" in reasons[6] and "truncated" in reasons[9]
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in out] == [0, 1]
    assert summary["records"] == 9 and summary["rejected"] == 7 and summary["written"] == 2


def test_fix_policy_replaces_text_and_keeps_the_original(tiny_models, tmp_path):
    from mtfix.text.spans import Edit, apply_edits

    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(corpus_lines(4)) + "\n")
    clean(config(tiny_models, src, tmp_path / "out.jsonl", policy="fix"))
    for row in map(json.loads, (tmp_path / "out.jsonl").read_text().splitlines()):
        original = row["original_text"]
        edits = [Edit(e["start"], e["end"], e["replacement"]) for e in row["edits"]]
        assert row["text"] == row["fixed"] == apply_edits(original, edits)


def test_filter_policy_routes_dense_records_and_loses_none(tiny_models, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(corpus_lines(8)) + "\n")
    clean(config(tiny_models, src, tmp_path / "all.jsonl"))
    densities = sorted(json.loads(line)["density"] for line in (tmp_path / "all.jsonl").read_text().splitlines())
    cut = densities[3]
    assert densities[0] < densities[-1]  # a cut in the middle routes records both ways
    summary = clean(config(tiny_models, src, tmp_path / "out.jsonl", policy="filter", max_density=cut))
    kept = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    dropped = [json.loads(line) for line in Path(filtered_path(str(tmp_path / "out.jsonl"))).read_text().splitlines()]
    assert sorted(r["id"] for r in kept + dropped) == list(range(8))
    assert dropped and kept
    assert all(r["density"] > cut for r in dropped) and all(r["density"] <= cut for r in kept)
    assert summary["filtered"] == len(dropped) and summary["written"] == len(kept)


@pytest.mark.parametrize("fmt", ["text", "csv", "parquet", "dataset"])
def test_other_formats_round_trip(tiny_models, tmp_path, fmt):
    import datasets

    records = [{"id": str(i), "text": CLEAN[i]} for i in range(5)]
    if fmt == "text":
        src = tmp_path / "in.txt"
        src.write_text("\n".join(r["text"] for r in records) + "\n\n")  # a blank line: kept in place
    elif fmt == "csv":
        src = tmp_path / "in.csv"
        src.write_text("id,text\n" + "".join(f'{r["id"]},"{r["text"]}"\n' for r in records))
    else:
        ds = datasets.Dataset.from_list(records)
        src = tmp_path / ("in.parquet" if fmt == "parquet" else "in_ds")
        ds.to_parquet(str(src)) if fmt == "parquet" else ds.save_to_disk(str(src))
    out = tmp_path / {"text": "out.jsonl", "csv": "out.csv", "parquet": "out.parquet", "dataset": "out_ds"}[fmt]
    summary = clean(config(tiny_models, src, out))
    if fmt in ("text", "csv"):
        if fmt == "text":
            rows = [json.loads(line) for line in out.read_text().splitlines()]
        else:
            import csv

            rows = list(csv.DictReader(out.open()))
    elif fmt == "parquet":
        rows = datasets.Dataset.from_parquet(str(out)).to_list()
    else:
        rows = datasets.load_from_disk(str(out)).to_list()
    assert [r["text"] for r in rows] == [r["text"] for r in records] + ([""] if fmt == "text" else [])
    assert all("spans" in r and "density" in r for r in rows)
    assert summary["rejected"] == 0


def test_a_foreign_or_corrupt_checkpoint_is_refused(tiny_models, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(corpus_lines(4)) + "\n")
    out = tmp_path / "out.jsonl"
    Journal(Path(f"{out}.journal"), {"version": JOURNAL_VERSION, "input": "elsewhere"}).close()
    with pytest.raises(InputError, match="belongs to another run"):
        clean(config(tiny_models, src, out))
    Path(f"{out}.journal").write_bytes(b"this is not a database" * 100)
    with pytest.raises(InputError, match="corrupt|not an mtfix checkpoint"):
        clean(config(tiny_models, src, out))
    clean(config(tiny_models, src, out, restart=True))
    assert len(out.read_text().splitlines()) == 4


def test_output_over_the_input_is_refused(tiny_models, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(corpus_lines(2)) + "\n")
    with pytest.raises(InputError, match="never modified"):
        clean(config(tiny_models, src, src))


def _clean_cmd(tiny_models, src, out, *more):
    tagger, corrector = tiny_models
    return [sys.executable, "-m", "mtfix", "clean", str(src), "-o", str(out), "--fast", "--model", str(tagger),
            "--corrector", str(corrector), "--threshold", "0.5", "--min-score", "0", "--policy", "fix",
            "--chunk-size", "2", *more]


def test_sigkill_mid_run_then_rerun_gives_identical_outputs(tiny_models, tmp_path):
    src = tmp_path / "in.jsonl"
    lines = corpus_lines(300)
    lines[17] = '{"id": 17, "text": ""}'
    src.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "MTFIX_NO_PROGRESS": "1"}
    reference = tmp_path / "ref.jsonl"
    first = subprocess.run(_clean_cmd(tiny_models, src, reference), env=env, cwd=ROOT, capture_output=True)
    assert first.returncode == 1  # line 17 is rejected: the status says some records could not be read
    out = tmp_path / "out.jsonl"
    journal = Path(f"{out}.journal")
    proc = subprocess.Popen(_clean_cmd(tiny_models, src, out), env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    done = 0
    while done < 10:  # kill once a few chunks are committed, well before the end
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
        if journal.exists():
            try:
                with sqlite3.connect(str(journal)) as db:
                    done = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            except sqlite3.Error:
                pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists() and journal.exists()
    finished = subprocess.run(_clean_cmd(tiny_models, src, out), env=env, cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 1 and "1 rejected records" in finished.stderr, finished.stderr
    summary = json.loads(Path(f"{out}.summary.json").read_text())
    assert summary["resumed_chunks"] >= 10 and summary["records"] == 300
    assert out.read_bytes() == reference.read_bytes()
    assert Path(f"{out}.rejects.jsonl").read_bytes() == Path(f"{reference}.rejects.jsonl").read_bytes()


def test_two_workers_give_the_same_outputs(tiny_models, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(corpus_lines(24)) + "\n")
    clean(config(tiny_models, src, tmp_path / "one.jsonl", policy="fix"))
    clean(config(tiny_models, src, tmp_path / "two.jsonl", policy="fix", workers=2))
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()


def test_ray_engine_gives_the_same_outputs(tiny_models, tmp_path):
    import ray  # installed by the project's test extra: a missing Ray fails here, it is not skipped

    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(corpus_lines(12)) + "\n")
    clean(config(tiny_models, src, tmp_path / "local.jsonl", policy="fix"))
    try:
        clean(config(tiny_models, src, tmp_path / "ray.jsonl", policy="fix", engine="ray", workers=2))
    finally:
        ray.shutdown()
    assert (tmp_path / "local.jsonl").read_bytes() == (tmp_path / "ray.jsonl").read_bytes()


def test_cli_clean_reports_and_fails_cleanly(tiny_models, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(corpus_lines(3)) + "\n")
    out = tmp_path / "out.jsonl"
    code = main(_clean_cmd(tiny_models, src, out)[3:])
    err = capsys.readouterr().err
    assert code == 0 and "summary in" in err and out.exists()
    code = main(["clean", str(tmp_path / "missing.jsonl"), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "no such file" in err and "Traceback" not in err
    code = main(["clean", str(src), "-o", str(out), "--policy", "fix", "--swap-score", "2"])
    err = capsys.readouterr().err
    assert code == 1 and "--swap-score is a probability" in err and "Traceback" not in err


def test_swap_score_reaches_the_corrector_and_the_journal_settings(tiny_models):
    from mtfix.clean import CleanConfig, Cleaner

    tagger, corrector = tiny_models
    config = CleanConfig(input="x", output="y", policy="fix", model=str(tagger), fast=True,
                         corrector=str(corrector), min_score=0.5, swap_score=0.75)
    assert config.settings()["swap_score"] == 0.75
    loaded = Cleaner(config).mt.corrector
    assert loaded.swap_score == 0.75 and loaded.min_score == 0.5


def test_every_option_that_changes_outputs_is_in_the_journal_key():
    """Resume is exact: a rerun with another batch size (padding moves scores), gate or threshold is refused."""
    from mtfix.clean import CleanConfig

    base = CleanConfig(input="x", output="y").settings()
    for change in ({"batch_size": 5}, {"lm_gate": 0.0}, {"threshold": 0.4}, {"chunk_size": 9}, {"fast": True},
                   {"policy": "fix"}, {"min_score": 0.3}, {"text_field": "body"}, {"output_format": "csv"},
                   {"alone": True}):
        assert CleanConfig(input="x", output="y", **change).settings() != base, change
    # the threads each process runs on are (sums over other thread counts round differently): a run killed with
    # --workers 2 is resumed with --workers 2, not 1
    cores = os.cpu_count() or 1
    assert base["threads"] == cores and CleanConfig(input="x", output="y", workers=2).settings()["threads"] == \
        max(1, cores // 2)
    assert CleanConfig(input="x", output="y", engine="ray").settings()["threads"] == 1
    assert "alone" not in base  # a journal from before --alone existed is still resumed
    # the model files are in the key: a journal written before the weights or thresholds changed is not resumed
    assert len(base["models"]) == 40


def test_a_journal_written_with_other_model_files_is_refused_in_one_line(tiny_models, tmp_path):
    import shutil

    from mtfix.clean.corpus import fingerprint

    tagger, _ = tiny_models
    model = tmp_path / "detector"
    shutil.copytree(tagger, model)
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(corpus_lines(4)) + "\n")
    out = tmp_path / "out.jsonl"
    run = CleanConfig(input=str(src), output=str(out), model=str(model), fast=True, input_format="jsonl")
    Journal(Path(f"{out}.journal"), {"version": JOURNAL_VERSION, "input": str(src.resolve()),
                                     "input_fingerprint": fingerprint(str(src)), "settings": run.settings()}).close()
    digest = run.settings()["models"]
    (model / "README.md").write_text("A model card says nothing the outputs depend on.\n")
    assert run.settings()["models"] == digest  # model cards are left out
    config_file = model / "config.json"
    config_file.write_text(config_file.read_text().replace("{", '{"threshold_note": 1, ', 1))
    with pytest.raises(InputError, match=r"belongs to another run \(models differ\)"):
        clean(CleanConfig(input=str(src), output=str(out), model=str(model), fast=True, input_format="jsonl"))
    assert out.with_name("out.jsonl.journal").exists()  # nothing removed: the user chooses --restart


def test_records_of_csv_and_parquet_are_keyed_apart():
    from mtfix.clean import CleanConfig

    # CSV and parquet records were read as one document before they were read alone: such a journal is not resumed
    assert CleanConfig(input="x.parquet", output="y").settings()["records_alone"] is True
    assert "records_alone" not in CleanConfig(input="x.jsonl", output="y").settings()


def test_the_records_of_a_corpus_are_each_read_alone_and_the_lines_of_a_text_as_one_document(tmp_path, monkeypatch):
    from mtfix.clean import CleanConfig, Cleaner

    asked = []
    monkeypatch.setattr("mtfix.api.from_settings", lambda detect, correct: asked.append(detect.alone) or
                        SimpleNamespace(detector=None))
    for name, alone in (("a.jsonl", True), ("a.csv", True), ("a.parquet", True), ("a.txt", False)):
        Cleaner(CleanConfig(input=str(tmp_path / name), output="y"))
        assert asked[-1] is alone, name
    Cleaner(CleanConfig(input=str(tmp_path / "a.txt"), output="y", alone=True))
    assert asked[-1] is True


def test_a_plain_text_article_keeps_its_blank_lines_and_its_format(tiny_models, tmp_path, capsys):
    """`mtfix clean article.txt -o out.txt`: blank lines are paragraph breaks, kept in place; a .txt OUT takes the
    fixed text (policy fix) and is refused, with a hint, where spans would be lost (policy annotate)."""
    src = tmp_path / "article.txt"
    src.write_text(f"{CLEAN[0]}\n\n{CLEAN[1]}\n\n\n{CLEAN[2]}\n")
    tagger, corrector = tiny_models
    models = ["--fast", "--model", str(tagger), "--corrector", str(corrector), "--min-score", "1"]
    code = main(["clean", str(src), "-o", str(tmp_path / "out.txt"), *models])
    err = capsys.readouterr().err
    assert code == 1 and "plain text, which cannot hold the flagged spans" in err and "--policy fix" in err
    assert not (tmp_path / "out.txt").exists()
    code = main(["clean", str(src), "-o", str(tmp_path / "out.txt"), "--policy", "fix", *models])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out.txt").read_text() == src.read_text()  # no edit reaches a bar of 1: the text as it was
    code = main(["clean", str(src), "-o", str(tmp_path / "out.jsonl"), *models])
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert code == 0 and [r["text"] for r in rows] == src.read_text().splitlines()
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5, 6] and rows[1]["spans"] == []


def test_each_chunk_of_a_plain_text_is_read_after_the_text_before_it(tmp_path, monkeypatch):
    """The lines of a plain-text input are one document: each chunk is read after the input's text before it,
    as `mtfix detect` reads a batch after the batches before it (records read alone get none)."""
    from mtfix.clean import CleanConfig, clean

    calls = []

    class Recorder:  # what mtfix.api.from_settings gives the cleaner: detect and fix, each told the text before
        detector = None

        def detect(self, texts, before=None):
            calls.append((list(texts), before))
            return [[] for _ in texts]

    monkeypatch.setattr("mtfix.api.from_settings", lambda detect, correct: Recorder())
    src = tmp_path / "in.txt"
    src.write_text("One.\nTwo.\n\nThree.\nFour.\nFive.\n")
    clean(CleanConfig(input=str(src), output=str(tmp_path / "out.jsonl"), chunk_size=2))
    assert calls == [(["One.", "Two."], ""), (["Three."], "One.\nTwo."), (["Four.", "Five."], "One.\nTwo.\nThree.")]
    calls.clear()
    records = tmp_path / "in.jsonl"
    records.write_text("".join(f'{{"text": "{t}"}}\n' for t in ("One.", "Two.", "Three.")))
    clean(CleanConfig(input=str(records), output=str(tmp_path / "out2.jsonl"), chunk_size=2))
    assert calls == [(["One.", "Two."], None), (["Three."], None)]
    # a journal of a plain text from before chunks carried their context is not resumed
    assert CleanConfig(input="a.txt", output="y").settings()["chunk_context"] is True
    assert "chunk_context" not in CleanConfig(input="a.jsonl", output="y").settings()
    assert "chunk_context" not in CleanConfig(input="a.txt", output="y", alone=True).settings()
