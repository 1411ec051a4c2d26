import copy

import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from mtfix.detect.lm import LanguageModelScorer, LMDetector
from mtfix.text.tokens import tokenize
from mtfix.training.common import minilm_dir


@pytest.fixture(scope="module")
def tiny_scorer():
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())  # any fast tokenizer with offsets will do
    model = LlamaForCausalLM(LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
    return LanguageModelScorer(model.eval(), tokenizer, batch_size=2)


def test_word_scores_line_up_with_mtfix_tokens(tiny_scorer):
    texts = ["The Russia’s state media, non -involved.", "", "projectsWhich could lead to 2½-hour calls"]
    scores = tiny_scorer.score(texts)
    assert len(scores) == 3
    for text, ws in zip(texts, scores):
        assert [t.text for t in ws.tokens] == [t.text for t in tokenize(text)]
        assert len(ws.surprisal) == len(ws.tokens) == len(ws.entropy)
        assert all(s > 0 for s in ws.surprisal)  # every word got at least one LM token


def test_batching_does_not_change_scores(tiny_scorer):
    texts = ["a short one", "a much longer sentence with many more words in it than the first"]
    together = tiny_scorer.score(texts)
    alone = [tiny_scorer.score([t])[0] for t in texts]
    for a, b in zip(together, alone):
        assert a.surprisal == pytest.approx(b.surprisal, abs=1e-4)


def test_lm_detector_threshold_in_nats(tiny_scorer):
    detector = LMDetector(tiny_scorer, threshold=0.0)
    (spans,) = detector.detect(["one two three"])
    assert len(spans) == 3 and all(0 < s.score <= 1 for s in spans)
    assert LMDetector(tiny_scorer, threshold=1.01).detect(["one two three"]) == [[]]


def test_real_smollm2_prefers_the_right_sense():
    """The shipped wheel, loaded offline (dequantised once into the user cache)."""
    scorer = LanguageModelScorer()
    guides, leaders = scorer.score(["The two guides discussed the need to improve relations.",
                                    "The two leaders discussed the need to improve relations."])
    assert guides.surprisal[2] > leaders.surprisal[2] + 1.0


def test_logprob_is_the_sum_of_token_log_probabilities_and_prefers_the_fix():
    scorer = LanguageModelScorer()
    texts = ["The two leaders discussed the plan.", "The two guides discussed the plan.", "Hi"]
    a, b, c = scorer.logprob(texts)
    assert a > b and c < 0
    # batching does not change the numbers
    assert scorer.logprob(texts[:1], batch_size=1)[0] == pytest.approx(a, abs=0.3)


def test_logprob_groups_reuses_the_shared_start_and_gives_logprob(tiny_scorer):
    window = "the two guides discussed the need to improve relations between them"
    options = ["guides", "leaders", "", "guide"]
    span_group = [window] + [window.replace("guides ", f"{o} " if o else "") for o in options]
    groups = [span_group, ["short", "short text with more words"], ["alone"], [], ["", "not empty"]]
    grouped = tiny_scorer.logprob_groups(groups, batch_size=4)  # more texts than one batch: several chunks
    assert [len(g) for g in grouped] == [5, 2, 1, 0, 2]
    for group, values in zip(groups, grouped):
        assert values == pytest.approx([tiny_scorer.logprob([t])[0] for t in group], abs=1e-4)
    # the original and its own text as an option score alike; a different text does not
    assert grouped[0][0] == pytest.approx(grouped[0][1], abs=1e-5) and grouped[0][2] != pytest.approx(grouped[0][0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_word_scores_are_those_of_the_whole_output_distribution(tiny_scorer, dtype):
    """The scorer reads the output layer a few positions at a time and each candidate's logit alone; surprisal,
    entropy, rank and contrast are still those of the full log-softmax over the vocabulary."""
    from mtfix.detect.candidates import Candidate

    scorer = LanguageModelScorer(copy.deepcopy(tiny_scorer.model).to(dtype), tiny_scorer.tokenizer)
    text = "the two guides discussed the need to improve relations"
    def swap(t, tokens, s):
        return [[Candidate(w.start, w.end, "leaders", "pivot")] if w.text == "guides" else [] for w in tokens]
    (got,) = scorer.score([text], swap)
    ids = [scorer.bos] + scorer.tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logp = scorer.model(input_ids=torch.tensor([ids])).logits[0, :-1].float().log_softmax(-1)
    assert got.pieces == [1] * 9  # one LM token a word: word k is LM token k
    target = logp.gather(1, torch.tensor(ids[1:])[:, None]).squeeze(1)
    assert got.surprisal == pytest.approx((-target).tolist(), abs=1e-4)
    assert got.entropy == pytest.approx((-(logp.exp() * logp).sum(1)).tolist(), abs=1e-3)
    assert got.log_rank == pytest.approx(torch.log1p((logp > target[:, None]).sum(1).double()).tolist())
    leaders = scorer.tokenizer("leaders", add_special_tokens=False)["input_ids"][0]
    ((cand, value),) = got.contrast[2]
    assert cand.replacement == "leaders" and value == pytest.approx(float(logp[2, leaders] - target[2]), abs=1e-4)
    assert all(not c for k, c in enumerate(got.contrast) if k != 2)


def test_token_stats_do_not_depend_on_how_the_rows_are_cut(tiny_scorer):
    torch.manual_seed(1)
    states, targets = torch.randn(23, 32), torch.randint(0, tiny_scorer.tokenizer.vocab_size, (23,))
    with torch.inference_mode():
        logp = tiny_scorer.model.get_output_embeddings()(states).log_softmax(-1)
        whole = tiny_scorer._token_stats(states, targets)
        cut = tiny_scorer._token_stats(states, targets, block=5, chunk=2)  # blocks and chunks that end mid-way
    target = logp.gather(1, targets[:, None]).squeeze(1)
    for got in (whole, cut):
        assert (got[0] - got[1]).tolist() == pytest.approx(target.tolist(), abs=1e-5)
        assert got[2].tolist() == pytest.approx((-(logp.exp() * logp).sum(1)).tolist(), abs=1e-4)
        assert got[3].tolist() == (logp > target[:, None]).sum(1).tolist()


def test_token_ids_are_the_tokenizers_own(tiny_scorer):
    texts = ["Russia launched his invasion", "", "energy projectsWhich , the   White House’s"]
    expected = tiny_scorer.tokenizer(texts, add_special_tokens=False)["input_ids"]
    # the tiny tokenizer pads (the wrapper's path); without padding and truncation its own encoder is called
    plain = copy.deepcopy(tiny_scorer.tokenizer)
    plain.backend_tokenizer.no_padding()
    plain.backend_tokenizer.no_truncation()
    direct = LanguageModelScorer(model=tiny_scorer.model, tokenizer=plain)
    assert tiny_scorer.token_ids(texts) == expected and direct.token_ids(texts) == expected
    assert tiny_scorer.token_ids([]) == []


def test_top_tokens_are_the_likeliest_of_the_rows_asked_for(tiny_scorer):
    torch.manual_seed(2)
    states = torch.randn(9, 32)
    with torch.inference_mode():
        logits = tiny_scorer.model.get_output_embeddings()(states)
        got = tiny_scorer._top_tokens(states, [7, 2, 4], 5, block=2)  # a block that ends mid-way
    assert got == [logits[r].topk(5).indices.tolist() for r in (7, 2, 4)]
    assert tiny_scorer._top_tokens(states, [], 5) == []


def test_full_contrast_is_the_windows_log_probability_with_the_candidate_less_with_the_word(tiny_scorer):
    from mtfix.detect.candidates import Candidate
    from mtfix.detect.lm import FullContrast

    texts = ["the two guides discussed the need to improve relations", "guides met", "a short one here"]

    def candidates(text, tokens, surprisal):
        return [[Candidate(t.start, t.end, "leaders", "pivot")] if t.text == "guides" else [] for t in tokens]

    full = FullContrast(screen_nats=0.0, related=1, choices=1, right=3)
    scores = tiny_scorer.score(texts, candidates, full)
    for text, ws in zip(texts, scores):
        assert len(ws.full) == len(ws.tokens)
        for tok, (related, choice), (cand, _) in zip(ws.tokens, ws.full, ws.full_best):
            assert choice is None  # the MiniLM word pieces carry no leading space: the LM's choices need one
            if tok.text != "guides":
                assert related is None
                continue
            # the window: the word and the three LM tokens after it (one word each here), scored whole
            words = text.split()
            k = words.index("guides")
            before, after = " ".join(words[:k + 4]), " ".join(words[:k] + ["leaders"] + words[k + 1:k + 4])
            expected = tiny_scorer.logprob([after])[0] - tiny_scorer.logprob([before])[0]
            assert cand.replacement == "leaders"
            assert related == pytest.approx(expected, abs=1e-3)
    # batching does not change the values
    alone = [tiny_scorer.score([t], candidates, full)[0].full for t in texts]
    for a, b in zip(alone, scores):
        assert [x[0] for x in a] == pytest.approx([x[0] for x in b.full], abs=1e-4)
    # without FullContrast nothing of it is computed
    assert tiny_scorer.score(texts[:1], candidates)[0].full == []


def test_real_smollm2_full_contrast_finds_the_word_the_sentence_wanted():
    """The language model's own choice, scored with the right context, names the round trip's "dynamics"."""
    from mtfix.detect.lm import FullContrast

    scorer = LanguageModelScorer()
    (ws,) = scorer.score(["The party is gaining dynamics ahead of the election."], None, FullContrast())
    k = [t.text for t in ws.tokens].index("dynamics")
    assert ws.full_best[k][1] == "momentum" and ws.full[k][1] > 5.0
    assert ws.full[k][0] is None  # no candidate function: no related candidate


def test_a_context_is_read_first_and_only_the_texts_words_are_scored(tiny_scorer):
    from mtfix.detect.candidates import Candidate
    from mtfix.detect.lm import FullContrast

    texts = ["the two guides discussed the need", "guides met here", "a short one"]
    contexts = ["The leaders of both parties met on Monday.", "", "An earlier line. And another one."]

    def candidates(text, tokens, surprisal):
        return [[Candidate(t.start, t.end, "leaders", "pivot")] if t.text == "guides" else [] for t in tokens]

    full = FullContrast(screen_nats=0.0, related=1, choices=0, right=2)
    read = tiny_scorer.score(texts, candidates, full, contexts)
    for text, context, ws in zip(texts, contexts, read):
        assert [t.text for t in ws.tokens] == [t.text for t in tokenize(text)]
        joined = f"{context}\n{text}" if context else text
        (whole,) = tiny_scorer.score([joined], candidates, full)
        own = len(whole.tokens) - len(ws.tokens)  # the joined text's last words are the text's
        assert ws.surprisal == pytest.approx(whole.surprisal[own:], abs=1e-4)
        assert [c for c, _ in ws.full] == pytest.approx([c for c, _ in whole.full[own:]], abs=1e-4)
        contrast = [[v for _, v in found] for found in ws.contrast]
        assert contrast == [pytest.approx([v for _, v in found], abs=1e-4) for found in whole.contrast[own:]]
    # the context changes what the text's words score; no context is the text alone
    alone = tiny_scorer.score(texts, candidates, full)
    assert read[0].surprisal != pytest.approx(alone[0].surprisal, abs=1e-4)
    assert read[1].surprisal == pytest.approx(alone[1].surprisal, abs=1e-4)
    with pytest.raises(ValueError):
        tiny_scorer.score(texts, contexts=contexts[:2])


def test_the_lm_runs_in_bf16_only_where_the_cpu_computes_it_natively(monkeypatch):
    import pytest
    import torch

    from mtfix.detect.lm import lm_dtype
    from mtfix.errors import InputError

    monkeypatch.delenv("MTFIX_LM_DTYPE", raising=False)
    for native, dtype in ((True, torch.bfloat16), (False, torch.float32)):
        monkeypatch.setattr("mtfix.device.native_bf16", lambda native=native: native)
        assert lm_dtype() == dtype
    monkeypatch.setenv("MTFIX_LM_DTYPE", "bf16")
    assert lm_dtype() == torch.bfloat16  # asked for, it is used even where it is emulated
    monkeypatch.setenv("MTFIX_LM_DTYPE", "fp16")
    with pytest.raises(InputError, match="MTFIX_LM_DTYPE must be fp32 or bf16"):
        lm_dtype()


def test_the_journal_key_holds_the_precision(monkeypatch):
    from mtfix.clean import CleanConfig

    monkeypatch.setenv("MTFIX_LM_DTYPE", "fp32")
    fp32 = CleanConfig(input="x", output="y").settings()
    monkeypatch.setenv("MTFIX_LM_DTYPE", "bf16")
    bf16 = CleanConfig(input="x", output="y").settings()
    assert fp32["precision"].endswith("lm float32") and bf16["precision"].endswith("lm bfloat16")
