import json

import pytest

from mtfix.errors import InputError
from mtfix.text.formats import FORMAT_VERSION, MAX_CHARS, Document, read_documents, read_segments
from mtfix.text.spans import Edit, Span


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_plain_text_keeps_blank_lines_and_line_ends(tmp_path):
    path = write(tmp_path, "a.txt", b"one\r\n\r\ntwo\nthree")
    segs = list(read_segments(path))
    assert [(s.line, s.text, s.eol) for s in segs] == [(1, "one", "\r\n"), (2, "", "\r\n"), (3, "two", "\n"),
                                                        (4, "three", "")]


def test_jsonl_with_named_field_and_bad_records(tmp_path):
    lines = [json.dumps({"id": 1, "body": "good text"}), "{not json", json.dumps({"body": 5}),
             json.dumps({"other": "x"}), json.dumps([1, 2]), ""]
    path = write(tmp_path, "a.jsonl", ("\n".join(lines) + "\n").encode())
    segs = list(read_segments(path, text_field="body"))
    assert segs[0].text == "good text" and segs[0].record == {"id": 1, "body": "good text"}
    assert [s.error for s in segs[1:]] == ["invalid JSON (Expecting property name enclosed in double quotes)",
                                           '"body" is a int, not a string', 'no "body" field',
                                           "not a JSON object", "empty line"]


def test_invalid_utf8_line_is_reported_and_others_read(tmp_path):
    path = write(tmp_path, "a.txt", b"good\nbad \xff here\nalso good\n")
    segs = list(read_segments(path))
    assert [s.text for s in segs] == ["good", None, "also good"]
    assert segs[1].error == "invalid UTF-8 at byte 4"


def test_very_long_line_is_reported(tmp_path):
    path = write(tmp_path, "a.txt", b"short\n" + b"x" * (MAX_CHARS + 1) + b"\n")
    segs = list(read_segments(path))
    assert segs[0].text == "short" and "line too long" in (segs[1].error or "")


@pytest.mark.parametrize("setup,message", [
    (lambda p: str(p / "missing.txt"), "no such file"),
    (lambda p: str(p), "is a folder"),
    (lambda p: write(p, "e.txt", b""), "is empty"),
    (lambda p: write(p, "b.bin", b"\x00\x01\x02binary"), "binary"),
])
def test_unreadable_inputs(tmp_path, setup, message):
    with pytest.raises(InputError, match=message):
        list(read_segments(setup(tmp_path)))


def test_document_json_round_trip():
    doc = Document("two guides met", [Span(4, 10, "sense", 0.9)], reference="two leaders met", id="d1",
                   edits=[Edit(4, 10, "leaders", 0.8, ("heads",))], fixed="two leaders met")
    obj = doc.to_json()
    assert obj["format_version"] == FORMAT_VERSION
    assert obj["fixed"] == "two leaders met"
    assert obj["spans"][0]["text"] == "guides" and obj["edits"][0]["original"] == "guides"
    back = Document.from_json(json.loads(json.dumps(obj)))
    assert back == doc


def test_read_documents_checks_offsets_and_version(tmp_path):
    bad = write(tmp_path, "p.jsonl", json.dumps({"text": "abc", "spans": [{"start": 1, "end": 9}]}).encode())
    with pytest.raises(InputError, match="line 1: span \\[1, 9\\) lies outside"):
        list(read_documents(bad))
    future = write(tmp_path, "f.jsonl", json.dumps({"format_version": 99, "text": "abc"}).encode())
    with pytest.raises(InputError, match="format_version 99"):
        list(read_documents(future))
