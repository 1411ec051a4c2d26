import json
import random

import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from mtfix.correct.rewriter import (
    Rewriter,
    RewriterConfig,
    detector_pairs,
    encode_pair,
    pairs_from_rows,
    prompt,
    save,
    sentence_pairs,
    sentence_target,
    target_loss,
    train,
)
from mtfix.training.common import minilm_dir


def tiny_lm():
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())  # any fast tokenizer will do; its [SEP] ends a fix
    tokenizer.eos_token = "[SEP]"
    model = LlamaForCausalLM(LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
    return model, tokenizer


def test_the_prompt_marks_the_span_and_an_insertion_point():
    marked = prompt("a pariad here", 2, 8)
    assert "Text: a [[pariad]] here" in marked and "Marked: pariad" in marked
    assert "Text: two [[]]leaders" in prompt("two leaders", 4, 4)


def test_pairs_keep_visible_mlqe_spans_and_add_keep_examples():
    rows = [{"text": "a pariad here", "source": "synthetic:non-word",
             "spans": [{"start": 2, "end": 8, "label": "non-word", "fix": "pariah"}]},
            {"text": "he go home", "source": "mlqe-pe:ro-en",
             "spans": [{"start": 3, "end": 5, "label": "morphology", "fix": "goes", "visible": True},
                       {"start": 6, "end": 10, "label": "meaning", "fix": "house", "visible": False}]},
            {"text": "all is well", "source": "clean:abc", "spans": []}]
    pairs = pairs_from_rows(rows, random.Random(0), keep_share=0.0)
    targets = sorted(t for _, t in pairs)
    assert "pariah" in targets and "goes" in targets and "house" not in targets
    assert any(t in ("all", "is", "well", "all is", "is well") for t in targets)  # the clean row: a keep example


def test_a_sentence_rewriter_learns_the_whole_row_with_what_the_span_rewriter_learns_fixed():
    rows = [{"text": "he go to the the house", "source": "mlqe-pe:ro-en",
             "spans": [{"start": 3, "end": 5, "label": "morphology", "fix": "goes", "visible": True},
                       {"start": 13, "end": 17, "label": "repetition", "fix": "", "visible": True},
                       {"start": 17, "end": 22, "label": "meaning", "fix": "home", "visible": False}]},
            {"text": "two leaders met", "source": "synthetic:dropped",
             "spans": [{"start": 12, "end": 12, "label": "dropped", "fix": "have "}]},
            {"text": "all is well", "source": "clean:abc", "spans": []}]
    # the invisible meaning change stays (no span pair teaches it either); the insertion carries its own space
    assert [sentence_target(r) for r in rows] == ["he goes to the house", "two leaders have met", "all is well"]
    pairs = sentence_pairs(rows)
    assert pairs[0] == (prompt(rows[0]["text"], 0, len(rows[0]["text"])), "he goes to the house")
    assert pairs[2][1] == "all is well" and "Text: [[all is well]]" in pairs[2][0]
    span_targets = {t for _, t in pairs_from_rows(rows[:2], random.Random(0), keep_share=0.0)}
    assert span_targets == {"goes", "", "have"}


def test_the_corrector_refuses_a_sentence_rewriters_adapters(tmp_path):
    from mtfix.correct.rewriter import RewriteCorrector
    from mtfix.errors import MtfixError

    (tmp_path / "rewriter.json").write_text(json.dumps({"task": "sentence"}))
    with pytest.raises(MtfixError, match="full-sentence rewriter"):
        RewriteCorrector.load(str(tmp_path))  # refused before any model is loaded


def test_detector_spans_teach_the_gold_fixes_inside_them_and_keep_a_false_flag():
    text = "the two guides met at one Explosion in Berlin"
    row = {"text": text, "source": "synthetic:pivot",
           "spans": [{"start": 8, "end": 14, "label": "pivot", "fix": "leaders"},
                     {"start": 22, "end": 35, "label": "article", "fix": "an explosion"},
                     {"start": 19, "end": 19, "label": "dropped", "fix": "up "}]}
    flags = [(4, 14),    # "two guides": the gold fix inside, its neighbour kept
             (15, 21),   # "met at": the insertion point inside it
             (36, 45),   # "in Berlin": a false flag, its words kept
             (26, 45)]   # "Explosion in Berlin": cuts "one Explosion" in two, left out
    pairs = detector_pairs([row], [flags])
    assert [(p.split("Marked: ")[1].split("\n")[0], t) for p, t in pairs] == [
        ("two guides", "two leaders"), ("met at", "met up at"), ("in Berlin", "in Berlin")]
    assert "Text: the [[two guides]] met" in pairs[0][0]


def test_training_lowers_the_target_loss_and_saved_adapters_reload_the_same(tmp_path):
    model, tokenizer = tiny_lm()
    pairs = [(prompt("a pariad here", 2, 8), "pariah"), (prompt("in one explosion", 3, 6), "an")] * 40
    eos = tokenizer.eos_token_id
    ids, start = encode_pair(tokenizer, *pairs[0], eos)
    batch = torch.tensor([ids])
    config = RewriterConfig(rank=4, alpha=8, lr=2e-2, batch_size=8, minutes=5, max_examples=240, seed=0, warmup=1)
    with torch.no_grad():
        before = target_loss(add_nothing(model), batch, torch.ones_like(batch), [start]).item()
    adapted = train(model, tokenizer, pairs, config, log=lambda _: None)
    with torch.no_grad():
        after = target_loss(adapted, batch, torch.ones_like(batch), [start]).item()
    assert after < before - 0.2 and config.examples_seen == 240 and config.steps == 30
    save(adapted, tmp_path / "rw", config)
    assert (tmp_path / "rw" / "adapter_model.safetensors").exists() and (tmp_path / "rw" / "rewriter.json").exists()
    first = Rewriter(adapted, tokenizer).nbest([("a pariad here", 2, 8), ("two leaders", 4, 4)], n=3)
    base, _ = tiny_lm()
    again = Rewriter.load(str(tmp_path / "rw"), base=base, tokenizer=tokenizer).nbest(
        [("a pariad here", 2, 8), ("two leaders", 4, 4)], n=3)
    assert len(first) == 2 and all(1 <= len(o) <= 3 for o in first)
    assert all(a[0] >= b[0] for o in first for a, b in [(o[i][1:], o[i + 1][1:]) for i in range(len(o) - 1)])
    assert [[t for t, _ in o] for o in first] == [[t for t, _ in o] for o in again]  # fp16 adapters: same choices


def add_nothing(model):
    """The base model seen through the same interface as an adapted one (get_base_model)."""
    class Plain:
        def get_base_model(self):
            return model
    return Plain()


def test_replacements_keep_the_spans_spacing_and_space_an_insertion():
    from mtfix.correct.rewriter import as_replacement, target_of

    def fixed(text, start, end, written):
        return text[:start] + as_replacement(text, start, end, written) + text[end:]

    assert fixed("X Y", 2, 2, "which") == "X which Y"          # before a word: "which " as the gold fix is written
    assert as_replacement("X Y", 2, 2, "which") == "which "
    assert fixed("It ends.", 7, 7, "here") == "It ends here."   # before punctuation: spaced from the word before
    assert fixed("a b b c", 3, 5, "") == "a b c"               # a repetition's " b" deleted with its space
    assert fixed("a non -involved b", 2, 15, "non-involved") == "a non-involved b"
    assert target_of("which ") == "which" and target_of("") == ""


def test_logprob_scores_what_the_beam_wrote_as_the_beam_did():
    model, tokenizer = tiny_lm()
    pairs = [(prompt("a pariad here", 2, 8), "pariah")] * 48
    config = RewriterConfig(rank=4, alpha=8, lr=2e-2, batch_size=8, minutes=5, max_examples=240, seed=0, warmup=1)
    rewriter = Rewriter(train(model, tokenizer, pairs, config, log=lambda _: None), tokenizer)
    item = ("a pariad here", 2, 8)
    (options,) = rewriter.nbest([item], n=3)
    forced = rewriter.logprob([item] * len(options), [t for t, _ in options])
    # the same sum of log-probabilities, its end included (options that ended within the beam's length)
    # every option's beam score is the log-probability of what it wrote, read again in one pass from the prompt
    assert len(options) == 3 and all(abs(f - s) < 1e-3 for (_, s), f in zip(options, forced))
    # read beside a longer prompt (left padding), the same options at the same scores
    batched = rewriter.nbest([("and so the long tale of a pariad went on here", 21, 27), item], n=3)[1]
    assert [t for t, _ in batched] == [t for t, _ in options]
    assert all(abs(a - b) < 1e-3 for (_, a), (_, b) in zip(batched, options))
    # the beam search that continues from the prompt's cached keys and values finds what transformers' own
    # beam search finds first, at the same score
    ids = torch.tensor([tokenizer(prompt(*item), add_special_tokens=False)["input_ids"]])
    with rewriter.adapted() as adapted:
        theirs = adapted.generate(input_ids=ids, attention_mask=torch.ones_like(ids), num_beams=3,
                                  num_return_sequences=3, do_sample=False, max_new_tokens=24, length_penalty=0.0,
                                  early_stopping=True, eos_token_id=tokenizer.eos_token_id,
                                  pad_token_id=tokenizer.eos_token_id, return_dict_in_generate=True,
                                  output_scores=True)
    assert abs(options[0][1] - theirs.sequences_scores[0].item()) < 1e-3
    assert [s for _, s in options] == sorted((s for _, s in options), reverse=True)
    # made to write at least three tokens (the benchmark's full-sentence rewrite), no option is shorter
    forced_long = rewriter.read([item]).nbest(2, max_new_tokens=6, min_new_tokens=3)[0]
    assert forced_long and all(len(tokenizer(t, add_special_tokens=False)["input_ids"]) >= 3 for t, _ in forced_long)
    # a long span (a clause to put back in order) can be rewritten at its own length: past the 24 tokens that
    # bound a short span's options
    words = " ".join(["leaders"] * 40)
    written = rewriter.read([(f"the {words} met", 4, 4 + len(words))]).nbest(1, min_new_tokens=36)[0]
    assert len(tokenizer(written[0][0], add_special_tokens=False)["input_ids"]) > 30


def test_training_can_go_on_from_saved_adapters(tmp_path):
    model, tokenizer = tiny_lm()
    pairs = [(prompt("a pariad here", 2, 8), "pariah")] * 32
    config = RewriterConfig(rank=4, alpha=8, lr=2e-2, batch_size=8, minutes=5, max_examples=32, seed=0, warmup=1)
    save(train(model, tokenizer, pairs, config, log=lambda _: None), tmp_path / "a", config)
    base, _ = tiny_lm()
    first = Rewriter.load(str(tmp_path / "a"), base=base, tokenizer=tokenizer)
    before = first.logprob([("a pariad here", 2, 8)], ["pariah"])[0]
    base, _ = tiny_lm()
    more = RewriterConfig(rank=4, alpha=8, lr=2e-2, batch_size=8, minutes=5, max_examples=64, seed=0, warmup=1,
                          init=str(tmp_path / "a"))
    trained = train(base, tokenizer, pairs, more, log=lambda _: None)
    after = Rewriter(trained, tokenizer).logprob([("a pariad here", 2, 8)], ["pariah"])[0]
    assert after > before + 0.1  # it went on from the saved adapters (a fresh start would be back near the base)
    save(trained, tmp_path / "b", more)
    record = json.loads((tmp_path / "b" / "rewriter.json").read_text())
    assert record["continued_from"]["examples_seen"] == 32 and record["examples_seen"] == 64


class _FakeLM:
    """Prefers texts that say "leaders"."""

    def logprob_groups(self, groups):
        return [[5.0 if "leaders" in t else 0.0 for t in group] for group in groups]


class _FakeGenerator:
    def siblings(self, word, limit=None):  # no dictionary: the pivot candidate below stands
        return []

    def for_word(self, text, tokens, i):
        from mtfix.detect.candidates import Candidate

        return [Candidate(tokens[i].start, tokens[i].end, "leaders", "pivot")]


def test_the_rewrite_corrector_ranks_the_rewriters_and_the_generators_options_against_keeping():
    from mtfix.correct.base import Rerank
    from mtfix.correct.rewriter import RewriteCorrector
    from mtfix.text.spans import Span

    model, tokenizer = tiny_lm()
    pairs = [(prompt("The two guides met.", 8, 14), "chiefs")] * 48
    config = RewriterConfig(rank=4, alpha=8, lr=3e-2, batch_size=8, minutes=5, max_examples=240, seed=0, warmup=1)
    rewriter = Rewriter(train(model, tokenizer, pairs, config, log=lambda _: None), tokenizer)
    text = "The two guides met."
    corrector = RewriteCorrector(rewriter, Rerank(s2s=0.0, lm=1.0, bias=-1.0, min_score=0.5, softmax=True),
                                 beams=2, lm=_FakeLM(), generator=_FakeGenerator())
    (found,) = corrector.candidates([text], [[Span(8, 14)]])
    (span, options), = found
    kinds = {o.replacement: o.kind for o in options}
    assert kinds.get("leaders") == "pivot" and kinds.get("chiefs") == "rewrite"  # both sources, no original
    assert "guides" not in kinds
    chiefs = next(o for o in options if o.replacement == "chiefs")
    assert chiefs.corrector_gain > 0  # the rewriter learnt it: likelier than writing the span unchanged
    (edits,) = corrector.correct([text], [[Span(8, 14)]])
    assert edits[0].replacement == "leaders"  # the LM's gain decides here (s2s weight 0): exp(4) / (1 + ...)
    corrector.rerank = Rerank(s2s=0.0, lm=0.0, bias=-3.0, min_score=0.5, softmax=True)
    corrector.min_score = 0.5
    assert corrector.correct([text], [[Span(8, 14)]]) == [[]]  # no option beats keeping the original
    # in a document that reads as translated both bars are the reranker's follow_score: each option here is
    # e^-3 / (1 + n e^-3), about 0.045 for n <= 3, against keeping the original
    corrector.follow_score = 0.04
    (edits,) = corrector.correct([text], [[Span(8, 14)]], translated=[True])
    assert len(edits) == 1 and 0.04 <= edits[0].score < 0.5
    assert corrector.correct([text], [[Span(8, 14)]], translated=[False]) == [[]]


def test_the_rewriter_shares_its_base_model_and_leaves_it_plain_for_the_scorer(tmp_path):
    from mtfix.correct.rewriter import RewriteCorrector
    from mtfix.detect.lm import LanguageModelScorer

    model, tokenizer = tiny_lm()
    pairs = [(prompt("a pariad here", 2, 8), "pariah")] * 48
    config = RewriterConfig(rank=4, alpha=8, lr=2e-2, batch_size=8, minutes=5, max_examples=96, seed=0, warmup=1)
    adapted = train(model, tokenizer, pairs, config, log=lambda _: None)
    save(adapted, tmp_path / "rw", config)
    alone = Rewriter(adapted, tokenizer).logprob([("a pariad here", 2, 8)], ["pariah"])
    base, _ = tiny_lm()
    scorer = LanguageModelScorer(base, tokenizer)
    texts = ["a pariah here", "two leaders met"]
    before = scorer.logprob(texts)
    corrector = RewriteCorrector.load(str(tmp_path / "rw"), lm=scorer)
    assert corrector.rewriter.model.get_base_model() is base and corrector.lm is scorer  # one model in memory
    shared = corrector.rewriter.logprob([("a pariad here", 2, 8)], ["pariah"])
    assert abs(shared[0] - alone[0]) < 1e-2  # the adapters on, for the rewriter
    assert scorer.logprob(texts) == before  # and off again for the scorer


def test_the_rewriters_guards_are_the_ones_that_still_prevent_wrong_edits():
    from mtfix.correct.guards import lm_window, unfounded
    from mtfix.correct.rewriter import guarded
    from mtfix.text.spans import Span

    def both(text, start, end, replacement):
        span = Span(start, end)
        window = lm_window(text, span)
        return guarded(text, span, replacement, window), unfounded(text, span, replacement, window)

    # a word order rewrite that leaves out a content word: the decoder's guard stops it, the rewriter's does not
    assert both("He has the deal yesterday signed.", 7, 32, "signed the deal") == (False, True)
    # codes, words in capitals and spelling conventions stay guarded for both
    assert both("Load 250px images now.", 5, 10, "250 pixel") == (True, True)
    assert both("The PNTCD said no.", 4, 9, "party") == (True, True)
    assert both("They organised it.", 5, 14, "organized") == (True, True)


def test_meaning_swap_rows_teach_the_original_word_from_unseen_clean_news():
    import datasets

    from mtfix.data.corrupt import Resources
    from mtfix.training.rewriter import swap_rows

    news = ["The two leaders discussed the plan on Monday.", "The minister signed the new deal in Berlin today.",
            "Officials said the talks would resume in the spring.", "The company reported higher profits this year."]
    split = datasets.Dataset.from_dict({
        "source": ["clean:abc-rural"] * 4 + ["synthetic:pivot", "clean:wikipedia"],
        "text": news + ["The two guides discussed the plan on Monday.", "Wikipedia sentences are never drawn here."]})
    siblings = {"leaders": {"guides": 1.0}, "signed": {"drew": 1.0}, "talks": {"conversations": 1.0},
                "profits": {"gains": 1.0}, "plan": {"map": 1.0}, "deal": {"trade": 1.0}}
    res = Resources(lambda w: siblings.get(w, {}), lambda w: 4.0 if w.isalpha() else 0.0)

    def plausible(prefix):
        return [("cancelled", 0.6), ("opposed", 0.4)]

    rows = swap_rows(split, 3, 0, [news[3]], plausible, resources=res)
    assert [r["source"] for r in rows] == ["synthetic:pivot", "synthetic:lm-plausible", "synthetic:pivot"]
    for row in rows:
        (span,) = row["spans"]
        fixed = row["text"][:span["start"]] + span["fix"] + row["text"][span["end"]:]
        assert fixed == row["reference"] and row["reference"] in news[:3]  # never the taken row's sentence
        assert row["text"][span["start"]:span["end"]] != span["fix"]
    pairs = pairs_from_rows(rows, random.Random(0), 0.0)
    assert sorted(t for _, t in pairs) == sorted(r["spans"][0]["fix"] for r in rows)  # the original word


def test_train_rewriter_refuses_a_negative_count_in_one_line(tmp_path, capsys):
    from mtfix.training.rewriter import main

    with pytest.raises(SystemExit) as ended:
        main(["--data", str(tmp_path), "--out", str(tmp_path / "out"), "--swaps", "-1"])
    assert ended.value.code == 2
    assert "--swaps must be 0 or more, got -1" in capsys.readouterr().err
