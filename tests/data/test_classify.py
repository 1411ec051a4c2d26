import pytest

from mtfix.data.classify import classify_change


@pytest.mark.parametrize("text,original,fix,kind,visible", [
    ("the Russia's state media", "the ", "", "article", True),
    ("Russia launched his invasion", "his", "its", "pronoun", True),
    ("damaged in one Explosion", "Explosion", "explosion", "casing", True),
    ("both leaders confidanteled each other", "confidanteled", "trusted", "non-word", True),
    ("she says she says the chance", "she says ", "", "repetition", True),
    ("the two guides discussed", "guides", "leaders", "meaning", False),
    ("many plant grow here", "plant", "plants", "morphology", True),
    ("it is non -involved in", "non -involved", "non-involved", "spacing", True),
    ("the deal in Moscow", "in", "at", "preposition", True),
    ("the floor coverings are called", "floor coverings", "floppy disks", "meaning", False),
])
def test_classify_change(text, original, fix, kind, visible):
    start = text.index(original)
    assert classify_change(text, start, start + len(original), fix) == (kind, visible)


def test_missing_content_word_is_not_visible():
    assert classify_change("They are called disks.", 16, 16, "floppy ") == ("missing", False)
    assert classify_change("They are called disks.", 4, 4, "the ")[1] is True
