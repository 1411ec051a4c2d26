import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mtfix.cli import main

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "article_backtranslated.txt"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_detect_jsonl_on_the_seed(capsys):
    code, out, err = run(capsys, "detect", "--method", "spell", "--format", "jsonl", SEED)
    records = [json.loads(line) for line in out.splitlines()]
    lines = SEED.read_text(encoding="utf-8").split("\n")
    assert code == 0 and len(records) == len([ln for ln in lines if ln or ln is not lines[-1]])
    assert [r["text"] for r in records] == lines[:len(records)]
    found = {s["text"] for r in records for s in r["spans"]}
    assert {"confidanteled", "pariad", "projectsWhich"} <= found
    for r in records:
        for s in r["spans"]:
            assert r["text"][s["start"]:s["end"]] == s["text"]


def test_detect_pretty_shows_text_and_scores(capsys):
    code, out, _ = run(capsys, "detect", "--method", "spell", SEED)
    # each flag with its score and its class
    assert code == 0 and "confidanteled each other" in out and "[pariad 1.00 non-word]" in out


def test_detect_from_stdin_jsonl_keeps_ids(monkeypatch, capsys):
    import io

    data = json.dumps({"id": "x7", "body": "an orgoly here"}) + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode())))
    code, out, _ = run(capsys, "detect", "-", "--method", "spell", "--input-format", "jsonl", "--text-field", "body",
                       "--format", "jsonl")
    record = json.loads(out)
    assert code == 0 and record["id"] == "x7" and record["spans"][0]["text"] == "orgoly"


def test_detect_mixed_good_and_bad_records(tmp_path, capsys):
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"an orgoly here\nbroken \xff line\nfine\n")
    code, out, err = run(capsys, "detect", "--method", "spell", "--format", "jsonl", path)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(records) == 3
    assert records[1]["error"] == "invalid UTF-8 at byte 7" and records[2]["text"] == "fine"
    assert "line 2: invalid UTF-8" in err and "1 of 3 records could not be read" in err


def _file(folder, name, data):
    (folder / name).write_bytes(data)
    return folder / name


@pytest.mark.parametrize("make,message", [
    (lambda p: p / "missing.txt", "no such file"),
    (lambda p: p, "is a folder"),
    (lambda p: _file(p, "e.txt", b""), "is empty"),
    (lambda p: _file(p, "b.bin", b"\x7fELF\x00\x00"), "binary"),
])
def test_detect_bad_input_one_line_error(tmp_path, capsys, make, message):
    code, out, err = run(capsys, "detect", make(tmp_path))
    assert code == 1 and message in err and err.count("\n") == 1 and err.startswith("mtfix: ")


def test_detect_megabyte_line(tmp_path, capsys):
    path = tmp_path / "big.txt"
    path.write_text("word " * 220_000 + "\nshort line\n")
    code, out, err = run(capsys, "detect", "--method", "spell", "--format", "jsonl", path)
    assert code == 1 and "line 1: line too long" in err and json.loads(out.splitlines()[1])["text"] == "short line"


def test_data_mlqe_then_score(mlqe_tarball, tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    pred = tmp_path / "pred.jsonl"
    assert run(capsys, "data", "mlqe", mlqe_tarball, "-o", gold)[0] == 0
    assert run(capsys, "detect", "--method", "spell", "--format", "jsonl", gold, "-o", pred)[0] == 0
    code, out, _ = run(capsys, "score", "--gold", gold, "--pred", pred, "--bootstrap", "50")
    assert code == 0 and "MCC" in out and "exact F0.5" in out and "signature: mtfix-score|" in out
    code, out, _ = run(capsys, "score", "--gold", mlqe_tarball, "--pred", pred, "--json", "--clean", pred)
    result = json.loads(out)
    assert code == 0 and result["segments"] == 2 and "word_mcc" in result["detection"]
    assert result["clean"]["words"] > 0


def test_score_mismatch_and_missing_arguments(mlqe_tarball, tmp_path, capsys):
    pred = tmp_path / "p.jsonl"
    pred.write_text(json.dumps({"text": "something else", "spans": []}) + "\n")
    code, _, err = run(capsys, "score", "--gold", mlqe_tarball, "--pred", pred)
    assert code == 1 and "gold has 2 segments but predictions have 1" in err
    code, _, err = run(capsys, "score")
    assert code == 1 and "give --gold and --pred" in err


def test_python_dash_m_and_help():
    done = subprocess.run([sys.executable, "-m", "mtfix", "score", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--clean" in done.stdout and "bootstrap" in done.stdout


def test_detect_with_a_missing_model_says_how_to_get_one(tmp_path, capsys):
    code, _, err = run(capsys, "detect", "--method", "model", "--model", tmp_path, SEED)
    assert code == 2 and "mtfix train detector" in err


def _fix_args(tiny_models, *more):
    tagger, corrector = tiny_models
    return ["fix", "--fast", "--model", tagger, "--corrector", corrector, "--threshold", "0", "--min-score", "0",
            *more]


def test_fix_jsonl_applies_its_own_edits_and_keeps_bad_records(tiny_models, inventions_allowed, tmp_path, capsys):
    from mtfix.text.formats import Document
    from mtfix.text.spans import apply_edits

    path = tmp_path / "in.jsonl"
    # function words only: the tiny random corrector's shorter rewrites of the whole-sentence span then delete
    # no content word, so they stay proposable (an option that deletes content is never proposed)
    path.write_bytes(b'{"id": "a", "text": "It was in on the."}\n{"text": 3}\n'
                     b'{"id": "b", "text": "It is on a."}\n')
    code, out, err = run(capsys, *_fix_args(tiny_models, "--format", "jsonl", path))
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and "line 2" in err and rows[1]["text"] is None
    assert [r.get("id") for r in rows] == ["a", None, "b"]
    for row in (rows[0], rows[2]):
        doc = Document.from_json(row)
        assert doc.edits and doc.fixed == apply_edits(doc.text, doc.edits)  # threshold 0: every word is flagged
        assert all("alternatives" in e for e in row["edits"])


def test_fix_apply_writes_the_fixed_text_whole_and_never_over_its_input(tiny_models, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("The two guides met.\n\nIn one Explosion.\n")
    out_path = tmp_path / "out.txt"
    code, _, err = run(capsys, *_fix_args(tiny_models, src, "-o", out_path))
    assert code == 0, err
    lines = out_path.read_text().split("\n")
    assert len(lines) == 4 and lines[1] == "" and not list(tmp_path.glob("*.part"))
    code, stdout, _ = run(capsys, *_fix_args(tiny_models, src, "--apply"))
    assert stdout == out_path.read_text()
    code, _, err = run(capsys, *_fix_args(tiny_models, src, "-o", src))
    assert code == 1 and "is the input" in err and src.read_text().startswith("The two guides")


def test_fix_diff_shows_both_sides_and_scores(tiny_models, inventions_allowed, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("It was in on the.\n")  # function words: see test_fix_jsonl_applies_its_own_edits...
    code, out, _ = run(capsys, *_fix_args(tiny_models, src))
    # no colour: the marks are written out
    assert code == 0 and "was" in out and re.search(r"(\[-[^\]]*-\]|\{\+[^}]*\+\})\[\d\.\d\d\]", out)


def test_fix_scores_are_probabilities(tiny_models, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("The two guides met.\n")
    for option in ("--min-score", "--swap-score"):
        code, _, err = run(capsys, *_fix_args(tiny_models, src, option, "1.5"))
        assert code == 1 and f"{option} is a probability" in err


def test_numbers_out_of_range_are_one_line_errors_before_any_model_loads(tmp_path, capsys, monkeypatch):
    import mtfix.detect

    def no_loading(*args, **kwargs):
        raise AssertionError("a model was loaded before the options were checked")

    monkeypatch.setattr(mtfix.detect, "get_detector", no_loading)
    src = tmp_path / "in.txt"
    src.write_text("The two guides met.\n")
    cases = [(["detect", src, "--threshold", "2"], "--threshold is a probability"),
             (["detect", src, "--threshold", "nan"], "--threshold is a probability"),
             (["detect", src, "--batch-size", "0"], "--batch-size must be at least 1"),
             (["fix", src, "--batch-size", "-3"], "--batch-size must be at least 1"),
             (["fix", src, "--threshold", "-0.1"], "--threshold is a probability"),
             (["clean", src, "-o", tmp_path / "out.jsonl", "--chunk-size", "0"], "--chunk-size must be at least 1"),
             (["clean", src, "-o", tmp_path / "out.jsonl", "--max-density", "-1"], "--max-density must be at least 0"),
             (["score", "--gold", src, "--pred", src, "--bootstrap", "-1"], "--bootstrap must be at least 0")]
    for argv, message in cases:
        code, out, err = run(capsys, *argv)
        assert code == 1 and message in err and len(err.strip().splitlines()) == 1, (argv, err)
    assert not (tmp_path / "out.jsonl").exists()


def test_fix_interactive_needs_a_terminal_and_a_file(tiny_models, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("The two guides met.\n")
    code, _, err = run(capsys, *_fix_args(tiny_models, src, "--interactive"))
    assert code == 1 and "needs a terminal" in err
    code, _, err = run(capsys, *_fix_args(tiny_models, "-", "--interactive"))
    assert code == 1 and "give the text as a FILE" in err


def test_fix_interactive_through_a_pseudo_terminal(tiny_models, tmp_path):
    """Accept the first edit, type a replacement for the second, undo that and reject it, type one for the
    third: the saved file has exactly the accepted edits."""
    import os
    import pty
    import select
    import time

    from mtfix.text.formats import Document
    from mtfix.text.spans import apply_edits

    src = tmp_path / "in.txt"
    # at threshold 0 each line is one flagged span, so one edit each (function words: the untrained decoder's
    # options never count as deleting content)
    src.write_text("the\nand\nof\n")
    jsonl = tmp_path / "all.jsonl"
    assert main([str(a) for a in _fix_args(tiny_models, src, "--format", "jsonl", "-o", jsonl)]) == 0
    docs = [Document.from_json(json.loads(line)) for line in jsonl.read_text().splitlines()]
    assert [len(d.edits) for d in docs] == [1, 1, 1]
    out_path = tmp_path / "out.txt"
    master, slave = pty.openpty()
    env = {**os.environ, "MTFIX_NO_PROGRESS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mtfix", *map(str, _fix_args(tiny_models, src, "--interactive",
                                                                                 "-o", out_path))],
                            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, close_fds=True)
    os.close(slave)
    seen = b""

    def wait_for(marker: bytes, count: int) -> None:
        nonlocal seen
        deadline = time.time() + 120
        while seen.count(marker) < count:
            assert time.time() < deadline, seen.decode(errors="replace")[-2000:]
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break

    prompts = 0
    for answer in [b"a", b"e", b"THIRD", b"u", b"r", b"e", b"MINE"]:
        if answer not in (b"THIRD", b"MINE"):
            prompts += 1
            wait_for(b"accept?", prompts)
        else:
            wait_for(b"replacement", seen.count(b"replacement") + 1)
        os.write(master, answer + b"\n")
    wait_for(b"edits accepted", 1)
    assert proc.wait(timeout=60) == 0
    os.close(master)
    from dataclasses import replace

    first, _, third = docs
    assert out_path.read_text() == "\n".join([first.fixed, "and", apply_edits(
        third.text, [replace(third.edits[0], replacement="MINE")])]) + "\n"
    assert b"edit 1 of 3" in seen and b"edit 3 of 3" in seen and b"2 of 3 edits accepted" in seen


def test_conservative_is_the_span_decoder_and_round_trip_fills_in_its_settings(tmp_path, capsys, monkeypatch):
    import mtfix.api
    from mtfix.errors import InputError
    from mtfix.models import shipped_corrector

    seen = []

    read_alone: list[bool] = []

    def record(detect, correct):
        assert detect.device == "auto"  # a GPU where there is one, unless told otherwise
        seen.append((correct.corrector, correct.min_score, correct.swap_score, detect.lm_gate))
        read_alone.append(detect.alone)
        raise InputError("stop here")

    monkeypatch.setattr(mtfix.api, "from_settings", record)
    src = tmp_path / "in.txt"
    src.write_text("The two guides met.\n")
    decoder = str(shipped_corrector())
    for extra in ([], ["--round-trip"], ["--conservative"], ["--conservative", "--round-trip"],
                  ["--conservative", "--round-trip", "--min-score", "0.8"], ["--swap-score", "0.95"],
                  ["--lm-gate", "0"]):
        code, _, err = run(capsys, "fix", src, *extra)
        assert code == 1 and "stop here" in err
    assert seen == [(None, None, None, None), (None, None, None, None),  # the default is the round-trip corrector
                    (decoder, None, None, None), (decoder, 0.7, 0.7, None), (decoder, 0.8, 0.7, None),
                    (None, None, 0.95, None), (None, None, None, 0.0)]
    assert not any(read_alone)  # a plain-text file: its lines read as one document
    for extra, expected in (([], False), (["--alone"], True)):
        run(capsys, "fix", src, *extra)
        assert read_alone[-1] is expected
    records = tmp_path / "in.jsonl"
    records.write_text('{"text": "The two guides met."}\n')
    run(capsys, "fix", records)
    assert read_alone[-1] is True  # JSONL records: each read alone
    code, _, err = run(capsys, "clean", src, "-o", tmp_path / "out.jsonl", "--conservative", "--round-trip",
                       "--min-score", "3")
    assert code == 1 and "--min-score is a probability" in err  # checked after the preset fills in the rest
    code, _, err = run(capsys, "fix", src, "--conservative", "--corrector", tmp_path)
    assert code == 1 and err.count("\n") == 1 and "not both" in err


def test_fix_refuses_a_corrector_trained_on_another_detector_in_one_line(tiny_models, tmp_path, capsys):
    import shutil

    from mtfix.correct.span_decoder import sha1_of

    tagger, corrector = tiny_models
    other = tmp_path / "corrector"
    shutil.copytree(corrector, other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "tagger_sha1": "0" * 40}))
    text = tmp_path / "in.txt"
    text.write_text("It was in on the.\n")
    code, out, err = run(capsys, "fix", "--fast", "--model", tagger, "--corrector", other, text)
    assert code == 2 and out == "" and "Traceback" not in err
    assert "trained on another detector's encoder states" in err and "mtfix train corrector --tagger" in err
    # the detector it was trained with: accepted
    (other / "config.json").write_text(json.dumps({**config, "tagger_sha1": sha1_of(tagger / "model.safetensors")}))
    code, out, err = run(capsys, "fix", "--fast", "--model", tagger, "--corrector", other, "--threshold", "0", text)
    assert code == 0 and "another detector" not in err


def test_review_point_sets_the_threshold_and_gate_itself(tmp_path, capsys):
    text = tmp_path / "a.txt"
    text.write_text("The two guides met.\n")
    for extra, said in ((["--threshold", "0.4"], "without --threshold"), (["--fast"], "neither --fast"),
                        (["--lm-gate", "0.1"], "without --threshold")):
        code, _, err = run(capsys, "detect", text, "--review", *extra)
        assert code == 1 and said in err and len(err.strip().splitlines()) == 1
    folder = tmp_path / "detector"
    (folder / "fused").mkdir(parents=True)
    (folder / "fused" / "config.json").write_text(json.dumps({"threshold": 0.3}))
    code, _, err = run(capsys, "fix", text, "--review", "--model", folder)
    assert code != 0 and "no review point" in err and "fit_review_point" in err


def test_the_shipped_review_point_reads_every_segment_and_flags_more_than_the_default():
    from mtfix.detect import review_point
    from mtfix.points import read_points

    shipped = read_points(ROOT / "models" / "detector")
    threshold, gate = review_point()
    assert gate == 0.0 and 0.0 < threshold < shipped["fused_threshold"]
    # text read alone (JSONL records, --alone) has both points of its own, each higher: the same clean budgets
    alone, gate = review_point(alone=True)
    assert gate == 0.0 and threshold < alone < shipped["alone"] and shipped["fused_threshold"] < shipped["alone"]
