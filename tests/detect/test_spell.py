from mtfix.detect.spell import SpellDetector


def flagged(text):
    (spans,) = SpellDetector().detect([text])
    return [text[s.start:s.end] for s in spans]


def test_flags_non_words_and_fused_words():
    text = "Both leaders understood and confidanteled each other. There was a pariad for energy projectsWhich"
    assert flagged(text) == ["confidanteled", "pariad", "projectsWhich"]


def test_leaves_names_numbers_and_common_words_alone():
    assert flagged("Zelenskyy met Stanovaya in 2022 at 5pm, a well-known 2½-hour meeting (NATO).") == []


def test_one_list_per_text_in_order():
    spans = SpellDetector().detect(["fine text", "an orgoly here", ""])
    assert [len(s) for s in spans] == [0, 1, 0]
