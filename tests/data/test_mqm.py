import json

import pytest

from mtfix.cli import main
from mtfix.data.mqm import part_of, read_mqm, unmark
from mtfix.errors import InputError

from ..conftest import SHARED

HEADER = "system\tdoc\tdoc_id\tseg_id\trater\tsource\ttarget\tcategory\tseverity\n"
ROWS = [
    ("sysA", "talk.1", "1", "1", "r1", "src", "The two <v>guides</v> met.", "Accuracy/Mistranslation", "Major"),
    ("sysA", "talk.1", "1", "1", "r1", "src", "The <v>two</v> guides met.", "Fluency/Grammar", "Minor"),
    ("sysB", "talk.1", "1", "1", "r1", "src", "Two leaders met.", "No-error", "No-error"),
    ("ref", "talk.1", "1", "1", "r1", "src", "The two <v>leaders</v> met.", "Style/Awkward", "Minor"),
    ("sysA", "talk.1", "1", "2", "r1", "src", "It is <v>pariad</v>.", "Fluency/Spelling", "Major"),
]


@pytest.fixture
def tsv(tmp_path):
    path = tmp_path / "mqm.tsv"
    path.write_text(HEADER + "".join("\t".join(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def test_rows_become_documents_with_labelled_spans(tsv):
    docs = list(read_mqm(tsv))
    assert [d.id for d in docs] == ["sysA|1|1", "sysB|1|1", "sysA|1|2"]  # human references left out
    first = docs[0]
    assert first.text == "The two guides met."
    assert [(first.text[s.start:s.end], s.label, s.fixes) for s in first.spans] == [
        ("two", "Minor:Fluency/Grammar", ()), ("guides", "Major:Accuracy/Mistranslation", ())]
    assert docs[1].spans == [] and unmark("a <v>b</v> c") == ("a b c", (2, 3))
    assert len(list(read_mqm(tsv, include_references=True))) == 4


def test_the_parts_split_by_source_segment_and_cover_everything(tsv):
    dev, held = list(read_mqm(tsv, "dev")), list(read_mqm(tsv, "held-out"))
    assert len(dev) + len(held) == 3
    assert {d.id.split("|", 1)[1] for d in dev}.isdisjoint({d.id.split("|", 1)[1] for d in held})
    assert part_of("1", "1") in ("dev", "held-out")


def test_the_shared_file_splits_evenly_with_no_source_segment_in_both():
    path = SHARED / "data" / "mqm" / "mqm-ted-zhen.tsv"
    dev, held = list(read_mqm(path, "dev")), list(read_mqm(path, "held-out"))
    sources = lambda docs: {d.id.split("|", 1)[1] for d in docs}  # noqa: E731
    assert sources(dev).isdisjoint(sources(held)) and 0.4 < len(dev) / (len(dev) + len(held)) < 0.6
    assert all(d.text[s.start:s.end] for d in dev[:200] for s in d.spans)


def test_cli_writes_gold_and_scores_against_the_tsv_by_severity(tsv, tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    assert main(["data", "mqm", str(tsv), "-o", str(gold)]) == 0
    records = [json.loads(line) for line in gold.read_text().splitlines()]
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps({"text": r["text"], "spans": [
        s for s in r["spans"] if s["label"].startswith("Major")]}) + "\n" for r in records))
    capsys.readouterr()
    assert main(["score", "--gold", str(tsv), "--pred", str(pred), "--json", "--bootstrap", "0"]) == 0
    by_label = json.loads(capsys.readouterr().out)["by_label"]
    assert by_label["Major (all)"]["span_recall"] == 1.0 and by_label["Minor (all)"]["span_recall"] == 0.0
    assert main(["data", "mqm", str(tmp_path / "gold.jsonl")]) == 1
    with pytest.raises(InputError, match="not an MQM TSV"):
        list(read_mqm(gold))
