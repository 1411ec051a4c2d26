import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mtfix.data.corrupt import CORRUPTORS, MULTI_WORD, Corruption, Resources, corrupt, realise
from mtfix.text.spans import apply_edits, gold_edits

SIBLINGS = {"leader": {"guide": {"Führer"}}, "pressure": {"printing": {"Druck"}}, "times": {"ages": {"Zeiten"}}}
ZIPF = {"guide": 5.0, "guides": 4.5, "printing": 4.2, "ages": 4.0}


def resources() -> Resources:
    return Resources(lambda w: SIBLINGS.get(w, {}), lambda w: ZIPF.get(w, 3.0 if w.isalpha() and len(w) < 9
                                                                         and not w.endswith(("d", "k")) else 0.0),
                     vocabulary=["confidante", "confident", "pariah"])


SENTENCES = [
    "The two leaders discussed the need to improve bilateral relations on Tuesday.",
    "Russia launched its full invasion of Ukraine, and a US official said the non-involved states would wait.",
    "Reports in the Financial Times say the company has signed the deal with the Nord Stream operator today.",
    "After pressure from the US Congress in 2019 the White House imposed sanctions on Russia's companies.",
    "The minister has signed the new deal in Berlin, and their officials were pleased.",
]


MULTI_SENTENCES = SENTENCES + [
    "After the talks in Berlin, the two leaders signed the new trade deal.",
    "When the storm hit the coast, their officials closed the roads to the port.",
]


@pytest.mark.parametrize("name", list(CORRUPTORS) + list(MULTI_WORD))
def test_each_corruptor_applies_and_its_fix_restores_the_sentence(name):
    rng = random.Random(0)
    applied = 0
    for sentence in MULTI_SENTENCES:
        for _ in range(5):
            result = corrupt(sentence, rng, resources(), only=[name])
            if result is None:
                continue
            text, spans = result
            applied += 1
            assert [s.label for s in spans] == [name]
            assert text != sentence and apply_edits(text, gold_edits(spans)) == sentence
            if name in MULTI_WORD:  # several words of one span, not one
                (span,) = spans
                assert sum(a != b for a, b in zip(text[span.start:span.end].split(), span.fixes[0].split())) >= 2
    assert applied >= 3, f"{name} applied {applied} times"


def test_pivot_uses_the_dictionary_and_keeps_plural():
    rng = random.Random(1)
    text, spans = corrupt("The two leaders discussed the plan.", rng, resources(), only=["pivot"])
    assert text == "The two guides discussed the plan."
    assert spans[0].fixes == ("leaders",) and spans[0].label == "pivot"


def test_calque_of_a_known_name():
    text, spans = corrupt(SENTENCES[2], random.Random(0), resources(), only=["calque"])
    assert "Finance times" in text or "north stream" in text


def test_realise_offsets():
    text, spans = realise("a b c", [Corruption(2, 3, "XY", "x"), Corruption(0, 0, "the ", "y")])
    assert text == "the a XY c"
    assert [(text[s.start:s.end], s.fixes) for s in spans] == [("the ", ("",)), ("XY", ("b",))]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SENTENCES), st.integers(0, 10_000), st.integers(1, 3))
def test_corruptions_never_overlap_and_always_restore(sentence, seed, count):
    result = corrupt(sentence, random.Random(seed), resources(), count=count)
    assume(result is not None)
    text, spans = result
    assert apply_edits(text, gold_edits(spans)) == sentence
    for a, b in zip(spans, spans[1:]):
        assert a.end < b.start


def test_clause_order_moves_the_fronted_clause_back():
    text, (span,) = corrupt(MULTI_SENTENCES[-2], random.Random(0), resources(), only=["clause-order"])
    assert text == "The two leaders signed the new trade deal, after the talks in Berlin."
    assert span.fixes == ("After the talks in Berlin, the two leaders signed the new trade deal",)


def test_multi_word_kinds_are_drawn_only_when_asked():
    from mtfix.data.build import synthetic_examples

    pool = MULTI_SENTENCES * 20
    plain = synthetic_examples(pool, 150, random.Random(3), resources=resources())
    multi = synthetic_examples(pool, 150, random.Random(3), multi_word=True, resources=resources())
    assert not any(e.source in ("synthetic:multi-word", "synthetic:clause-order") for e in plain)
    assert any(e.source == "synthetic:multi-word" for e in multi)


def test_kinds_draws_only_the_named_corruptors_and_their_fixes_restore_the_sentence():
    from mtfix.data.build import synthetic_examples

    made = synthetic_examples(MULTI_SENTENCES * 20, 60, random.Random(5), resources=resources(),
                              kinds=list(MULTI_WORD))
    assert len(made) == 60
    assert {e.source for e in made} == {"synthetic:multi-word", "synthetic:clause-order"}
    for e in made:
        edits = [(s["start"], s["end"], s["fix"]) for s in e.spans]
        fixed, at = [], 0
        for start, end, fix in sorted(edits):
            fixed.append(e.text[at:start] + fix)
            at = end
        assert "".join(fixed) + e.text[at:] == e.reference


def test_lm_plausible_writes_a_fluent_word_the_model_proposes_never_the_original_or_its_forms():
    from mtfix.data.corrupt import LM_KINDS

    proposals = [("discussed", 0.5), ("discusses", 0.2), ("the", 0.1), ("cancels", 0.15), ("opposes", 0.05)]
    asked = []

    def plausible(prefix):  # a model that knows only what follows "The two leaders"
        asked.append(prefix)
        return proposals if prefix.rstrip().endswith("leaders") else []

    res = resources()
    res.plausible = plausible
    seen = set()
    for seed in range(30):
        made = corrupt("The two leaders discussed the plan on Monday.", random.Random(seed), res, only=["lm-plausible"])
        assert made is not None
        text, (span,) = made
        assert span.label == "lm-plausible" and apply_edits(text, gold_edits([span])) == (
            "The two leaders discussed the plan on Monday.")
        seen.add(text[span.start:span.end])
    # the words before the place are what the model was asked about; only its content words, never the original
    assert seen <= {"cancels", "opposes"} and "cancels" in seen
    assert all("The two leaders discussed the plan on Monday.".startswith(p) for p in asked)
    assert "lm-plausible" in LM_KINDS
    assert corrupt("The two leaders discussed the plan.", random.Random(0), resources(), only=["lm-plausible"]) is None


def test_lm_plausible_words_are_drawn_only_when_asked():
    from mtfix.data.build import synthetic_examples

    res = resources()
    res.plausible = lambda prefix: [("cancels", 0.6), ("opposes", 0.4)]
    pool = MULTI_SENTENCES * 20
    plain = synthetic_examples(pool, 150, random.Random(3), resources=res)
    lm = synthetic_examples(pool, 150, random.Random(3), resources=res, lm_plausible=True)
    assert not any(e.source == "synthetic:lm-plausible" for e in plain)
    assert any(e.source == "synthetic:lm-plausible" for e in lm)
