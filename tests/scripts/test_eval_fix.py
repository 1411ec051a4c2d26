"""scripts/eval_fix.py: one correction run scored at several swap bars, as `mtfix fix --swap-score` would have
written each."""
import json

import pytest

from ..conftest import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("eval_fix")


def test_a_swap_bar_leaves_out_the_meaning_swaps_under_it_and_nothing_else(script, tmp_path):
    text = "The two guides met in one Explosion."
    edits = [{"start": 8, "end": 14, "original": "guides", "replacement": "leaders", "score": 0.6},
             {"start": 22, "end": 35, "original": "one Explosion", "replacement": "an explosion", "score": 0.55}]
    pred = tmp_path / "x.fix.jsonl"
    pred.write_text(json.dumps({"format_version": 1, "text": text, "spans": [], "edits": edits}) + "\n")
    assert script.at_swap(pred, None) == pred
    kept = json.loads(script.at_swap(pred, 0.7).read_text())["edits"]
    assert [e["replacement"] for e in kept] == ["an explosion"]  # a meaning swap under 0.7 goes; a form change stays
    assert len(json.loads(script.at_swap(pred, 0.5).read_text())["edits"]) == 2
    assert script.count_edits(script.at_swap(pred, 0.7), 0.5) == 1 and script.count_edits(pred, 0.58) == 1
    assert script.name((0.5, None)) == "0.5" and script.name((0.5, 0.7)) == "0.5/0.7"


def test_a_document_that_reads_as_translated_is_scored_at_the_bar_that_follows_it(script):
    from mtfix.detect.document import Follow

    follow = Follow(cut=0.8, low=0.2)
    records = [{"text": "a", "mt_probability": 0.987, "edits": []}, {"text": "b", "mt_probability": 0.987}]
    assert script.document_bar(records, 0.5, 0.45, follow) == (0.45, 0.987)
    assert script.document_bar([{**r, "mt_probability": 0.3} for r in records], 0.5, 0.45, follow) == (0.5, 0.3)
    assert script.document_bar(records, 0.5, None, follow) == (0.5, 0.987)  # a corrector whose bars do not follow
    assert script.document_bar(records, 0.5, 0.45, None) == (0.5, 0.987)  # a detector whose threshold does not
    assert script.document_bar([{"text": "a"}], 0.5, 0.45, follow) == (0.5, None)  # no document head: the default
