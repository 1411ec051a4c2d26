import io

from mtfix.review import Review
from mtfix.text.formats import Document
from mtfix.text.spans import Edit

TEXT = "the two guides met in one Explosion"
EDITS = [Edit(8, 14, "leaders", 0.9, ("heads", "chiefs")), Edit(22, 25, "an", 0.7), Edit(26, 35, "explosion", 0.8)]


def review(answers, docs=None):
    feed = iter(answers)

    def ask(prompt):
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    out = io.StringIO()
    docs = docs or [Document(TEXT, edits=list(EDITS)), Document("nothing here", edits=[])]
    return Review(docs, ask=ask, out=out).run(), out.getvalue()


def test_accept_reject_and_pick_an_alternative():
    (doc, other), shown = review(["a", "r", "2", "a"])  # the third edit has no second alternative: asked again
    assert doc.fixed == "the two leaders met in one explosion"
    assert [e.replacement for e in doc.edits] == ["leaders", "explosion"]
    assert other.fixed == "nothing here" and other.edits == []
    assert "edit 1 of 3" in shown and "1) 'heads'" in shown


def test_alternative_typed_replacement_undo_and_quit():
    (doc, _), _ = review(["1", "e", "a", "u", "e", "an", "q"])
    # 1: heads for guides; e + "a": "one" -> "a"; undo that; e + "an": "one" -> "an"; quit before Explosion
    assert doc.fixed == "the two heads met in an Explosion"
    assert [(e.start, e.end) for e in doc.edits] == [(8, 14), (22, 25)]


def test_end_of_input_keeps_what_was_decided_and_help_asks_again():
    (doc, _), shown = review(["?", "", "x"])
    assert doc.fixed == "the two leaders met in one Explosion"
    assert "[u]ndo" in shown
