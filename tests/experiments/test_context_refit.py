"""scripts/experiments/context_refit.py and context_head.py: the evidence of the same rows read alone, spliced from
the evidence read in context; the comparison table's measures (the collection needs the shipped models and the data
set, outside the tests)."""
import pytest
import torch

from mtfix.detect.fuse import FEATURES
from mtfix.detect.lm import WordScores
from mtfix.text.tokens import tokenize

from ..conftest import load_script


class MarkingDetector:
    """Evidence whose every feature is 1 for a row read after a context and 0 for one read alone."""

    def __init__(self):
        self.read = []

    def evidence(self, texts, contexts=None):
        contexts = contexts or [""] * len(texts)
        self.read += list(texts)
        out = []
        for text, context in zip(texts, contexts):
            tokens = tokenize(text)
            n = len(tokens)
            scores = WordScores(tokens, [1.0] * n, [1.0] * n, [0.0] * n, [1] * n, [[] for _ in range(n)],
                                context=len(context))
            out.append((scores, [0.5] * n))
        return out


def test_the_rows_whose_context_changes_are_read_again_and_spliced_in_place():
    from mtfix.detect.train import collect_evidence

    refit = load_script("context_refit")
    rows = [{"text": t, "spans": [], "source": "clean:abc-rural"}
            for t in ["One two three.", "", "Four five.", "Six seven eight nine."]]
    contexts = ["Before.", "", "", "Before that."]
    detector = MarkingDetector()
    column = FEATURES.index("context")
    read = collect_evidence(detector, rows, lambda m: None, contexts=contexts)
    assert read["x"][:, column].tolist() == [1.0] * 4 + [0.0] * 3 + [1.0] * 5
    detector.read.clear()
    alone = refit.read_again(read, rows, contexts, [""] * 4, detector, lambda m: None)
    assert detector.read == ["One two three.", "Six seven eight nine."]  # only the rows that had a context
    assert alone["x"][:, column].tolist() == [0.0] * 12
    assert torch.equal(alone["segment"], read["segment"]) and torch.equal(alone["y"], read["y"])
    assert refit.read_again(read, rows, [""] * 4, [""] * 4, detector, lambda m: None) is read  # nothing changed
    detector.read.clear()
    damaged = refit.read_again(alone, rows, [""] * 4, ["", "", "Before it.", ""], detector, lambda m: None)
    assert detector.read == ["Four five."]  # the one row whose context changed
    assert damaged["x"][:, column].tolist() == [0.0] * 4 + [1.0] * 3 + [0.0] * 5


def test_the_comparison_reads_each_head_at_its_own_threshold_and_at_the_same_clean_budget():
    head = load_script("context_head")
    rows = [{"source": "clean:abc-rural", "context": True}] * 4 + [
        {"source": "synthetic:pivot", "context": True}, {"source": "swap:pivot", "context": False},
        {"source": "mlqe-pe:et-en", "context": False}]
    y = [[0] * 250] * 4 + [[1, 0], [0, 1], [1, 0]]
    clean = [[0.1] * 249 + [0.9]] * 4  # one clean word in 250 at 0.9: 4 flags per 1,000 at 0.5
    collected = {"rows": rows, "y": y, "heads": {
        "a": {"p": clean + [[0.8, 0.1], [0.1, 0.3], [0.7, 0.2]], "threshold": 0.5, "context": 0}}}
    own = head.measure(collected, "a", 0.5, 2.25)
    assert own["news per 1k"] == pytest.approx(4.0)
    assert own["synthetic"] == 1.0 and own["pivot"] == 0.0 and own["MLQE-PE MCC"] == pytest.approx(1.0)
    assert own["apertium"] != own["apertium"]  # no apertium row: nan, not 0
    matched = head.measure(collected, "a", None, 2.25)  # a threshold above the clean words' 0.9
    assert matched["threshold"] > 0.9 and matched["news per 1k"] == 0.0 and matched["synthetic"] == 0.0
    alone = head.measure(collected, "a", 0.25, 2.25, rows=[5, 6])  # the rows read alone
    assert alone["pivot"] == 1.0 and alone["synthetic"] != alone["synthetic"]


def test_eval_fused_reads_the_demo_as_one_document_and_gold_rows_with_their_own_documents(monkeypatch):
    from mtfix.data.build import Doc
    from mtfix.text.formats import Document

    fused = load_script("eval_fused")
    monkeypatch.setattr("mtfix.data.build.documents", lambda data_dir: [
        Doc(["The rain came.", "Farmers were glad.", "The river rose."], "clean:abc-rural", "test")])
    lines = [Document("First line here."), Document("Second line.")]
    assert fused.contexts_for("seed", lines, 2) == ["", "First line here."]
    gold = [Document("The river rise.", reference="The river rose."), Document("Unknown one.")]
    assert fused.contexts_for("synthetic", gold, 2) == ["The rain came. Farmers were glad.", ""]
    assert fused.contexts_for("synthetic", gold, 0) is None  # a head that reads segments alone
