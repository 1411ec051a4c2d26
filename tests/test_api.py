import mtfix
from mtfix.text.tokens import tokenize


def test_load_spell_and_detect():
    fixer = mtfix.load(method="spell")
    spans = fixer.detect(["both leaders confidanteled each other", "all fine here"])
    assert [[(s.start, s.end) for s in doc] for doc in spans] == [[(13, 26)], []]
    assert fixer.detect("a pariad")[0][0].start == 2


def test_load_a_trained_model_folder(tmp_path):
    from transformers import AutoTokenizer

    from mtfix.training.common import minilm_dir

    from .detect.test_tagger import tiny_model

    tiny_model().save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(minilm_dir()).save_pretrained(tmp_path)
    fixer = mtfix.load(model=str(tmp_path), method="model", threshold=0.0)
    (spans,) = fixer.detect(["three words here"])
    assert [(s.start, s.end) for s in spans] == [(0, 16)]


def test_the_default_is_the_shipped_fused_detector_and_fast_the_tagger():
    """The shipped models, offline: a wrong-sense word of the seed article, flagged with its pivot candidate."""
    text = ("During the call, the Kremlin said that the two guides discussed the need to improve bilateral "
            "relationships, to see the economic cooperation and even arrange international hockey games between "
            "both sides.")
    fixer = mtfix.load()
    assert type(fixer.detector.inner).__name__ == "FusedDetector"  # read through detect.Bounded
    (probs,) = fixer.detector.word_probabilities([text])
    words = [t.text for t in tokenize(text)]
    assert words[max(range(len(words)), key=probs.__getitem__)] == "guides"  # the sentence's most suspicious word
    # flagged at the default threshold, with its evidence (the stop-13 head left it just under: 0.32 against 0.33)
    (spans,) = fixer.detect([text])
    (guides,) = [s for s in spans if text[s.start:s.end] == "guides"]
    assert guides.evidence["candidate"] == "leaders" and guides.evidence["kind"] == "pivot"
    assert type(mtfix.load(fast=True).detector.inner).__name__ == "TaggerDetector"


def test_correct_and_fix_with_a_corrector_folder(tiny_models, inventions_allowed):
    from mtfix.text.spans import Span, apply_edits

    tagger, corrector = tiny_models
    fixer = mtfix.load(model=str(tagger), method="model", threshold=0.0, corrector=str(corrector), min_score=0.0)
    text = "It was in on the."  # a function word: the untrained decoder's options never delete content
    edits = fixer.correct(text, [Span(10, 13)])
    assert len(edits) == 1 and (edits[0].start, edits[0].end) in {(10, 13), (10, 14), (9, 13)}
    (fixed,) = fixer.fix(text)
    assert fixed.text == text and fixed.fixed == apply_edits(text, fixed.edits)
    assert fixed.to_json()["fixed"] == fixed.fixed
    # the corrector reads the detector's own encoder: one set of weights in memory, one pass per text
    assert fixer.corrector.encoder.tagger is fixer.detector.model
    assert not fixer.corrector.encoder.shared
    strict = mtfix.load(model=str(tagger), method="model", threshold=0.0, corrector=str(corrector), min_score=1.0)
    assert strict.fix([text])[0].edits == [] and strict.fix([text])[0].fixed == text


def test_fix_without_a_corrector_says_how_to_get_one(tmp_path, monkeypatch):
    import pytest

    from mtfix.errors import NotBuiltError

    monkeypatch.setattr("mtfix.api.shipped_corrector", lambda: None)
    monkeypatch.setattr("mtfix.api.shipped_rewriter", lambda: None)
    fixer = mtfix.load(method="spell")
    with pytest.raises(NotBuiltError, match="mtfix train rewriter"):
        fixer.fix("a pariad")


def test_load_takes_the_settings_fields_as_keywords():
    """``mtfix.load``'s keywords are the detector's and the corrector's settings, by name and default, as help()
    shows them; an unknown one is a TypeError, a value out of range or options that do not go together an
    InputError."""
    import inspect
    from dataclasses import fields

    import pytest

    from mtfix.errors import InputError
    from mtfix.settings import CorrectSettings, DetectSettings

    shown = [(p.name, p.default) for p in inspect.signature(mtfix.load).parameters.values()]
    assert shown == [(f.name, f.default) for cls in (DetectSettings, CorrectSettings) for f in fields(cls)]
    with pytest.raises(InputError, match="--lm-gate is a probability"):
        mtfix.load("spell", lm_gate=2.0, device="cpu")
    with pytest.raises(TypeError, match="unexpected keyword argument 'thresold'"):
        mtfix.load("spell", thresold=0.5)
    with pytest.raises(InputError, match="--fast is the tagger alone"):
        mtfix.load("spell", fast=True)
    with pytest.raises(InputError, match="--review sets the threshold"):
        mtfix.load(review=True, threshold=0.3)


def test_load_refuses_numbers_out_of_range():
    import pytest

    from mtfix.errors import InputError

    for kwargs, message in (({"threshold": 1.5}, "--threshold is a probability"),
                            ({"min_score": -0.1}, "--min-score is a probability"),
                            ({"batch_size": 0}, "--batch-size must be at least 1")):
        with pytest.raises(InputError, match=message):
            mtfix.load("spell", **kwargs)


def test_the_default_corrector_is_the_lm_rewriter_and_fixes_round_trip_slips():
    """The shipped LM corrector, offline, on slips of the seed article's kinds (sentences of its own)."""
    from mtfix.text.spans import Span

    fixer = mtfix.load(fast=True)
    texts = ["After Russia launched his full invasion in Ukraine, the talks stopped.",
             "The talks could lead to energy projectsWhich would help both sides."]
    words = ["his", "projectsWhich"]
    edits = fixer.corrector.correct(texts, [[Span(t.index(w), t.index(w) + len(w))] for t, w in zip(texts, words)])
    assert type(fixer.corrector).__name__ == "RewriteCorrector"
    assert [[e.replacement for e in per] for per in edits] == [["its"], ["projects which"]]
    # one SmolLM2 in memory: the rewriter's adapters sit on the model its LM scorer reads
    assert fixer.corrector.rewriter.model.get_base_model() is fixer.corrector.lm.model
