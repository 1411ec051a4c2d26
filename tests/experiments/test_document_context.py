"""scripts/experiments/document_context.py: the measures its table rests on (the script itself reads SmolLM2 and the
shared corpora, outside the tests)."""
import zipfile
from types import SimpleNamespace

import pytest

from mtfix.text.tokens import tokenize

from ..conftest import load_script


@pytest.fixture(scope="module")
def probe():
    return load_script("document_context")


def test_auc_counts_ties_as_half(probe):
    assert probe.auc([3.0, 4.0], [1.0, 2.0]) == 1.0
    assert probe.auc([1.0], [2.0]) == 0.0
    assert probe.auc([2.0], [2.0, 1.0]) == 0.75


class LengthScorer:
    """A stand-in scorer: each word's surprisal is its length, whatever came before."""

    def score(self, texts):
        return [SimpleNamespace(tokens=tokenize(t), surprisal=[float(len(tok.text)) for tok in tokenize(t)])
                for t in texts]


def test_surprisals_keep_only_the_sentence_after_its_context(probe):
    out = probe.surprisals(LengthScorer(), ["It rained here.", "Cows ate."], ["The day was long.", ""])
    assert out == [[2.0, 6.0, 4.0, 1.0], [4.0, 3.0, 1.0]]


def test_name_variants_count_a_name_also_written_in_lower_case(probe, tmp_path):
    corpora = tmp_path / "corpora"
    corpora.mkdir()
    with zipfile.ZipFile(corpora / "state_union.zip", "w") as zf:
        zf.writestr("1950.txt", "We thank the White House staff. They said the white house was cold, "
                                "and the Red Cross came.")
        zf.writestr("1951.txt", "Then the white house spoke.")  # another address: not counted
    phrases, variants, examples = probe.name_variants(tmp_path)
    assert (phrases, variants, examples) == (2, 1, ["White House"])


class LengthDetector:
    """A stand-in detector: each word's probability is its length over 10."""

    def word_probabilities(self, texts):
        return [[len(tok.text) / 10 for tok in tokenize(t)] for t in texts]


def test_head_probabilities_read_the_context_on_a_line_of_its_own(probe):
    out = probe.head_probabilities(LengthDetector(), ["Cows ate hay.", "It rained."], ["Farmers woke early.", ""])
    assert out == [[0.4, 0.3, 0.3, 0.1], [0.2, 0.6, 0.1]]


def test_peak_reads_an_artifact_or_the_word_after_a_deletion(probe):
    text = "The cows ate hay."
    values = [1.0, 4.0, 2.0, 3.0, 0.5]
    assert probe.peak(text, 4, 12, values) == 4.0   # "cows ate"
    assert probe.peak(text, 13, 13, values) == 3.0  # a gap before "hay"
    assert probe.peak(text, 17, 17, values) == 0.0  # a gap after the last token: nothing to read
