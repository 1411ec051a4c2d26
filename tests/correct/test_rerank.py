"""The reranker's fit: a conditional logit over each span's choices, keeping the original being one of them."""
import math
import random

from mtfix.correct.base import Option, option_traits
from mtfix.correct.rerank import choice_targets, fit_rerank
from mtfix.correct.span_decoder import Corrector
from mtfix.text.formats import Document
from mtfix.text.spans import Span


def _row(text, start, end, fix, reference, options, label="bad"):
    gold = Document(text, [Span(start, end, label, fixes=(fix,))] if label != "keep" else [], reference=reference)
    return gold, [(Span(start, end, label), options)]


def test_targets_prefer_the_gold_fix_then_a_chrf_gain_and_keep_otherwise():
    text, ref = "The two guides met in Paris yesterday.", "The two leaders met in Paris yesterday."
    golds, found = zip(
        _row(text, 8, 14, "leaders", ref, [Option("guide", "nbest", 0.0), Option("leaders", "pivot", 0.0)]),
        _row(text, 8, 14, "chiefs", ref, [Option("countries", "nbest", 0.0), Option("leaders", "pivot", 0.0)]),
        _row(text, 8, 14, "chiefs", ref, [Option("countries", "nbest", 0.0)]),
        _row(text, 22, 27, None, text, [Option("London", "nbest", 0.0)], label="keep"))
    # 1: the gold fix; 2: "leaders" raises chrF against the reference; 3: nothing does; 4: a span to keep
    assert choice_targets(golds, found) == [[2], [2], [0], [0]]


def test_fitted_logit_learns_which_options_to_take_and_when_to_keep():
    """Options with a large LM gain and a near spelling are right; the rest (and every option of a span to keep)
    are not. The fit must rank the right option first and give it the larger probability."""
    rng = random.Random(0)
    golds, found = [], []
    for n in range(120):
        good = n % 2 == 0
        text = f"Row {n} has a pariad here."
        options = [Option("party", "nbest", rng.gauss(0, 1), lm_gain=rng.gauss(1, 1)),
                   Option("pariah", "spelling", rng.gauss(0, 1), lm_gain=rng.gauss(6 if good else 1, 1))]
        option_traits("pariad", options)
        ref = text.replace("pariad", "pariah") if good else text
        gold, per_text = _row(text, text.index("pariad"), text.index("pariad") + 6, "pariah" if good else None,
                              ref, options, label="bad" if good else "keep")
        golds.append(gold)
        found.append(per_text)
    rerank = fit_rerank(golds, found, ["nbest", "spelling"])
    assert rerank.softmax and rerank.lm > 0
    chooser = Corrector.__new__(Corrector)
    chooser.rerank = rerank
    strong = [Option("party", "nbest", 0.0, lm_gain=1.0), Option("pariah", "spelling", 0.0, lm_gain=6.0)]
    weak = [Option("party", "nbest", 0.0, lm_gain=1.0), Option("pariah", "spelling", 0.0, lm_gain=1.0)]
    option_traits("pariad", strong)
    option_traits("pariad", weak)
    (top, p_strong), *_ = chooser.choose(strong)
    (_, p_weak), *_ = chooser.choose(weak)
    assert top.replacement == "pariah" and p_strong > 0.8 and p_weak < 0.3
    assert sum(p for _, p in chooser.choose(strong)) < 1.0  # keeping the original keeps the rest
    assert math.isfinite(rerank.bias)
