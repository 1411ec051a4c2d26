import pytest

from mtfix.data.mlqe import MLQEError, read_mlqe, tag_spans
from mtfix.text.spans import Span, apply_edits, gold_edits

from ..conftest import SHARED


def test_tag_spans_exact():
    offsets = [(0, 1), (2, 3), (4, 5)]
    assert tag_spans(offsets, "OK OK BAD OK OK BAD OK".split()) == [Span(2, 2, "bad"), Span(4, 5, "bad")]
    assert tag_spans(offsets, "OK BAD OK BAD OK OK BAD".split()) == [Span(0, 3, "bad"), Span(5, 5, "bad")]


def test_tag_count_checked():
    with pytest.raises(MLQEError, match="tags for 2 words"):
        tag_spans([(0, 1), (2, 3)], ["OK"] * 4)


def test_reader_on_a_tarball(mlqe_tarball):
    docs = list(read_mlqe(mlqe_tarball))
    assert [d.id for d in docs] == ["xx-en-dev:1", "xx-en-dev:2"]
    first = docs[0]
    assert first.text == "In addition to these plants there are coniferous plants such as walnut, Maple."
    assert first.reference == "In addition to these plants, there are conifers such as walnut, maple."
    found = {first.text[s.start:s.end]: s for s in first.spans}
    assert found["coniferous plants"].fixes == ("conifers",)
    assert found["Maple"].fixes == ("maple",)
    assert any(s.start == s.end or first.text[s.start:s.end].isspace() for s in first.spans)  # the BAD gap
    second = docs[1]
    assert [second.text[s.start:s.end] for s in second.spans] == ["floor coverings"]
    assert second.spans[0].fixes == ("floppy disks",)
    for doc in docs:
        assert apply_edits(doc.text, gold_edits(doc.spans)) == doc.reference


def test_reader_on_a_folder(mlqe_tarball, tmp_path):
    import tarfile

    with tarfile.open(mlqe_tarball) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    assert len(list(read_mlqe(tmp_path / "unpacked"))) == 2


def test_reader_errors(tmp_path):
    with pytest.raises(MLQEError, match="no such"):
        list(read_mlqe(tmp_path / "nope.tar.gz"))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "dev.mt").write_text("a b\n")
    with pytest.raises(MLQEError, match="no .pe / .tags"):
        list(read_mlqe(tmp_path / "d"))


def test_real_split_reconstructs_every_post_edit():
    docs = list(read_mlqe(SHARED / "data/mlqe-pe/ro-en-dev.tar.gz"))
    assert len(docs) == 1000
    assert all(apply_edits(d.text, gold_edits(d.spans)) == d.reference for d in docs)
