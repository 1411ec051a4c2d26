from hypothesis import given
from hypothesis import strategies as st

from mtfix.text.align import UNTAGGED, diff_edits, gold_spans
from mtfix.text.spans import Span, apply_edits, gold_edits


def test_diff_edits_replace_insert_delete():
    text, ref = "the two guides met in Moscow .", "the two leaders met Moscow."
    edits = diff_edits(text, ref)
    assert apply_edits(text, edits) == ref
    assert [(text[e.start:e.end], e.replacement) for e in edits] == [("guides", "leaders"), ("in ", ""), (" ", "")]


def test_gold_spans_merge_tags_with_changes_and_keep_untagged_changes():
    text = "In addition these plants there are coniferous plants such as Maple."
    ref = "In addition to these plants, there are conifers such as maple."
    tagged = [Span(35, 52, "bad"), Span(61, 66, "bad")]
    spans = gold_spans(text, ref, tagged)
    assert apply_edits(text, gold_edits(spans)) == ref
    by_text = {text[s.start:s.end]: s for s in spans}
    assert by_text["coniferous plants"].fixes == ("conifers",)
    assert by_text["coniferous plants"].label == "bad"
    assert by_text["Maple"].fixes == ("maple",)
    assert {s.label for s in spans if s.start < 35} == {UNTAGGED}


def test_tagged_span_without_change_means_any_change_counts():
    spans = gold_spans("a b c", "a b c", [Span(2, 3, "bad")])
    assert spans == [Span(2, 3, "bad", 1.0, ())]


def test_zero_width_gap_tag_merges_with_insertion_nearby():
    text, ref = "plants there", "plants, there"
    spans = gold_spans(text, ref, [Span(7, 7, "bad")])
    assert len(spans) == 1 and spans[0].label == "bad"
    assert apply_edits(text, gold_edits(spans)) == ref


_vocab = ["the", "a", "guides", "leaders", ",", ".", "Russia", "’s", "his", "its"]
_words = st.lists(st.sampled_from(_vocab), max_size=12)
_space = st.sampled_from([" ", "  ", "\n", "\xa0"])


@st.composite
def sentence(draw):
    tokens = draw(_words)
    return "".join(tok + draw(_space) for tok in tokens).rstrip(" ") if tokens else draw(st.sampled_from(["", " "]))


@given(sentence(), sentence(), st.lists(st.tuples(st.integers(0, 60), st.integers(0, 8)), max_size=4))
def test_applying_gold_fixes_yields_the_reference(text, ref, raw_tags):
    tags = []
    for start, width in raw_tags:
        start = min(start, len(text))
        tags.append(Span(start, min(start + width, len(text)), "bad"))
    tags = sorted(set(tags), key=lambda s: (s.start, s.end))
    spans = gold_spans(text, ref, tags)
    assert apply_edits(text, gold_edits(spans)) == ref
    for a, b in zip(spans, spans[1:]):
        assert a.end <= b.start
