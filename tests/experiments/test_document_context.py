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
