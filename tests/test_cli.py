import json
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
    assert code == 0 and "confidanteled each other" in out and "[pariad 1.00]" in out


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


@pytest.mark.parametrize("argv,issue", [(["fix", "x.txt"], "#6"), (["clean", "x"], "#7"),
                                        (["train", "corrector"], "#6")])
def test_later_commands_say_so(capsys, argv, issue):
    code, _, err = run(capsys, *argv)
    assert code == 2 and issue in err


def test_python_dash_m_and_help():
    done = subprocess.run([sys.executable, "-m", "mtfix", "score", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--clean" in done.stdout and "bootstrap" in done.stdout


def test_detect_with_a_missing_model_says_how_to_get_one(tmp_path, capsys):
    code, _, err = run(capsys, "detect", "--method", "model", "--model", tmp_path, SEED)
    assert code == 2 and "mtfix train detector" in err
