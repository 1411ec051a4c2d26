import json
import math
import random
from dataclasses import replace

import datasets
import pytest
import torch

from mtfix.detect.candidates import Candidate, CandidateGenerator
from mtfix.detect.fuse import (
    FEATURES,
    NO_CONTRAST,
    FusedDetector,
    FusionConfig,
    FusionHead,
    gated_candidates,
    load_fusion,
    save_fusion,
    word_features,
)
from mtfix.detect.tagger import TaggerDetector
from mtfix.text.tokens import tokenize
from mtfix.training.calibration import average_precision, clean_threshold
from mtfix.training.evidence import FusionTrainConfig
from mtfix.training.fusion import fit_head, train_fusion

from .test_tagger import tiny_model


def swap_guides(text, tokens, surprisal):
    """A candidate function: 'guides' might have been 'leaders'."""
    return [[Candidate(t.start, t.end, "leaders", "pivot")] if t.text == "guides" else [] for t in tokens]


def test_contrast_is_the_log_probability_gain_of_the_candidate_token(scorer, tokenizer):
    text = "the two guides met"
    (ws,) = scorer.score([text], swap_guides)
    i = [t.text for t in ws.tokens].index("guides")
    ((cand, value),) = ws.contrast[i]
    assert cand.replacement == "leaders"
    ids = [scorer.bos, *tokenizer(text, add_special_tokens=False)["input_ids"]]
    k = ids.index(tokenizer.convert_tokens_to_ids("guides"))
    with torch.inference_mode():
        logp = scorer.model(input_ids=torch.tensor([ids])).logits[0, k - 1].log_softmax(-1)
    expected = logp[tokenizer.convert_tokens_to_ids("leaders")] - logp[ids[k]]
    assert value == pytest.approx(float(expected), abs=1e-4)
    assert all(not c for j, c in enumerate(ws.contrast) if j != i)
    assert len(ws.log_rank) == len(ws.pieces) == len(ws.tokens) and all(p >= 1 for p in ws.pieces)


def test_features_carry_contrast_by_kind_and_the_tagger(scorer):
    text = "the two guides met"
    (ws,) = scorer.score([text], swap_guides)
    tagger = [0.1, 0.2, 0.9, 0.3]
    x = word_features(ws, tagger)
    assert x.shape == (4, len(FEATURES))
    col = {name: j for j, name in enumerate(FEATURES)}
    assert x[2, col["tagger"]] == pytest.approx(0.9)
    assert x[2, col["tagger_neighbours"]] == pytest.approx(0.3)
    assert x[2, col["contrast_pivot"]] == pytest.approx(ws.contrast[2][0][1], abs=1e-5)
    assert x[2, col["has_pivot"]] == 1 and x[2, col["has_spelling"]] == 0
    assert x[0, col["best_contrast"]] == NO_CONTRAST and x[0, col["stopword"]] == 1


def test_candidates_only_for_surprising_words():
    generator = CandidateGenerator()
    text = "In one Explosion the projectsWhich failed"
    tokens = tokenize(text)
    fn = gated_candidates(generator, gate=5.0)
    surprisal = [1.0, 1.0, 9.0, 1.0, 9.0, 1.0]
    found = fn(text, tokens, surprisal)
    assert [bool(c) for c in found] == [False, False, True, False, True, False]
    assert "explosion" in [c.replacement for c in found[2]]
    assert "projects which" in [c.replacement for c in found[4]]


def test_fused_detector_spans_say_which_evidence_fired(scorer, tokenizer, tmp_path):
    tagger = TaggerDetector(tiny_model(), tokenizer)
    head = FusionHead(len(FEATURES), 8)
    save_fusion(head, FusionConfig(hidden=8, threshold=0.0), tmp_path / "fused")
    head, config = load_fusion(tmp_path / "fused")
    detector = FusedDetector(tagger, head, config, scorer=scorer, generator=CandidateGenerator())
    texts = ["The two guides discussed it.", ""]
    everything, nothing = detector.detect(texts)
    assert nothing == [] and len(everything) == 1  # threshold 0: one span over all words
    assert (everything[0].start, everything[0].end) == (0, len(texts[0]))
    assert {"tagger", "surprisal"} <= set(everything[0].evidence)
    detector.threshold = 1.01
    assert detector.detect(texts) == [[], []]
    probs = detector.word_probabilities(texts)
    assert len(probs[0]) == len(tokenize(texts[0])) and all(0 < p < 1 for p in probs[0])


def test_a_stacked_detector_reads_each_line_of_a_text_on_its_own(scorer, tokenizer, tmp_path):
    from mtfix.detect.fuse import CONTEXT, line_context

    torch.manual_seed(3)
    head = FusionHead(len(FEATURES), 8, second=FusionHead(len(FEATURES) + len(CONTEXT), 4))
    for net in (*head.nets, *head.second.nets):
        torch.nn.init.normal_(net[-1].weight, std=2.0)  # outputs that vary from word to word
    save_fusion(head, FusionConfig(hidden=8, stack=4, threshold=0.5), tmp_path / "fused")
    head, config = load_fusion(tmp_path / "fused")
    detector = FusedDetector(TaggerDetector(tiny_model(), tokenizer), head, config, scorer=scorer,
                             generator=CandidateGenerator())
    text = "The two guides met.\nThe drones came in one Explosion."
    ((scores, tagger),) = detector.evidence([text])
    assert scores.lines == [0] * 5 + [1] * 7
    x = word_features(scores, tagger)
    with torch.inference_mode():
        by_line = config.probability(head(x, torch.tensor(scores.lines)))
        as_one = config.probability(head(x, torch.zeros(len(x), dtype=torch.long)))
        first = head.first(x)
    assert detector.probabilities([(scores, tagger)])[0] == pytest.approx(by_line.tolist(), abs=1e-6)
    assert not torch.allclose(by_line, as_one)  # the second line's words do not count as the first's context
    assert line_context(first, torch.tensor(scores.lines))[4, 2] == -6.0  # "." ends its line: no next word


class FixedTagger:
    """A stand-in tagger whose P(BAD) for every word of a text is the number the text starts with."""

    def word_probabilities(self, texts):
        return [[float(t.split()[0])] * len(tokenize(t)) if t else [] for t in texts]


class CountingScorer:
    def __init__(self, scorer):
        self.scorer, self.asked = scorer, []

    def score(self, texts, candidates=None, full=None, contexts=None):
        self.asked += texts
        self.contexts = contexts
        return self.scorer.score(texts, candidates, full, contexts)


def test_the_lm_gate_leaves_quiet_segments_to_the_tagger(scorer, tmp_path):
    save_fusion(FusionHead(len(FEATURES), 8), FusionConfig(hidden=8, threshold=0.3, lm_gate=0.1), tmp_path / "f")
    head, config = load_fusion(tmp_path / "f")
    assert config.lm_gate == 0.1
    counting = CountingScorer(scorer)
    detector = FusedDetector(FixedTagger(), head, config, scorer=counting, generator=CandidateGenerator())
    texts = ["0.05 two guides met", "0.2 two guides met", ""]
    evidence = detector.evidence(texts)
    assert counting.asked == ["0.2 two guides met"]  # the quiet segment never reaches the language model
    quiet, busy, empty = detector.probabilities(evidence)
    assert quiet == [0.05] * 4 and empty == []  # the tagger's own P(BAD) stands there
    assert len(busy) == 4 and busy != [0.2] * 4
    # cached full evidence gives what the gated run gives: the gate is applied to the probabilities as well
    full = FusedDetector(FixedTagger(), head, config, scorer=scorer, generator=CandidateGenerator(), lm_gate=0.0)
    again = detector.probabilities(full.evidence(texts))
    assert again[0] == quiet and again[1] == pytest.approx(busy, abs=1e-5) and again[2] == empty
    assert full.probabilities(full.evidence(texts))[0] != quiet
    # a threshold under the gate lowers the gate with it: nothing the tagger alone would flag goes unscored
    detector.threshold = 0.04
    counting.asked.clear()
    detector.evidence(texts)
    assert counting.asked == texts[:2]
    detector.threshold = 0.3
    assert detector.detect(texts)[0] == []


def test_saved_head_is_fp16_and_gives_the_same_probabilities(tmp_path):
    torch.manual_seed(0)
    head = FusionHead(len(FEATURES), 16).eval()
    head.mean.normal_()
    head.std.uniform_(0.5, 2.0)
    save_fusion(head, FusionConfig(hidden=16, temperature=1.3, threshold=0.7), tmp_path)
    loaded, config = load_fusion(tmp_path)
    assert config.temperature == 1.3 and config.threshold == 0.7 and config.features == FEATURES
    x = torch.randn(10, len(FEATURES))
    with torch.inference_mode():
        assert torch.allclose(torch.sigmoid(head(x)), torch.sigmoid(loaded(x)), atol=2e-3)
    from safetensors.torch import load_file

    assert all(t.dtype == torch.float16 for t in load_file(str(tmp_path / "model.safetensors")).values())


def test_an_ensemble_head_averages_its_members_logits_and_survives_saving(tmp_path):
    x = torch.randn(200, len(FEATURES))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).float()
    w = torch.ones(200)
    members = [fit_head(x, y, w, 8, 2, seed) for seed in (5, 6, 7)]
    ensemble = fit_head(x, y, w, 8, 2, 5, members=3)
    assert len(ensemble.nets) == 3
    probe = torch.randn(20, len(FEATURES))
    with torch.inference_mode():
        mean = torch.stack([m(probe) for m in members]).mean(0)
        assert torch.allclose(ensemble(probe), mean, atol=1e-6)  # seeds 5, 6, 7, logits averaged
        assert not torch.allclose(members[0](probe), members[1](probe))  # the members differ
    save_fusion(ensemble, FusionConfig(hidden=8, members=3), tmp_path)
    loaded, config = load_fusion(tmp_path)
    assert config.members == 3 and json.loads((tmp_path / "config.json").read_text())["members"] == 3
    with torch.inference_mode():
        assert torch.allclose(loaded(probe), ensemble(probe), atol=2e-2)


def test_a_head_saved_before_ensembles_loads_as_one_member(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    head = FusionHead(len(FEATURES), 8).eval()
    old_names = {("net." + k[len("nets.0."):] if k.startswith("nets.0.") else k): v.half()
                 for k, v in head.state_dict().items()}  # net.0.weight, ... as the stop-15 head has them
    save_file(old_names, str(tmp_path / "model.safetensors"))
    config = FusionConfig(hidden=8).to_json()
    del config["members"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    loaded, fusion = load_fusion(tmp_path)
    assert fusion.members == 1
    x = torch.randn(5, len(FEATURES))
    with torch.inference_mode():
        assert torch.allclose(loaded(x), head(x), atol=2e-2)


def test_average_precision_and_clean_threshold_by_hand():
    assert average_precision(torch.tensor([0.9, 0.8, 0.1]), torch.tensor([1.0, 0.0, 1.0])) == pytest.approx(
        (1 / 1 + 2 / 3) / 2)
    probs = torch.tensor([0.9] + [0.1] * 999)
    assert clean_threshold(probs, 1.0) == pytest.approx(0.1 + 1e-6)  # one flag in 1,000 allowed: 0.9 stays
    assert clean_threshold(probs, 0.0) == pytest.approx(0.9 + 1e-6)


def _fusion_data(tmp_path, tokenizer, train_news=0):
    """A tiny data set (dev and train splits; ``train_news`` more clean-news rows in train) and a tiny tagger
    folder with its training draw recorded."""
    sentence = "The council said farmers would get water from the river in spring."
    rows = []
    for i in range(24):
        if i % 2:
            clean = sentence.replace("spring", f"spring {i}")
            rows.append({"text": clean, "spans": [], "reference": clean, "source": "clean:abc-rural"})
        else:
            rows.append({"text": sentence.replace("farmers", "Farmers"), "reference": sentence,
                         "source": "synthetic:casing",
                         "spans": [{"start": 17, "end": 24, "label": "casing", "fix": "farmers", "visible": True}]})
    data = tmp_path / "dataset"
    train_rows = [dict(r, text=r["text"].replace("river", "lake")) for r in rows[:8]]
    train_rows += [{"text": f"Rain fell on {k} farms today.", "spans": [], "reference": "", "source": "clean:abc-rural"}
                   for k in range(train_news)]
    datasets.DatasetDict({"dev": datasets.Dataset.from_list(rows),
                          "train": datasets.Dataset.from_list(train_rows)}).save_to_disk(str(data))
    tagger_dir = tmp_path / "tagger"
    tiny_model().save_pretrained(tagger_dir)
    tokenizer.save_pretrained(tagger_dir)
    (tagger_dir / "training.json").write_text(json.dumps({"config": {"mix": {"clean": 2}, "seed": 1}}))
    return data, tagger_dir, sentence


def _quick_config(tmp_path, data, tagger_dir, out, **changes):
    """A few epochs on the tiny data set, the dev evidence cached in tmp_path/a.pt."""
    return FusionTrainConfig(**{"data": str(data), "tagger": str(tagger_dir), "out": str(out),
                                "mix": {"synthetic": 8, "clean": 6}, "clean_news": 6, "hidden": (8,), "epochs": 5,
                                "held_out": 0.5, "cache": str(tmp_path / "a.pt"),
                                "train_mix": {"synthetic": 3, "clean": 9}, **changes})


def test_the_nonword_floor_keeps_the_taggers_flag_on_lower_case_words_the_lexicon_lacks(scorer, tmp_path):
    head = FusionHead(len(FEATURES), 8)
    torch.nn.init.constant_(head.nets[0][-1].bias, -12.0)  # a head that calls every word OK
    torch.nn.init.zeros_(head.nets[0][-1].weight)
    save_fusion(head, FusionConfig(hidden=8, threshold=0.5, nonword_floor=0.55), tmp_path / "f")
    head, config = load_fusion(tmp_path / "f")
    assert config.nonword_floor == 0.55
    detector = FusedDetector(FixedTagger(), head, config, scorer=scorer, generator=CandidateGenerator())
    # the tagger says 0.6 of every word; the lexicon knows "the", "leaders", "it", not "confidanteled" (lower
    # case: a non-word) nor "Xyzzyq" (capitalised: a name, perhaps)
    texts = ["0.6 the leaders confidanteled Xyzzyq it", "0.5 the leaders confidanteled Xyzzyq it"]
    flagged, quiet = detector.probabilities(detector.evidence(texts))
    assert flagged[3] == pytest.approx(0.6) and max(flagged[:3] + flagged[4:]) < 0.01
    assert max(quiet) < 0.01  # the tagger under its own threshold: no floor
    assert [(texts[0][s.start:s.end]) for s in detector.detect(texts)[0]] == ["confidanteled"]
    detector.config = replace(config, nonword_floor=None)  # heads saved before the floor: none
    assert max(detector.probabilities(detector.evidence(texts[:1]))[0]) < 0.01


def test_train_fusion_end_to_end(scorer, tokenizer, tmp_path, monkeypatch):
    data, tagger_dir, sentence = _fusion_data(tmp_path, tokenizer)
    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)  # the tiny LM, not SmolLM2
    out = tmp_path / "tagger" / "fused"
    config = FusionTrainConfig(data=str(data), tagger=str(tagger_dir), out=str(out),
                               mix={"synthetic": 8, "clean": 6}, clean_news=6, hidden=(8, 0), epochs=40, held_out=0.5,
                               cache=str(tmp_path / "evidence.pt"), train_mix={"synthetic": 3, "clean": 9},
                               members=2, stack_weight=None)  # (the second stage weighed as the first: 6 toy news
    # rows weighed x3 there leave it no room above the clean words; the default weighting is tested below)
    logged = []
    record = train_fusion(config, logged.append)
    assert "train-split evidence: 5 segments the tagger never trained on" in logged  # 3 synthetic, 4 - 2 clean
    dev, train = torch.load(tmp_path / "evidence.pt"), torch.load(tmp_path / "evidence.train.pt")
    assert sorted(train["family"]) == ["clean", "clean", "synthetic", "synthetic", "synthetic"]
    assert record["fit_words"] + record["held_words"] == len(dev["train"]["y"]) + len(train["train"]["y"])
    assert record["held_words"] < len(dev["train"]["y"])  # held-out words come from dev only
    assert set(record["heads"]) == {"8", "0"} and record["chosen_hidden"] in (8, 0)
    best = max(record["heads"].items(), key=lambda kv: (round(kv[1]["mlqe_mcc"], 3), kv[1]["synthetic_recall"]))
    assert record["chosen_hidden"] == int(best[0])  # kept: the best at the clean-news budget
    assert record["news_words"] == 6 * (len(tokenize(sentence)) + 1) and record["temperature"] > 0
    assert record["heads"][str(record["chosen_hidden"])]["average_precision"] > 0.9  # the casing feature
    head, fusion = load_fusion(out)
    assert fusion.threshold == record["threshold"]
    # the non-word floor is the tagger's own threshold (what --fast flags at), the default threshold fitted with it
    assert fusion.nonword_floor == record["nonword_floor"] == TaggerDetector.load(str(tagger_dir)).threshold
    assert fusion.members == 2 and len(head.nets) == 2  # two nets, seeds 13 and 14, averaged
    assert fusion.stack == 32 and len(head.second.nets) == 2  # stacked by default: a second stage, two nets too
    detector = FusedDetector(TaggerDetector.load(str(tagger_dir)), head, fusion, scorer=scorer)
    (spans,) = detector.detect([sentence.replace("farmers", "Farmers")])
    assert [(s.start, s.end) for s in spans] == [(17, 24)]
    again = train_fusion(config, logged.append)  # the evidence comes from the cache the second time
    assert any("evidence from" in line for line in logged) and again["threshold"] == record["threshold"]
    assert any(line.startswith("train-split evidence from") for line in logged)
    json.loads((out / "training.json").read_text())


def test_train_news_fixes_the_threshold_beside_dev_news(scorer, tokenizer, tmp_path, monkeypatch):
    data, tagger_dir, sentence = _fusion_data(tmp_path, tokenizer, train_news=6)
    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)
    # 10 train news rows: the tagger's draw takes 2, the head's --train-mix 2, 4 of the 6 left fix the threshold
    config = _quick_config(tmp_path, data, tagger_dir, tmp_path / "head", train_mix={"synthetic": 3, "clean": 2},
                           train_news=4)
    logged = []
    record = train_fusion(config, logged.append)
    assert "train-split news evidence: 4 clean-news segments the tagger and the head never saw" in logged
    news = torch.load(tmp_path / "a.news.pt")["news"]
    assert record["dev_news_words"] == 6 * (len(tokenize(sentence)) + 1)
    assert record["news_words"] == record["dev_news_words"] + len(news["y"]) > record["dev_news_words"]
    again = train_fusion(config, logged.append)
    assert "train-split news evidence from " + str(tmp_path / "a.news.pt") in logged
    assert again["threshold"] == record["threshold"] and again["news_words"] == record["news_words"]
    alone = train_fusion(replace(config, train_news=0, out=str(tmp_path / "alone")), [].append)
    assert alone["news_words"] == record["dev_news_words"]


def _fake_plausible(monkeypatch, words=("cattle",)):
    """The corruptors' lookups without the pivot dictionary, and a language model that finds ``words`` likely
    next after any text."""
    from mtfix.data.corrupt import Resources

    monkeypatch.setattr("mtfix.data.build.default_resources", lambda lm=False: Resources(
        lambda w: {}, lambda w: 3.5 if w.isalpha() else 0.0, []))
    monkeypatch.setattr("mtfix.data.build.next_words", lambda model, tokenizer: lambda prefix: [
        (w, 1.0 / len(words)) for w in words])


def test_plausible_rows_carry_one_fluent_swap_with_its_clean_sentence_as_reference(monkeypatch):
    from mtfix.data import build
    from mtfix.training.evidence import plausible_rows

    _fake_plausible(monkeypatch)
    next_words = build.next_words
    sentences = [{"text": "Rain fell on the farms near town.", "source": "clean:abc-rural"},
                 {"text": "Hi.", "source": "clean:abc-rural"},  # too short for a swap: skipped
                 {"text": "Water reached the farms by noon.", "source": "clean:abc-rural"},
                 {"text": "Farmers were glad of the rain.", "source": "clean:abc-rural"}]
    rows = plausible_rows(sentences, next_words(None, None), 2, seed=0)
    assert len(rows) == 2 and [r["reference"] for r in rows] == [sentences[0]["text"], sentences[2]["text"]]
    for row in rows:
        (span,) = row["spans"]
        assert row["source"] == "synthetic:lm-plausible" and span["label"] == "lm-plausible" and span["visible"]
        assert row["text"][span["start"]:span["end"]] == "cattle"  # the fluent word in, the clean one as its fix
        assert row["text"].replace("cattle", span["fix"]) == row["reference"]
    assert rows == plausible_rows(sentences, next_words(None, None), 2, seed=0)  # seeded: the same swaps


def test_train_fusion_fits_on_lm_plausible_swaps_in_news_no_other_row_shares(scorer, tokenizer, tmp_path,
                                                                             monkeypatch):
    from mtfix.training.evidence import plausible_sentences

    data, tagger_dir, sentence = _fusion_data(tmp_path, tokenizer, train_news=6)
    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)
    _fake_plausible(monkeypatch)
    config = _quick_config(tmp_path, data, tagger_dir, tmp_path / "head", train_mix={"synthetic": 3, "clean": 2},
                           train_news=2, plausible=3)
    # 10 train news rows: the tagger's draw takes 2, --train-mix 2, --train-news 2; the swaps are made in the others
    split = datasets.load_from_disk(str(data))["train"]
    picked = {r["text"] for r in plausible_sentences(split, config)}
    assert len(picked) == 4  # all that is left (a few more than asked: not every sentence has a place for one)
    from mtfix.training.evidence import tagger_training_rows, train_news_rows, unseen_train_rows

    seen = {r["text"] for r in tagger_training_rows(split, str(tagger_dir))}
    seen |= {r["text"] for r in unseen_train_rows(split, str(tagger_dir), config.train_mix, random.Random(13))}
    seen |= {r["text"] for r in train_news_rows(split, config)}
    assert not picked & seen
    logged = []
    record = train_fusion(config, logged.append)
    assert "lm-plausible swap evidence: 3 swaps in train clean news no other row shares a sentence with" in logged
    swaps = torch.load(tmp_path / "a.plausible.pt")
    assert swaps["family"] == ["synthetic"] * 3 and int(swaps["train"]["y"].sum()) == 3  # one BAD word a swap
    without = train_fusion(replace(config, plausible=0, out=str(tmp_path / "without")), [].append)
    assert record["fit_words"] == without["fit_words"] + len(swaps["train"]["y"])
    assert record["held_words"] == without["held_words"]  # held-out words stay dev's
    again = train_fusion(config, logged.append)
    assert "lm-plausible swap evidence from " + str(tmp_path / "a.plausible.pt") in logged
    assert again["threshold"] == record["threshold"]


def test_fusion_options_that_need_a_train_split_are_refused_in_one_line_without_one(tmp_path):
    from mtfix.errors import InputError
    from mtfix.training.evidence import train_split

    data = tmp_path / "dataset"
    datasets.DatasetDict({"dev": datasets.Dataset.from_list([{"text": "a", "source": "clean:abc-rural"}])}
                         ).save_to_disk(str(data))
    config = FusionTrainConfig(data=str(data), tagger="", out="")
    with pytest.raises(InputError) as refused:
        train_split(config, "make --plausible swaps in", "--plausible 0")
    assert str(refused.value) == f"{data} has no train split to make --plausible swaps in (give --plausible 0)"
    dev_and_train = tmp_path / "both"
    datasets.DatasetDict({"dev": datasets.Dataset.from_list([{"text": "a"}]),
                          "train": datasets.Dataset.from_list([{"text": "b"}])}).save_to_disk(str(dev_and_train))
    assert train_split(replace(config, data=str(dev_and_train)), "x", "y")["text"] == ["b"]


def test_train_fusion_retag_recomputes_the_tagger_columns_as_a_fresh_collection_would(scorer, tokenizer, tmp_path,
                                                                                       monkeypatch):
    import dataclasses
    import shutil

    from mtfix.detect.tagger import ArtifactTagger

    data, tagger_dir, _ = _fusion_data(tmp_path, tokenizer)
    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)
    config = _quick_config(tmp_path, data, tagger_dir, tmp_path / "head-a")
    train_fusion(config, [].append)
    first = torch.load(tmp_path / "a.pt")["train"]["x"]
    other = tmp_path / "other-tagger"  # another tagger on the same draw: other weights
    shutil.copytree(tagger_dir, other)
    model = ArtifactTagger.from_pretrained(str(other))
    torch.manual_seed(1)
    with torch.no_grad():
        for weights in model.parameters():
            weights.add_(0.2 * torch.randn_like(weights))
    model.save_pretrained(other)
    logged = []
    train_fusion(dataclasses.replace(config, tagger=str(other), out=str(tmp_path / "head-b"), retag=True),
                 logged.append)
    assert sum("tagger columns recomputed" in line for line in logged) == 2  # dev and train-split evidence
    assert not any(line.startswith("evidence: ") for line in logged)  # no language-model pass
    train_fusion(dataclasses.replace(config, tagger=str(other), out=str(tmp_path / "head-c"),
                                     cache=str(tmp_path / "b.pt")), [].append)
    for retagged_file, fresh_file in (("a.pt", "b.pt"), ("a.train.pt", "b.train.pt")):
        retagged, fresh = torch.load(tmp_path / retagged_file), torch.load(tmp_path / fresh_file)
        assert retagged["key"] == fresh["key"]
        for part in [p for p in ("train", "news") if p in fresh]:
            assert torch.allclose(retagged[part]["x"], fresh[part]["x"], atol=1e-5)
            assert torch.equal(retagged[part]["y"], fresh[part]["y"])
            assert torch.equal(retagged[part]["line"], fresh[part]["line"])
    tagger = FEATURES.index("tagger")  # the other weights did change what the tagger says
    assert not torch.allclose(first[:, tagger], torch.load(tmp_path / "b.pt")["train"]["x"][:, tagger], atol=1e-3)


def test_retag_refuses_evidence_of_other_rows():
    from mtfix.errors import InputError
    from mtfix.training.evidence import retag_evidence

    class Half:
        def word_probabilities(self, texts):
            return [[0.5] * len(tokenize(t)) for t in texts]

    data = {"x": torch.zeros(3, len(FEATURES)), "segment": torch.tensor([0, 0, 0])}
    with pytest.raises(InputError, match="does not hold segment 0"):
        retag_evidence(data, ["two words"], Half())
    done = retag_evidence(data, ["three words here"], Half())
    assert done["x"][:, FEATURES.index("tagger")].tolist() == [0.5, 0.5, 0.5]
    assert done["x"][:, FEATURES.index("sent_tagger_max")].tolist() == [0.5, 0.5, 0.5]


def test_line_context_reads_the_first_stage_within_each_line():
    from mtfix.detect.fuse import CONTEXT, EDGE_LOGIT, line_context, line_ids

    assert line_ids("One two.\nThree\n\nfour", tokenize("One two.\nThree\n\nfour")) == [0, 0, 0, 1, 2]
    logits = torch.tensor([2.0, -2.0, 0.0, -3.0, 1.0])
    found = line_context(logits, torch.tensor([7, 7, 7, 9, 9]))  # two lines: words 0-2 and 3-4
    assert found.shape == (5, len(CONTEXT))
    assert found[:, 1].tolist() == [EDGE_LOGIT, 2.0, -2.0, EDGE_LOGIT, -3.0]  # the word before, in its line
    assert found[:, 2].tolist() == [-2.0, 0.0, EDGE_LOGIT, 1.0, EDGE_LOGIT]  # the word after
    p = torch.sigmoid(logits)
    assert found[0, 3] == pytest.approx(float(p[0])) and found[4, 3] == pytest.approx(float(p[4]))  # highest P
    assert found[1, 4] == pytest.approx(float(p[:3].mean())) and found[3, 4] == pytest.approx(float(p[3:].mean()))
    assert found[2, 5] == pytest.approx(2 / 3) and found[3, 5] == pytest.approx(1 / 2)  # share at P >= 0.3
    assert line_context(torch.zeros(0), torch.zeros(0, dtype=torch.long)).shape == (0, len(CONTEXT))


def _clustered(n_sentences, seed):
    """Sentences of 6 words; in half of them (garbled) the words whose first feature is over -0.5 are BAD, in
    the other half nothing is. A word's second feature only hints at its sentence being garbled; what the first
    stage makes of the other words' hints says it."""
    g = torch.Generator().manual_seed(seed)
    garbled = torch.rand(n_sentences, generator=g) < 0.5
    x = torch.randn(n_sentences * 6, 3, generator=g)
    sentence = torch.arange(n_sentences).repeat_interleave(6)
    x[:, 1] = garbled[sentence].float() + torch.randn(len(x), generator=g)
    y = ((x[:, 0] > -0.5) & garbled[sentence]).float()
    return x, y, sentence


def test_a_stacked_head_learns_from_the_words_around_it_and_survives_saving(tmp_path):
    from mtfix.training.fusion import fit_stacked

    x, y, sentence = _clustered(600, 0)
    w = torch.ones(len(y))
    single = fit_head(x, y, w, 16, 5, 13)
    stacked = fit_stacked(x, y, w, sentence, sentence, 16, 16, 5, 13)
    probe, gold, probe_sentence = _clustered(200, 1)
    with torch.inference_mode():
        loss = {name: float(torch.nn.functional.binary_cross_entropy_with_logits(logits, gold))
                for name, logits in (("single", single(probe)), ("stacked", stacked(probe, probe_sentence)))}
    assert loss["stacked"] < 0.8 * loss["single"]  # its sentence tells a garbled word from a clean one
    with pytest.raises(ValueError, match="needs each word's line"):
        stacked(probe)
    # the second stage's own weights: where they are zero, it learns nothing of those words
    clean_only = fit_stacked(x, y, w, sentence, sentence, 16, 16, 5, 13, second_w=(y == 0).float())
    with torch.inference_mode():
        assert float(torch.sigmoid(clean_only(probe, probe_sentence)).max()) < 0.5 < float(
            torch.sigmoid(stacked(probe, probe_sentence)).max())
    save_fusion(stacked, FusionConfig(FEATURES[:3], hidden=16, stack=16), tmp_path)
    loaded, config = load_fusion(tmp_path)
    assert config.stack == 16 and json.loads((tmp_path / "config.json").read_text())["stack"] == 16
    with torch.inference_mode():
        assert torch.allclose(loaded(probe, probe_sentence), stacked(probe, probe_sentence), atol=2e-2)


def test_evidence_from_before_lines_were_recorded_is_retagged_not_refused(scorer, tokenizer, tmp_path,
                                                                              monkeypatch):
    data, tagger_dir, _ = _fusion_data(tmp_path, tokenizer)
    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)
    config = _quick_config(tmp_path, data, tagger_dir, tmp_path / "head", stack=4)
    train_fusion(config, [].append)
    fresh = {name: torch.load(tmp_path / name) for name in ("a.pt", "a.train.pt")}
    for name, ev in fresh.items():  # as an older mtfix wrote them: no line numbers
        torch.save({**ev, **{part: {k: v for k, v in ev[part].items() if k != "line"}
                             for part in ("train", "news") if part in ev}}, tmp_path / name)
    logged = []
    train_fusion(config, logged.append)
    assert sum("tagger columns recomputed" in line for line in logged) == 2  # no --retag needed, no LM pass
    assert not any(line.startswith("evidence: ") for line in logged)
    for name, ev in fresh.items():
        again = torch.load(tmp_path / name)
        for part in [p for p in ("train", "news") if p in ev]:
            assert torch.equal(again[part]["line"], ev[part]["line"])
            assert torch.allclose(again[part]["x"], ev[part]["x"], atol=1e-5)


def test_the_second_stage_weighs_clean_lines_three_times_by_default(scorer, tokenizer, tmp_path, monkeypatch):
    import mtfix.training.fusion as train_module

    data, tagger_dir, _ = _fusion_data(tmp_path, tokenizer)
    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)
    seen = {}
    fit = train_module.fit_stacked

    def spy(x, y, w, segment, groups, *args, **kwargs):
        seen["w"], seen["second"] = w, args[-1] if len(args) > 5 else kwargs.get("second_w")
        return fit(x, y, w, segment, groups, *args, **kwargs)

    monkeypatch.setattr(train_module, "fit_stacked", spy)
    config = _quick_config(tmp_path, data, tagger_dir, tmp_path / "head", stack=4)
    assert config.stack_weight == {"mlqe-pe": 1.0, "clean": 3.0} and config.clean_flags_per_1k == 2.25
    record = train_fusion(config, [].append)
    assert record["config"]["stack_weight"] == {"mlqe-pe": 1.0, "clean": 3.0}
    ratio = seen["second"] / seen["w"]
    assert set(ratio.unique().tolist()) == {1.0, 3.0}  # synthetic words as in the first stage, clean ones x3
    train_fusion(replace(config, stack_weight=None), [].append)
    assert seen["second"] is None  # the first stage's weights


@pytest.fixture
def detector_folder(fused_at):
    """A tiny tagger with a fusion head in fused/ that flags every word, laid out like models/detector."""
    return fused_at(0.0)


def test_cli_picks_the_fused_detector_and_fast_keeps_the_tagger(detector_folder, scorer, monkeypatch, capsys):
    from mtfix.cli import main

    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)
    text = detector_folder / "in.txt"
    text.write_text("The two guides discussed it.\n")
    assert main(["detect", str(text), "--model", str(detector_folder), "--format", "jsonl"]) == 0
    (span,) = json.loads(capsys.readouterr().out)["spans"]
    assert {"tagger", "surprisal"} <= set(span["evidence"])
    assert main(["detect", str(text), "--model", str(detector_folder), "--format", "jsonl", "--fast",
                 "--threshold", "0"]) == 0
    (span,) = json.loads(capsys.readouterr().out)["spans"]
    assert "evidence" not in span
    assert main(["detect", str(text), "--fast", "--method", "lm"]) == 1
    assert "--fast is the tagger alone" in capsys.readouterr().err


def test_cli_lm_gate_is_passed_on_and_checked(detector_folder, scorer, monkeypatch, capsys):
    from mtfix.cli import main

    counting = CountingScorer(scorer)
    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: counting)
    text = detector_folder / "in.txt"
    text.write_text("The two guides discussed it.\n")
    args = ["detect", str(text), "--model", str(detector_folder), "--format", "jsonl", "--threshold", "0.9999"]
    assert main(args + ["--lm-gate", "0.9999"]) == 0  # the tiny tagger's P(BAD) stays under it: no LM
    assert counting.asked == [] and json.loads(capsys.readouterr().out)["spans"] == []
    assert main(args + ["--lm-gate", "0"]) == 0
    assert counting.asked == ["The two guides discussed it."]
    capsys.readouterr()
    assert main(args + ["--lm-gate", "1.5"]) == 1
    assert "--lm-gate is a probability" in capsys.readouterr().err
    for other in (["--fast"], ["--method", "spell"]):
        assert main(args + ["--lm-gate", "0.1", *other]) == 1
        assert "--lm-gate is the fused detector's" in capsys.readouterr().err


def test_fused_without_a_head_says_what_to_do(tmp_path, tokenizer, capsys):
    from mtfix.cli import main

    tiny_model().save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    (tmp_path / "in.txt").write_text("words\n")
    assert main(["detect", str(tmp_path / "in.txt"), "--model", str(tmp_path), "--method", "fused"]) == 2
    err = capsys.readouterr().err
    assert "no fusion head" in err and "--fast" in err and "Traceback" not in err


def test_platt_scaling_undoes_a_prior_shift():
    from mtfix.training.calibration import fit_platt

    torch.manual_seed(0)
    logits = torch.randn(20_000) * 2
    labels = torch.bernoulli(torch.sigmoid(logits / 2.0 - 1.0))  # truth: half the scale, shifted by -1
    temperature, bias = fit_platt(logits, labels)
    assert temperature == pytest.approx(2.0, rel=0.1) and bias == pytest.approx(-1.0, abs=0.1)


def test_each_word_carries_its_sentences_evidence():
    from mtfix.detect.fuse import SURPRISING_NATS, sentence_evidence, sentence_ids
    from mtfix.detect.lm import WordScores

    text = "Mr. Smith came. It was “fine”. 3 left? yes. End"
    tokens = tokenize(text)
    words = [t.text for t in tokens]
    ids = sentence_ids(tokens)
    assert ids[words.index("came")] == 0 and ids[words.index("It")] == 1
    assert ids[words.index("fine")] == 1 and ids[words.index("3")] == 2
    assert ids[words.index("yes")] == 2  # no capital after "?": the same sentence
    assert ids[words.index("End")] == 3
    # two sentences: one with a garbled word, one clean
    tokens = tokenize("The pariad came. All is well.")
    surprisal = [1.0, SURPRISING_NATS + 3, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    tagger = [0.1, 0.9, 0.2, 0.0, 0.0, 0.1, 0.0, 0.1]
    scores = WordScores(tokens, surprisal, [0.0] * len(tokens), [0.0] * len(tokens), [1] * len(tokens))
    found = sentence_evidence(scores, tagger)
    assert found[0] == pytest.approx([0.3, 0.9, (1 + 11 + 2 + 1) / 4, 0.25, math.log(4)])
    assert found[5] == pytest.approx([0.05, 0.1, 1.0, 0.0, math.log(4)])
    x = word_features(scores, tagger)
    col = {name: j for j, name in enumerate(FEATURES)}
    assert x[0, col["sent_tagger_max"]] == pytest.approx(0.9) and x[7, col["sent_tagger_max"]] == pytest.approx(0.1)


def test_heads_are_judged_at_the_clean_news_budget():
    from mtfix.training.calibration import word_mcc
    from mtfix.training.fusion import held_out_measures

    gold = torch.tensor([True, False, True, False, True, False])
    assert word_mcc(gold, gold) == pytest.approx(1.0) and word_mcc(~gold, gold) == pytest.approx(-1.0)
    assert word_mcc(torch.zeros(6, dtype=torch.bool), gold) == 0.0  # nothing flagged: no correlation, no error
    probs = torch.tensor([0.9, 0.2, 0.6, 0.7, 0.1, 0.3])
    news = torch.linspace(0.0, 0.5, 1000)  # clean words: 3 per 1,000 allowed above the threshold (~0.4985)
    mlqe = torch.tensor([True, True, True, True, False, False])
    synthetic = ~mlqe
    mcc, recall = held_out_measures(probs, news, gold, mlqe, synthetic, 3.0)
    # flagged at >= ~0.4985: words 0, 2, 3; MLQE-PE words 0-3 -> pred [1, 0, 1, 1] vs gold [1, 0, 1, 0]
    assert mcc == pytest.approx(word_mcc(torch.tensor([True, False, True, True]), gold[:4]))
    assert recall == 0.0  # the synthetic BAD word (0.1) is under the threshold


def test_train_rows_for_the_head_are_those_the_tagger_never_saw(tmp_path):
    from mtfix.errors import InputError
    from mtfix.training.common import sample_mix
    from mtfix.training.evidence import unseen_train_rows

    rows = [{"text": f"{fam} sentence {i}.", "source": source, "spans": []}
            for fam, source in (("mlqe", "mlqe-pe:ro-en"), ("clean", "clean:abc-rural")) for i in range(20)]
    split = datasets.Dataset.from_list(rows)
    (tmp_path / "training.json").write_text(json.dumps({"config": {"mix": {"mlqe-pe": 12, "clean": 5}, "seed": 3}}))
    seen = {r["text"] for r in sample_mix(split, {"mlqe-pe": 12, "clean": 5}, random.Random(3))}
    picked = unseen_train_rows(split, str(tmp_path), {"mlqe-pe": 30, "clean": 4}, random.Random(1))
    texts = [r["text"] for r in picked]
    assert not seen & set(texts) and len(set(texts)) == len(texts)
    assert sum(t.startswith("mlqe") for t in texts) == 8 and sum(t.startswith("clean") for t in texts) == 4
    with pytest.raises(InputError, match="training.json is missing"):  # which rows it saw is unknown: refused
        unseen_train_rows(split, str(tmp_path / "elsewhere"), {"mlqe-pe": 1}, random.Random(1))


def test_joined_evidence_numbers_the_second_sets_segments_after_the_first():
    from mtfix.training.evidence import join_evidence

    def ev(segments, families):
        n = len(segments)
        return {"train": {"x": torch.zeros(n, 2), "y": torch.zeros(n), "invisible": torch.zeros(n, dtype=torch.bool),
                          "segment": torch.tensor(segments)}, "news": {"x": torch.ones(1, 2)}, "family": families}

    joined = join_evidence(ev([0, 0, 1], ["mlqe-pe", "clean"]), ev([0, 1, 1], ["synthetic", "clean"]))
    assert joined["train"]["segment"].tolist() == [0, 0, 1, 2, 3, 3]
    assert joined["family"] == ["mlqe-pe", "clean", "synthetic", "clean"] and joined["news"]["x"].shape == (1, 2)


def test_train_news_for_the_threshold_shares_no_sentence_with_rows_the_tagger_or_head_saw(tmp_path):
    from mtfix.training.evidence import FusionTrainConfig, train_news_rows, unseen_train_news

    sents = [f"Sentence number {i} of the news." for i in range(12)]
    rows = [{"text": " ".join(sents[i:i + 2]), "source": "clean:abc-rural", "spans": []} for i in range(11)]
    rows += [{"text": "A post-edit. Not news.", "source": "clean:post-edit-ro", "spans": []},
             {"text": "Bad words here.", "source": "mlqe-pe:ro-en", "spans": []}]
    split = datasets.Dataset.from_list(rows)
    # a row seen in training holds sentences 4 and 5: the rows 3-4, 4-5 and 5-6 share one of them
    picked = unseen_train_news(split, [rows[4]["text"]], 100, random.Random(0))
    assert [r["text"] for r in picked] == [r["text"] for i, r in enumerate(rows[:11]) if i not in (3, 4, 5)]
    assert len(unseen_train_news(split, [], 4, random.Random(0))) == 4  # at most the limit, in the split's order
    (tmp_path / "training.json").write_text(json.dumps({"config": {"mix": {"clean": 2}, "seed": 3}}))
    config = FusionTrainConfig(data="", tagger=str(tmp_path), out="", train_mix={"clean": 1}, train_news=100, seed=5)
    got = {r["text"] for r in train_news_rows(split, config)}
    taken = {s for r in rows[:11] if r["text"] not in got for s in r["text"].split(". ")}
    assert got and all(not set(t.split(". ")) & taken for t in got)  # what was left out covers what was taken
    assert len(got) <= 11 - 3  # the tagger's two rows and the head's one each cost a row and its neighbours


def test_train_news_joins_the_threshold_pool_as_segments_of_its_own():
    from mtfix.training.evidence import evidence_groups, join_news

    def words(segments, lines):
        n = len(segments)
        return {"x": torch.zeros(n, 2), "y": torch.zeros(n), "invisible": torch.zeros(n, dtype=torch.bool),
                "segment": torch.tensor(segments), "line": torch.tensor(lines)}

    evidence = {"train": words([0], [0]), "news": words([0, 0, 2], [0, 1, 0]), "family": ["clean"]}
    joined = join_news(evidence, words([0, 1, 1], [0, 0, 0]))
    assert joined["news"]["segment"].tolist() == [0, 0, 2, 3, 4, 4]
    assert len(set(evidence_groups(joined["news"]).tolist())) == 5  # dev: three lines, train: two; none merged
    assert joined["train"] is evidence["train"] and joined["family"] == ["clean"]


def test_each_words_weight_is_its_familys_times_its_invisibility():
    from mtfix.training.evidence import FusionTrainConfig
    from mtfix.training.fusion import fusion_weights

    evidence = {"train": {"segment": torch.tensor([0, 0, 1, 2, 3]),
                          "invisible": torch.tensor([False, True, False, False, False])},
                "family": ["mlqe-pe", "clean", "synthetic", "apertium"]}
    config = FusionTrainConfig(data="", tagger="", out="", invisible_weight=0.5,
                               family_weight={"mlqe-pe": 3.0, "clean": 6.0})
    # MLQE-PE words 3 (an invisible BAD word half that), clean 6, the families not named 1
    assert fusion_weights(evidence, config).tolist() == [3.0, 1.5, 6.0, 1.0, 1.0]


@pytest.mark.parametrize("option, message", [
    (["--train-mix", "{bad"], "--train-mix: not a JSON object: '{bad'"),
    (["--members", "0"], "--members must be at least 1, not 0"),
    (["--train-news", "-1"], "--train-news must be 0 or more, not -1"),
    (["--plausible", "-1"], "--plausible must be 0 or more, not -1"),
    (["--stack", "wide"], "--stack: not a width: 'wide'"),
    (["--stack", "-1"], "--stack: a width is 0 or more, not -1"),
    (["--stack", "none", "--stack-weight", '{"clean": 2}'], "--stack-weight needs a stacked head"),
    (["--clean-flags", "few"], "--clean-flags: not a number of flags per 1,000 words: 'few'"),
    (["--clean-flags", "0"], "--clean-flags: flags per 1,000 words lie above 0 and below 1000, not 0"),
])
def test_train_fusion_refuses_bad_options_in_one_line(capsys, option, message):
    from mtfix.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "fusion", "--data", "d", "--tagger", "t", "--out", "o", *option])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("option, floor", [([], True), (["--no-nonword-floor"], False)])
def test_train_fusion_passes_the_nonword_floor_option_on(monkeypatch, option, floor):
    from mtfix.cli import main

    seen = []
    monkeypatch.setattr("mtfix.training.fusion.train_fusion", lambda config, log: seen.append(config))
    assert main(["train", "fusion", "--data", "d", "--tagger", "t", "--out", "o", *option]) == 0
    assert [c.nonword_floor for c in seen] == [floor]


class RecordingScorer(CountingScorer):
    def score(self, texts, candidates=None, full=None, contexts=None):
        self.full = full
        return super().score(texts, candidates, full, contexts)


def test_the_whole_window_contrast_is_read_only_by_a_head_that_uses_it(scorer, tmp_path):
    from mtfix.detect.fuse import FULL_FEATURES
    from mtfix.detect.lm import FullContrast

    settings = {"screen_nats": 0.0, "related": 1, "choices": 0, "right": 2}
    save_fusion(FusionHead(len(FEATURES), 8), FusionConfig(hidden=8, full_contrast=settings), tmp_path / "with")
    without = tuple(f for f in FEATURES if f not in FULL_FEATURES)
    save_fusion(FusionHead(len(without), 8), FusionConfig(without, hidden=8), tmp_path / "without")
    for name, expected in (("with", FullContrast(**settings)), ("without", None)):
        head, config = load_fusion(tmp_path / name)
        assert config.full == expected
        recording = RecordingScorer(scorer)
        detector = FusedDetector(FixedTagger(), head, config, scorer=recording, generator=CandidateGenerator())
        ((scores, _),) = detector.evidence(["0.5 the two guides met today"])
        assert recording.full == expected
        x = word_features(scores, [0.5] * len(scores.tokens))
        read = x[:, FEATURES.index("full_read")]
        if expected is None:  # no whole-window pass: the columns say so
            assert scores.full == [] and read.sum() == 0
            assert (x[:, FEATURES.index("full_contrast")] == NO_CONTRAST).all()
        else:  # every word passes a screen of 0 nats; "guides" has candidates, so a related contrast
            k = [t.text for t in scores.tokens].index("guides")
            assert read[k] == 1 and scores.full[k][0] is not None
            assert x[k, FEATURES.index("full_contrast")] == pytest.approx(max(scores.full[k][0], NO_CONTRAST), abs=1e-4)
        assert detector.probabilities([(scores, [0.5] * len(scores.tokens))])[0]  # the head reads its columns


def test_fusion_training_refuses_an_unknown_evidence_group_before_reading_anything(tmp_path):
    from mtfix.errors import InputError

    config = FusionTrainConfig(data=str(tmp_path / "none"), tagger=str(tmp_path / "none"), out=str(tmp_path / "o"),
                               drop=("full", "nope"))
    with pytest.raises(InputError, match="no evidence group nope"):
        train_fusion(config, lambda msg: None)


def test_document_contexts_are_the_sentences_written_before_each_segment():
    from mtfix.detect.fuse import CONTEXT_CHARS, document_contexts, last_sentences

    assert last_sentences("One. Two here. Three   now.", 2) == "Two here. Three now."
    assert last_sentences("One. Two.", 0) == "" and last_sentences("", 2) == ""
    long = " ".join(["word"] * 400) + "."
    assert len(last_sentences(long, 1)) <= CONTEXT_CHARS and last_sentences(long, 1).startswith("word")
    texts = ["First line. Second one.", "", "Third.", "Fourth here."]
    assert document_contexts(texts, 2) == ["", "First line. Second one.", "First line. Second one.",
                                           "Second one. Third."]
    # across segment boundaries, and from the text before the batch
    assert document_contexts(texts[2:], 2, before="Zero. One.") == ["Zero. One.", "One. Third."]
    assert document_contexts(texts, 1)[3] == "Third."


def test_a_head_fitted_with_context_reads_each_segment_after_the_sentences_before_it(scorer, tokenizer):
    class Spy:
        def __init__(self):
            self.contexts = []

        def score(self, texts, candidates=None, full=None, contexts=None):
            self.contexts.append(contexts)
            return scorer.score(texts, candidates, full, contexts)

    class HalfTagger:
        def word_probabilities(self, texts):
            return [[0.5] * len(tokenize(t)) for t in texts]

    spy = Spy()
    head = FusionHead(len(FEATURES), 8)
    texts = ["The two guides met.", "They talked.", "Then they left."]
    for context, alone, want in ((2, False, ["Earlier one.", "Earlier one. The two guides met.",
                                             "The two guides met. They talked."]),
                                 (2, True, None), (0, False, None)):
        detector = FusedDetector(HalfTagger(), head, FusionConfig(hidden=8, context=context), scorer=spy,
                                 generator=CandidateGenerator(), alone=alone)
        detector.detect(texts, before="Earlier one.")
        assert spy.contexts[-1] == want
    # lines of several documents in one batch (the server's requests): each read after its own lines only, and
    # each text's spans as it would get them in a call of its own document
    detector = FusedDetector(HalfTagger(), head, FusionConfig(hidden=8, context=2, threshold=0.0), scorer=spy,
                             generator=CandidateGenerator())
    together = detector.detect(texts, documents=[2, 1])
    assert spy.contexts[-1] == ["", "The two guides met.", ""]
    apart = detector.detect(texts[:2]) + detector.detect(texts[2:])

    def places(found):
        return [[(s.start, s.end) for s in spans] for spans in found]

    def scores(found):
        return [s.score for spans in found for s in spans]

    # the same words and scores (within the last digits a batch's padding moves)
    assert all(together) and places(together) == places(apart)
    assert scores(together) == pytest.approx(scores(apart), abs=1e-5)
    assert scores(detector.detect(texts))[2] != pytest.approx(scores(apart)[2], abs=1e-3)  # read after line 2
    with pytest.raises(ValueError, match="documents"):
        detector.detect(texts, before="Earlier one.", documents=[2, 1])
    # the evidence says which words were read after a context
    evidence = detector.evidence(texts[:2], ["", "Earlier one."])
    column = FEATURES.index("context")
    assert [set(word_features(*e)[:, column].tolist()) for e in evidence] == [{0.0}, {1.0}]
    # a head's context setting survives saving
    assert FusionConfig(context=2).to_json()["context"] == 2 and "context" not in FusionConfig().to_json()


def test_train_fusion_with_context_reads_the_rows_after_their_documents_sentences(scorer, tokenizer, tmp_path,
                                                                                   monkeypatch):
    from mtfix.data.build import Doc

    data, tagger_dir, sentence = _fusion_data(tmp_path, tokenizer)
    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)
    monkeypatch.setattr("mtfix.data.build.documents", lambda data_dir: [
        Doc(["Dry weeks came first.", sentence], "clean:abc-rural", "dev")])
    config = _quick_config(tmp_path, data, tagger_dir, tmp_path / "fused", context=2, train_mix={})
    train_fusion(config, lambda msg: None)
    dev = torch.load(tmp_path / "a.pt")
    assert dev["key"]["context"] == 2
    read = dev["train"]["x"][:, FEATURES.index("context")]
    # the synthetic rows' reference is the document's second sentence: read after the first; the clean rows
    # ("... in spring 3.") belong to no known document: read alone
    segments = dev["train"]["segment"]
    by_segment = {int(k): float(read[segments == k].max()) for k in segments.unique()}
    assert set(by_segment.values()) == {0.0, 1.0}
    _, saved = load_fusion(tmp_path / "fused")
    assert saved.context == 2
    # the same news read alone fixes the threshold for text read alone (JSONL records, --alone)
    alone = torch.load(tmp_path / "a.news-alone.pt")
    record = json.loads((tmp_path / "fused" / "training.json").read_text())
    assert alone["key"]["alone"] and len(alone["news"]["y"]) == record["news_words"] == record["alone_news_words"]
    assert float(alone["news"]["x"][:, FEATURES.index("context")].max()) == 0.0
    assert saved.alone_threshold is not None and 0.0 < saved.alone_threshold <= 1.0
    assert record["alone_threshold"] == saved.alone_threshold


def test_text_read_alone_is_flagged_at_the_thresholds_fitted_for_it(tmp_path, scorer):
    from mtfix.detect import review_point
    from mtfix.detect.fuse import load_config

    head = FusionHead(len(FEATURES), 8)
    config = FusionConfig(hidden=8, threshold=0.3, context=2, review_threshold=0.1, alone_threshold=0.4,
                          alone_review_threshold=0.15)

    def threshold(config, **options):
        return FusedDetector(None, head, config, scorer=scorer, generator=CandidateGenerator(), **options).threshold

    assert threshold(config) == 0.3 and threshold(config, alone=True) == 0.4
    assert threshold(config, alone=True, threshold=0.2) == 0.2  # a threshold given wins
    # a head that reads no context reads everything alone, at its one threshold
    assert threshold(FusionConfig(hidden=8, threshold=0.3, alone_threshold=0.4), alone=True) == 0.3
    # a head fitted before alone thresholds existed reads text alone at its threshold
    assert threshold(FusionConfig(hidden=8, threshold=0.3, context=2), alone=True) == 0.3
    save_fusion(head, config, tmp_path / "fused")
    assert load_config(tmp_path / "fused") == config
    assert review_point(str(tmp_path)) == (0.1, 0.0) and review_point(str(tmp_path), alone=True) == (0.15, 0.0)
    assert "alone_threshold" not in FusionConfig().to_json()


def test_the_batches_of_a_file_carry_the_text_before_them_to_a_detector_that_reads_context():
    from mtfix.detect import Bounded, detect_segments
    from mtfix.text.formats import Segment

    class Recorder:
        name = "recorder"

        def __init__(self, context):
            self.context, self.calls = context, []

        def detect(self, texts, before=None):
            self.calls.append((list(texts), before))
            return [[] for _ in texts]

    segments = [Segment(1, "First one."), Segment(2, None, "not UTF-8"), Segment(3, "Second one."),
                Segment(4, ""), Segment(5, "Third one.")]
    reader = Recorder(2)
    assert len(list(detect_segments(Bounded(reader), segments, batch_size=2))) == 5
    assert reader.calls == [(["First one."], ""), (["Second one.", ""], "First one."),
                            (["Third one."], "First one.\nSecond one.")]
    alone = Recorder(0)  # a detector that reads segments alone is never given ``before``
    list(detect_segments(Bounded(alone), segments, batch_size=2))
    assert [before for _, before in alone.calls] == [None, None, None]


def test_cli_reads_the_lines_of_a_text_file_as_one_document_and_jsonl_records_alone(detector_folder, scorer,
                                                                                    monkeypatch, capsys):
    from mtfix.cli import main

    save_fusion(FusionHead(len(FEATURES), 8), FusionConfig(hidden=8, threshold=0.0, context=2),
                detector_folder / "fused")
    counting = CountingScorer(scorer)
    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: counting)
    text = detector_folder / "in.txt"
    text.write_text("The two guides met. They talked.\nThen they left.\n")
    args = ["detect", str(text), "--model", str(detector_folder), "--format", "jsonl"]
    assert main(args) == 0
    assert counting.contexts == ["", "The two guides met. They talked."]
    assert main(args + ["--alone"]) == 0
    assert counting.contexts is None
    records = detector_folder / "in.jsonl"
    records.write_text('{"text": "The two guides met."}\n{"text": "Then they left."}\n')
    assert main(["detect", str(records), "--model", str(detector_folder), "--format", "jsonl"]) == 0
    assert counting.contexts is None
    capsys.readouterr()
    # what is read alone is flagged at the head's threshold for text read alone (here: nothing at all)
    save_fusion(FusionHead(len(FEATURES), 8), FusionConfig(hidden=8, threshold=0.0, context=2, alone_threshold=2.0),
                detector_folder / "fused")

    def spans(*extra):
        assert main(["detect", *extra, "--model", str(detector_folder), "--format", "jsonl"]) == 0
        return [len(json.loads(line)["spans"]) for line in capsys.readouterr().out.splitlines()]

    assert all(spans(str(text)))
    assert spans(str(text), "--alone") == [0, 0] and spans(str(records)) == [0, 0]
