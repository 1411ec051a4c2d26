"""The head for the words of a document that reads as translated: how the detector uses it, and its trainer."""
import json

import pytest
import torch

from mtfix.detect.document import DocumentHead, Follow, Tally, load_follow, save_heads

from ..conftest import CLEAN


def sure(translated: bool) -> DocumentHead:
    """A document head whose every document reads as translated (or none does)."""
    return DocumentHead(("log_words",), (0.0,), (1.0,), (0.0,), 30.0 if translated else -30.0)


def every_word_bad(folder):
    """A translated head in ``folder`` that calls every word an artifact (P near 1), flagging from 0.999."""
    from mtfix.detect.fuse import FEATURES, FusionConfig, FusionHead
    from mtfix.points import write_points
    from mtfix.training.translated import save_translated

    write_points(folder, follow_translated=0.999)
    return save_translated(FusionHead(len(FEATURES), 8), FusionConfig(hidden=8, bias=30.0), folder, {})


@pytest.mark.parametrize("translated", [True, False])
def test_a_translated_documents_words_are_scored_by_the_translated_head(fused_at, scorer, monkeypatch,
                                                                        translated):
    from mtfix.detect import get_detector

    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)
    folder = fused_at(0.99)  # the fused head (P near 0.5) flags nothing at 0.99, nor at the drop, 0.98
    save_heads({"fused": sure(translated)}, folder, Follow(cut=0.9, low=0.98))
    texts = CLEAN[:2]
    before = get_detector("fused", model_path=str(folder)).detect(texts, prior=Tally())
    assert before == [[], []]
    every_word_bad(folder)
    found = get_detector("fused", model_path=str(folder)).detect(texts, prior=Tally())
    if translated:  # every word, at the translated head's P
        assert all(found) and all(s.score > 0.99 for spans in found for s in spans)
    else:
        assert found == [[], []]
    # an operating point given, the threshold not following, text read alone: the fused head's words
    assert get_detector("fused", threshold=0.98, model_path=str(folder)).detect(texts, prior=Tally()) == [[], []]
    assert get_detector("fused", model_path=str(folder), follow=False).detect(texts, prior=Tally()) == [[], []]
    assert get_detector("fused", model_path=str(folder), alone=True).detect(texts, prior=Tally()) == [[], []]


def test_the_translated_head_changes_the_words_not_the_documents_mt_probability(fused_at, scorer, monkeypatch):
    """The document head was fitted on the fused head's word probabilities: the tallies stay those."""
    from mtfix.detect import get_detector

    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)
    folder = fused_at(0.99)
    save_heads({"fused": sure(True)}, folder, Follow(cut=0.9, low=0.98))
    texts = CLEAN[:3]
    without, with_head = [], []
    get_detector("fused", model_path=str(folder)).detect(texts, tallies=without)
    every_word_bad(folder)
    get_detector("fused", model_path=str(folder)).detect(texts, tallies=with_head)
    assert with_head == without and without[0].p < without[0].words  # not every word at P near 1


def words(n_docs, seed=0):
    """Documents' words whose first feature (the tagger's P) marks the artifacts, with their families."""
    from mtfix.detect.fuse import FEATURES
    from mtfix.training.translated import Words

    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_docs):
        gold = torch.rand(40, generator=gen) < 0.2
        x = torch.randn(40, len(FEATURES), generator=gen) * 0.1
        x[:, 0] = gold.float() * 0.8 + 0.1 + torch.randn(40, generator=gen) * 0.1
        out.append(Words(x, torch.arange(40) // 10, torch.ones(40, dtype=torch.bool), gold))
    return out


def test_fine_tuning_learns_the_marks_and_the_threshold_is_the_best_f1():
    from mtfix.detect.fuse import FEATURES, FusionConfig, FusionHead
    from mtfix.training.translated import best_threshold, figures, fine_tune, join, probabilities

    torch.manual_seed(0)
    config = FusionConfig(hidden=8, stack=4, members=2)
    second = FusionHead(len(FEATURES) + 6, 4, 2)
    head = FusionHead(len(FEATURES), 8, 2, second).eval()
    batch = join(words(6))
    assert int(batch.groups.max()) == 6 * 4 - 1  # each document's lines numbered apart
    families = ["synthetic"] * 120 + ["apertium"] * 120
    before = figures(probabilities(head, config, batch), batch.gold, families, 0.5)["mean f1"]
    tuned = fine_tune(head, config, batch, lr=1e-2, epochs=60, seed=1)
    probs = probabilities(tuned, config, batch)
    t = best_threshold(probs, batch.gold, families)
    after = figures(probs, batch.gold, families, t)
    assert after["mean f1"] > max(before, 0.8)
    assert all(figures(probs, batch.gold, families, other)["mean f1"] <= after["mean f1"] for other in (0.1, 0.5, 0.8))
    assert set(after) == {"synthetic", "apertium", "mean f1"}
    assert not torch.equal(next(head.parameters()), next(tuned.parameters()))  # a copy: the fused head as it was
    clean = figures(torch.tensor([0.9, 0.1, 0.1, 0.1]), torch.zeros(4, dtype=torch.bool), ["clean"] * 4, 0.5)
    assert clean["clean"] == {"words": 4, "flags per 1k": 250.0}


def test_read_words_caches_per_number_of_siblings(tmp_path):
    from mtfix.detect.lm import WordScores
    from mtfix.text.tokens import tokenize
    from mtfix.training.document import Doc
    from mtfix.training.translated import read_words

    class Reader:
        def __init__(self):
            self.asked = []

        def contexts(self, lines, before):
            return [before] * len(lines)

        def evidence(self, lines, contexts, siblings):
            self.asked.append(siblings)
            out = []
            for line in lines:
                n = len(tokenize(line))
                out.append((WordScores(tokenize(line), [0.0] * n, [0.0] * n, [0.0] * n, [1] * n, lines=[0] * n),
                            [0.5] * n))
            return out

    doc = Doc("a", "synthetic", "synthetic", "fit", ["The two guides met .", "They left ."], spans=[[(8, 14)], []])
    reader, cache = Reader(), tmp_path / "words.pt"
    found = read_words(reader, [doc], 40, cache, log=lambda msg: None)
    assert found["a"].gold.tolist() == [False, False, True, False, False, False, False, False]
    assert found["a"].word.tolist() == [True, True, True, True, False, True, True, False]
    assert found["a"].groups.tolist() == [0] * 5 + [1] * 3
    read_words(reader, [doc], 40, cache, log=lambda msg: None)
    assert reader.asked == [40]  # cached
    read_words(reader, [doc], None, cache, log=lambda msg: None)
    assert reader.asked == [40, None]  # read again with the generator's own number


def test_train_translated_writes_the_head_and_the_drop(fused_at, scorer, monkeypatch, tmp_path, capsys):
    from mtfix.detect import get_detector
    from mtfix.training import translated
    from mtfix.training.document import Doc

    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)
    folder = fused_at(0.5)
    save_heads({"fused": sure(True)}, folder, Follow(cut=0.9, low=0.4, siblings=5))
    docs = [Doc(f"{family}:{role}:{k}", family, family, role, CLEAN[k:k + 3],
                spans=[[(4, 11)], [], []] if family != "clean" else None)
            for role in ("fit", "test") for family in ("synthetic", "apertium", "clean") for k in range(2)]
    monkeypatch.setattr("mtfix.training.document.build_docs", lambda *args: docs)
    report = tmp_path / "report.json"
    code = translated.main(["--model", str(folder), "--cache", str(tmp_path / "read.jsonl"), "--epochs", "3",
                            "--report", str(report), "--write", "--score-dir", str(tmp_path / "score")])
    assert code == 0
    record = json.loads(report.read_text())
    for family in ("synthetic", "apertium"):  # gold and both ways' predictions, line for line
        gold = (tmp_path / "score" / f"{family}.gold.jsonl").read_text().splitlines()
        for name in ("follow", "translated"):
            pred = (tmp_path / "score" / f"{family}-{name}.pred.jsonl").read_text().splitlines()
            assert [json.loads(x)["text"] for x in pred] == [json.loads(x)["text"] for x in gold] and len(gold) == 6
    flagged = record["held out, as the detector flags"]
    assert set(flagged) == {"fused head", "with this head", "abc-science: fused head", "abc-science: with this head"}
    assert record["documents"] == {"fit": {"synthetic": 2, "apertium": 2, "clean": 2},
                                   "test": {"synthetic": 2, "apertium": 2, "clean": 2}}
    assert record["siblings"] == 5
    assert load_follow(folder) == Follow(0.9, 0.4, None, 5)  # the fused head's drop as it was
    assert json.loads((folder / "points.json").read_text())["follow_translated"] == record["threshold"]
    assert (folder / "translated" / "model.safetensors").exists()
    assert get_detector("fused", model_path=str(folder)).inner.translated is not None
    assert "wrote" in capsys.readouterr().err


def test_train_translated_refuses_bad_options_and_a_folder_without_a_follow_point(fused_at, capsys):
    from mtfix.training import translated

    with pytest.raises(SystemExit) as exit_:
        translated.main(["--epochs", "0"])
    assert exit_.value.code == 2 and "must be above 0" in capsys.readouterr().err
    folder = fused_at(0.5)
    capsys.readouterr()  # what laying out the folder wrote
    assert translated.main(["--model", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "no document head and follow point" in err and len(err.strip().splitlines()) == 1
