"""Pivot siblings ranked in context, not by frequency."""
from mtfix.correct.base import generated
from mtfix.correct.siblings import ranked_siblings
from mtfix.detect.candidates import CandidateGenerator
from mtfix.text.spans import Span
from mtfix.text.tokens import tokenize


class Siblings(CandidateGenerator):
    """Five siblings of 'started', most frequent first, as the dictionary links them."""

    def siblings(self, word, limit=None):
        found = ["used", "left", "posted", "begun", "launched"] if word == "started" else []
        return found[:self.max_per_kind if limit is None else limit]


class Likes:
    """A language model that likes a window holding 'launched', then 'begun'; records what it read."""

    def __init__(self):
        self.groups = []

    def logprob_groups(self, groups):
        self.groups += groups
        return [[-1.0 if "launched" in t else -2.0 if "begun" in t else -9.0 for t in g] for g in groups]


def test_the_siblings_that_read_best_in_their_sentence_are_proposed():
    text = "After Russia started its invasion, prices rose."
    tokens = {0: tokenize(text)}
    span = Span(13, 20, "artifact", 0.9)  # "started"
    lm = Likes()
    found = ranked_siblings(lm, Siblings(), [text], [(0, span), (0, Span(0, 5, "artifact", 0.9))], tokens)
    assert found == {0: ["launched", "begun", "used"]}  # "After" has no sibling: not asked
    assert len(lm.groups) == 1 and "After Russia launched its invasion, prices rose." in lm.groups[0]
    options = generated(Siblings(), text, tokens[0], span, found[0])
    assert [o for o, kind in options if kind == "pivot"] == ["launched", "begun", "used"]
    assert [o for o, kind in generated(Siblings(), text, tokens[0], span) if kind == "pivot"] == \
        ["used", "left", "posted"]  # by frequency, as the detector reads them
