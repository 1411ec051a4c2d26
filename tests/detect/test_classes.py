import json

from mtfix.detect import Bounded
from mtfix.detect.classes import (
    CLASSES,
    FROM_LABEL,
    ClassHead,
    class_of_label,
    features,
    fit,
    reader_span,
    shipped_classes,
)
from mtfix.text.spans import Span, span_class
from mtfix.text.tokens import tokenize


def feature_row(text, word):
    start = text.index(word)
    return features(text, tokenize(text), start, start + len(word))


def test_labels_of_the_training_data_name_classes():
    assert class_of_label("pivot") == class_of_label("meaning") == "wrong-sense"
    assert class_of_label("fused") == class_of_label("hyphen") == "spacing"
    assert class_of_label("dropped") == "omission" and class_of_label("calque") == "name"
    assert class_of_label("untagged") is None and class_of_label("keep") is None
    assert set(FROM_LABEL.values()) <= set(CLASSES)


def test_a_zero_width_gold_span_is_read_as_the_word_after_the_gap():
    text = "He went home ."
    tokens = tokenize(text)
    assert reader_span(text, tokens, 3, 3) == (3, 7)        # before "went"
    assert reader_span(text, tokens, 14, 14) == (13, 14)    # at the end: the word before
    assert reader_span(text, tokens, 0, 2) == (0, 2)


def test_a_fitted_head_names_the_classes_it_was_shown_and_its_spans_carry_them():
    examples = [("a pariad here", "pariad", "non-word"), ("the qwzzle is", "qwzzle", "non-word"),
                ("went to to the", "to", "repetition"), ("and and then", "and", "repetition"),
                ("the projectsWhich were", "projectsWhich", "spacing"), ("big carsThat go", "carsThat", "spacing"),
                ("in one Explosion today", "Explosion", "casing"), ("a green Apple fell", "Apple", "casing")]
    rows = [feature_row(t, w) for t, w, _ in examples] * 5
    labels = [CLASSES.index(c) for _, _, c in examples] * 5
    head = fit(rows, labels, l2=1e-3)
    for text, word, want in (("an urgle there", "urgle", "non-word"), ("fell ill ill today", "ill", "repetition"),
                             ("the booksWhich were", "booksWhich", "spacing")):
        p = head.probabilities([feature_row(text, word)])[0]
        assert CLASSES[max(range(len(p)), key=p.__getitem__)] == want, (text, want)
    text = "an urgle there"
    (named,) = head.assign([text], [[Span(3, 8, "artifact", 0.9)]])
    assert named[0].class_name == "non-word" and 0.5 < named[0].class_p <= 1.0
    assert span_class(named[0]) == "non-word"
    back = Span.from_json(json.loads(json.dumps(named[0].to_json(text))))
    assert (back.class_name, back.class_p) == (named[0].class_name, named[0].class_p)


def test_saved_heads_reload_the_same(tmp_path):
    rows = [feature_row("a pariad here", "pariad"), feature_row("and and then", "and")] * 3
    head = fit(rows, [1, 7] * 3)
    head.prior = [1 / len(CLASSES)] * len(CLASSES)
    head.save(tmp_path / "classes.json")
    again = ClassHead.load(tmp_path / "classes.json")
    assert again.probabilities(rows[:2]) == head.probabilities(rows[:2])


class Flags:
    name = "flags"

    def detect(self, texts):
        return [[Span(t.start, t.end, "artifact", 0.9) for t in tokenize(text) if t.text in ("pariad", "Which")]
                for text in texts]


def test_the_detector_with_the_shipped_head_gives_every_span_a_class():
    head = shipped_classes()
    assert head is not None and head.prior and abs(sum(head.prior) - 1) < 1e-3
    detector = Bounded(Flags(), head)
    (spans,) = detector.detect(["It was a pariad state."])
    assert [s.class_name for s in spans] == ["non-word"] and spans[0].class_p > 0.5
    assert Bounded(Flags()).detect(["a pariad"])[0][0].class_name is None  # no head: no class
