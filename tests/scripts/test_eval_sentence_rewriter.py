"""scripts/eval_sentence_rewriter.py: the rows it draws, and what counts as a change outside the gold spans."""
import datasets
import pytest

from ..conftest import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("eval_sentence_rewriter")


def test_a_change_counts_as_outside_only_where_no_gold_span_covers_it(script):
    text = "the two guides met at one Explosion"
    spans = [{"start": 8, "end": 14}, {"start": 22, "end": 35}]
    assert not script.outside(text, "the two leaders met at an explosion", spans)
    assert not script.outside(text, text, spans)
    assert script.outside(text, "the two leaders gathered at an explosion", spans)   # "met" was not flagged
    assert not script.outside("two met", "two have met", [{"start": 4, "end": 4}])    # an insertion at its point
    assert script.outside("two met", "two met today", [{"start": 4, "end": 4}])


def test_rows_are_drawn_per_kind_with_every_span_fixable_and_clean_sentences_apart(script):
    fixable = {"start": 0, "end": 3, "label": "casing", "fix": "one"}
    rows = ([{"text": "One day", "source": "synthetic:casing", "spans": [fixable], "reference": ""}] * 3
            + [{"text": "One day", "source": "synthetic:casing", "reference": "",
                "spans": [fixable, {"start": 4, "end": 7, "label": "untagged", "fix": None}]}] * 3
            + [{"text": "All is well.", "source": "clean:abc-rural", "spans": [], "reference": ""}] * 3
            + [{"text": "All is well.", "source": "clean:abc-rural:window", "spans": [], "reference": ""}] * 3
            + [{"text": "x", "source": "mlqe-pe:ro-en", "spans": [], "reference": ""}] * 3)
    dev = datasets.Dataset.from_list(rows)
    drawn = script.drawn_rows(dev, per_kind=2, apertium=5, clean=5, seed=0)
    kinds = [k for k, _ in drawn]
    assert kinds.count("casing") == 2 and kinds.count("clean") == 3 and len(drawn) == 5
    assert all(len(r["spans"]) == 1 for k, r in drawn if k == "casing")            # the untagged rows left out
    assert all(r["source"] == "clean:abc-rural" for k, r in drawn if k == "clean")  # no windows
