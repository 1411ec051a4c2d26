import pytest
from hypothesis import given
from hypothesis import strategies as st

from mtfix import Edit, OverlapError, Span, apply_edits
from mtfix.text.spans import gold_edits


def test_span_json_round_trip_with_text():
    span = Span(4, 10, "sense", 0.875, fixes=("leaders",))
    obj = span.to_json("two guides met")
    assert obj == {"start": 4, "end": 10, "text": "guides", "label": "sense", "score": 0.875, "fixes": ["leaders"]}
    assert Span.from_json(obj) == span


def test_edit_json_round_trip_with_original():
    edit = Edit(4, 10, "leaders", 0.5, ("heads",))
    obj = edit.to_json("two guides met")
    assert obj["original"] == "guides" and obj["alternatives"] == ["heads"]
    assert Edit.from_json(obj) == edit


def test_spans_and_edits_are_frozen():
    with pytest.raises(AttributeError):
        Span(0, 1).start = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        Edit(0, 1, "x").replacement = "y"  # type: ignore[misc]


@pytest.mark.parametrize("start,end", [(-1, 2), (5, 3)])
def test_bad_offsets_refused(start, end):
    with pytest.raises(ValueError):
        Span(start, end)
    with pytest.raises(ValueError):
        Edit(start, end, "")


@pytest.mark.parametrize("edits,expected", [
    ([], "two guides met"),
    ([Edit(4, 10, "leaders")], "two leaders met"),
    ([Edit(10, 10, " have")], "two guides have met"),             # zero width inserts
    ([Edit(3, 10, "")], "two met"),                                # empty replacement deletes
    ([Edit(11, 14, "meet"), Edit(0, 3, "Two")], "Two guides meet"),  # order does not matter
    ([Edit(0, 0, ">"), Edit(14, 14, "<")], ">two guides met<"),
])
def test_apply_edits(edits, expected):
    assert apply_edits("two guides met", edits) == expected


@pytest.mark.parametrize("edits", [
    [Edit(0, 5, "x"), Edit(4, 8, "y")],
    [Edit(3, 3, "a"), Edit(3, 3, "b")],
    [Edit(2, 6, "x"), Edit(4, 4, "y")],
])
def test_overlapping_edits_refused(edits):
    with pytest.raises(OverlapError, match="overlap"):
        apply_edits("two guides met", edits)


def test_adjacent_edits_allowed():
    assert apply_edits("abcd", [Edit(0, 2, "X"), Edit(2, 4, "Y"), Edit(2, 2, "-")]) == "X-Y"


def test_edit_outside_text_refused():
    with pytest.raises(ValueError, match="outside"):
        apply_edits("abc", [Edit(2, 9, "")])


@st.composite
def text_and_edits(draw):
    text = draw(st.text(max_size=40))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8)))
    edits = []
    for a, b in zip(cuts[::2], cuts[1::2]):
        if edits and (a < edits[-1].end or a == b == edits[-1].start == edits[-1].end):
            continue
        edits.append(Edit(a, b, draw(st.text(max_size=5))))
    return text, edits


@given(text_and_edits())
def test_characters_outside_edits_never_change(case):
    text, edits = case
    result = apply_edits(text, edits)
    cursor = out = 0
    for edit in edits:
        kept = text[cursor:edit.start]
        assert result[out:out + len(kept)] == kept
        out += len(kept)
        assert result[out:out + len(edit.replacement)] == edit.replacement
        out += len(edit.replacement)
        cursor = edit.end
    assert result[out:] == text[cursor:]


def test_gold_edits_take_first_fix_and_skip_any_change_spans():
    spans = [Span(4, 10, fixes=("leaders", "heads")), Span(11, 14, fixes=()), Span(0, 3)]
    assert gold_edits(spans) == [Edit(4, 10, "leaders")]
