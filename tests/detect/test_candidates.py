from mtfix.detect.candidates import CandidateGenerator
from mtfix.detect.pivot import MissingDictionary
from mtfix.text.tokens import tokenize


def replacements(generator, text, word):
    tokens = tokenize(text)
    i = [t.text for t in tokens].index(word)
    return {c.replacement: c.kind for c in generator.for_word(text, tokens, i)}


def test_without_the_dictionary_pivots_are_off_with_a_message(monkeypatch, capsys):
    def missing():
        raise MissingDictionary("the English-German dictionary /x is missing: install it with 'apt-get install "
                                "trans-de-en'")

    monkeypatch.setattr("mtfix.detect.pivot.default_dictionary", missing)
    generator = CandidateGenerator()
    found = replacements(generator, "In one Explosion the two guides spoke", "Explosion")
    assert found == {"explosion": "case"}
    assert generator.siblings("guides") == []
    err = capsys.readouterr().err
    assert "apt-get install trans-de-en" in err and "pivot candidates" in err and err.count("\n") == 1
    generator.siblings("leaders")
    assert capsys.readouterr().err == ""  # said once


def test_spacing_pronoun_and_article_candidates():
    generator = CandidateGenerator()
    assert replacements(generator, "energy projectsWhich could", "projectsWhich")["projects which"] == "spacing"
    pronoun = replacements(generator, "Russia launched his invasion", "his")
    assert pronoun == {"its": "pronoun", "their": "pronoun"}
    article = replacements(generator, "between one US and Russian president", "one")
    assert {"a": "article", "an": "article", "": "article"}.items() <= article.items()


TIED = """
import sys
from mtfix.detect.candidates import CandidateGenerator

class TiedPivot:  # seven siblings, six of them equally frequent (wordfreq's zipf values are rounded)
    def sibling_words(self, word):
        return {"delta", "bravo", "echo", "alpha", "charlie", "foxtrot", "golf"}

CandidateGenerator.pivot = TiedPivot()
CandidateGenerator.zipf = staticmethod(lambda w: 5.0 if w == "echo" else 4.0)
print(CandidateGenerator(max_per_kind=3).siblings(sys.argv[1]))
"""


def test_equally_frequent_siblings_are_cut_the_same_way_in_every_process():
    """The siblings come as a set, whose order follows string hashing and so changes from process to process;
    which of equally frequent siblings make the cut to max_per_kind must not."""
    import os
    import subprocess
    import sys

    found = {subprocess.run([sys.executable, "-c", TIED, "guides"], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout.strip() for seed in range(4)}
    assert found == {"['echo', 'alpha', 'bravo']"}
    capitalised = subprocess.run([sys.executable, "-c", TIED, "Guides"], capture_output=True, text=True, check=True)
    assert capitalised.stdout.strip() == "['Echo', 'Alpha', 'Bravo']"


class CountingPivot:
    def __init__(self):
        self.asked = []

    def sibling_words(self, word):
        self.asked.append(word)
        return {"leader", "chief", "commander"} if word == "guides" else set()


def test_siblings_are_looked_up_once_per_word_and_handed_out_as_fresh_lists(monkeypatch):
    pivot = CountingPivot()
    generator = CandidateGenerator()
    monkeypatch.setattr(CandidateGenerator, "pivot", pivot)
    first = generator.siblings("guides")
    first.append("mangled")
    assert generator.siblings("guides") == [w for w in first if w != "mangled"]
    assert generator.siblings("Guides")[0][0].isupper()  # the case of the word asked for, remembered apart
    assert pivot.asked == ["guides", "guides"]



def test_the_caller_says_how_many_pivot_siblings():
    generator = CandidateGenerator()
    generator.__dict__["pivot"] = object()  # a dictionary is there; the word's siblings are known already
    generator._siblings["started"] = ("used", "left", "posted", "launched")

    def pivots(siblings=None):
        tokens = tokenize("Russia started air strikes")
        return [c.replacement for c in generator.for_word("Russia started air strikes", tokens, 1, siblings)
                if c.kind == "pivot"]

    assert pivots() == ["used", "left", "posted"]  # the generator's own number: the most frequent three
    assert pivots(40) == ["used", "left", "posted", "launched"] and pivots(1) == ["used"]
