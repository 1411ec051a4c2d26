import math

import pytest

from mtfix.score import Settings, clean_rates, correction_stats, detection_metrics, detection_stats, score
from mtfix.text.formats import Document
from mtfix.text.spans import Edit, Span

EPS = 1e-9
TEXT = "a b c d"  # words at 0, 2, 4, 6
A, B, C, D = (0, 1), (2, 3), (4, 5), (6, 7)
NO_BOOT = Settings(bootstrap=0)


def spans(*ranges, score=1.0):
    return [Span(a, b, score=score) for a, b in ranges]


def metrics(gold, pred, threshold=0.0):
    stats = detection_stats(Document(TEXT, gold), Document(TEXT, pred), threshold)
    keys = ["tp", "fp", "fn", "tn", "n_pred", "n_gold", "exact_pred", "exact_gold", "part_pred", "part_gold"]
    return detection_metrics(dict(zip(keys, stats)))


# Each row: gold spans, predicted spans, expected metrics (computed by hand).
CASES = [
    # tp=1 fp=1 fn=0 tn=2: P=1/2 R=1 F1=2/3; OK: P=1 R=2/3 F1=0.8; MCC=2/sqrt(2*1*3*2)
    (spans(B), spans(B, D), {"word_precision_bad": 0.5, "word_recall_bad": 1.0, "word_f1_bad": 2 / 3,
                             "word_f1_ok": 0.8, "word_f1_mult": 0.8 * 2 / 3, "word_mcc": 2 / math.sqrt(12),
                             "span_exact_precision": 0.5, "span_exact_recall": 1.0,
                             "span_exact_f05": 1.25 * 0.5 / (0.25 * 0.5 + 1)}),
    # gold "b c", pred "c d": each covers one of the other's two non-space characters
    ([Span(2, 5)], [Span(4, 7)], {"span_exact_precision": 0.0, "span_partial_precision": 0.5,
                                  "span_partial_recall": 0.5, "span_partial_f05": 0.5,
                                  "word_precision_bad": 0.5, "word_recall_bad": 0.5}),
    # no gold spans, no predictions: nothing to find, nothing found
    ([], [], {"word_mcc": 0.0, "word_f1_bad": 0.0, "word_f1_ok": 1.0, "span_exact_f05": 0.0}),
    # predictions on clean text only
    ([], spans(A), {"word_precision_bad": 0.0, "word_mcc": 0.0, "word_f1_ok": 2 * 0.75 / 1.75}),
    # everything BAD on both sides: MCC undefined -> 0, F1-OK 0
    (spans(A, B, C, D), [Span(0, 7)], {"word_f1_bad": 1.0, "word_f1_ok": 0.0, "word_mcc": 0.0,
                                       "span_exact_precision": 0.0, "span_partial_precision": 1.0,
                                       "span_partial_recall": 1.0}),
    # perfect prediction: MCC 1
    (spans(A, C), spans(A, C), {"word_mcc": 1.0, "word_f1_mult": 1.0, "span_exact_f05": 1.0}),
    # zero-width gold (a missing word) matched by a zero-width prediction at the same place;
    # zero-width spans mark no word
    ([Span(3, 3)], [Span(3, 3)], {"span_exact_precision": 1.0, "span_exact_recall": 1.0, "word_mcc": 0.0}),
    # one prediction over half of a gold span, and a second one outside it
    ([Span(0, 3)], [Span(0, 1), Span(6, 7)], {"span_partial_precision": 0.5, "span_partial_recall": 0.5}),
    # a zero-width gold inside a predicted span: partial credit only
    ([Span(4, 4)], [Span(4, 5)], {"span_exact_recall": 0.0, "span_partial_recall": 1.0,
                                  "span_partial_precision": 1.0}),
    # whitespace around a span does not change the match
    ([Span(1, 4)], spans(B), {"span_exact_precision": 1.0, "span_exact_recall": 1.0}),
]


@pytest.mark.parametrize("gold,pred,expected", CASES)
def test_detection_metrics_by_hand(gold, pred, expected):
    got = metrics(gold, pred)
    for name, value in expected.items():
        assert abs(got[name] - value) < EPS, (name, got[name], value)


def test_threshold_drops_low_scores():
    got = metrics(spans(B), [Span(2, 3, score=0.9), Span(6, 7, score=0.2)], threshold=0.5)
    assert got["word_precision_bad"] == 1.0


def test_untagged_gold_spans_are_not_detection_targets():
    gold = [Span(2, 3, "untagged", fixes=("x",))]
    assert metrics(gold, [])["word_recall_bad"] == 0.0
    assert detection_stats(Document(TEXT, gold), Document(TEXT, []))[5] == 0  # n_gold


SENT = "two guides met"
GOLD = Document(SENT, [Span(4, 10, "sense", fixes=("leaders",))], reference="two leaders met")


@pytest.mark.parametrize("edit,normalise,right", [
    (Edit(4, 10, "leaders"), False, True),
    (Edit(4, 10, "Leaders"), False, False),
    (Edit(4, 10, "Leaders"), True, True),
    (Edit(0, 10, "two leaders"), False, True),   # a wider edit with the same result
    (Edit(4, 10, "heads"), False, False),
    (Edit(11, 14, "meet"), False, False),        # touches no gold span
    (Edit(10, 10, " x"), False, False),          # an insertion next to the span that is not its fix
])
def test_edit_correctness(edit, normalise, right):
    stats = correction_stats(GOLD, Document(SENT, [], edits=[edit]), Settings(normalise=normalise))
    assert stats == [1, int(right), 1, int(right)]


def test_any_change_gold_accepts_any_change_and_noop_edits_are_ignored():
    gold = Document(SENT, [Span(4, 10, fixes=())])
    assert correction_stats(gold, Document(SENT, [], edits=[Edit(4, 10, "chiefs")]), Settings()) == [1, 1, 1, 1]
    assert correction_stats(gold, Document(SENT, [], edits=[Edit(4, 10, "guides")]), Settings()) == [0, 0, 1, 0]


def test_zero_width_gold_insertion():
    gold = Document("the met", [Span(4, 4, fixes=("two ",))])
    assert correction_stats(gold, Document("the met", [], edits=[Edit(4, 4, "two ")]), Settings()) == [1, 1, 1, 1]


def test_score_correction_and_text_deltas():
    from sacrebleu.metrics import CHRF, TER

    golds = [GOLD, Document("it works", [], reference="it works")]
    preds = [Document(SENT, [Span(4, 10)], edits=[Edit(4, 10, "leaders")]), Document("it works", [], edits=[])]
    result = score(golds, preds, NO_BOOT)
    assert result["correction"]["edit_precision"]["value"] == 1.0
    assert result["correction"]["edit_recall"]["value"] == 1.0
    text = result["text"]
    assert abs(text["chrf_fixed"]["value"] - 100.0) < EPS
    expected_input = CHRF().corpus_score([SENT, "it works"], [["two leaders met", "it works"]]).score
    assert abs(text["chrf_input"]["value"] - expected_input) < EPS
    assert abs(text["chrf_delta"]["value"] - (100.0 - expected_input)) < EPS
    expected_ter = TER().corpus_score([SENT, "it works"], [["two leaders met", "it works"]]).score
    assert abs(text["ter_input"]["value"] - expected_ter) < EPS  # one substitution in five words: 20
    assert abs(expected_ter - 20.0) < EPS and text["ter_fixed"]["value"] == 0.0


def test_bootstrap_interval_brackets_the_value_and_is_repeatable():
    golds = [Document(TEXT, spans(B)) for _ in range(20)] + [Document(TEXT, spans(A, C)) for _ in range(20)]
    preds = [Document(TEXT, spans(B, D)) for _ in range(20)] + [Document(TEXT, spans(A)) for _ in range(20)]
    first = score(golds, preds, Settings(bootstrap=200, seed=3))
    again = score(golds, preds, Settings(bootstrap=200, seed=3))
    mcc = first["detection"]["word_mcc"]
    assert mcc["low"] <= mcc["value"] <= mcc["high"] and mcc["low"] < mcc["high"]
    assert first == again


def test_signature_pins_settings():
    sig = Settings(threshold=0.5, normalise=True, bootstrap=10, seed=1).signature()
    assert "threshold:0.5" in sig and "norm:case+space" in sig and "bootstrap:10" in sig and "version:" in sig


def test_misaligned_predictions_refused():
    from mtfix.score import AlignmentError

    with pytest.raises(AlignmentError, match="gold has 1 segments but predictions have 2"):
        score([GOLD], [GOLD, GOLD], NO_BOOT)
    with pytest.raises(AlignmentError, match="segment 1 differs"):
        score([GOLD], [Document("other text")], NO_BOOT)


def test_clean_rates():
    docs = [Document("one two three four five", [Span(4, 7)], edits=[Edit(4, 7, "2")]),
            Document("six seven eight nine ten", [Span(0, 3, score=0.1)])]
    rates = clean_rates(docs)
    assert rates == {"words": 10, "flags_per_1k_words": 200.0, "edits_per_1k_words": 100.0}
    assert clean_rates(docs, threshold=0.5)["flags_per_1k_words"] == 100.0


def test_recall_by_label():
    text = "two guides met in one Explosion"
    gold = Document(text, [Span(4, 10, "pivot"), Span(22, 31, "casing"), Span(11, 14, "untagged")])
    pred = Document(text, [Span(22, 31)])
    result = score([gold], [pred], NO_BOOT)
    assert result["by_label"] == {"casing": {"words": 1, "word_recall": 1.0, "spans": 1, "span_recall": 1.0},
                                  "pivot": {"words": 1, "word_recall": 0.0, "spans": 1, "span_recall": 0.0}}
