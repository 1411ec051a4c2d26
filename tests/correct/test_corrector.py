import math
import random
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from mtfix.correct.base import Option, Rerank
from mtfix.correct.guards import deletion_extent
from mtfix.correct.seq2seq import (
    INSERT,
    INSIDE,
    CorrectorConfig,
    SpanCorrector,
    beam_search,
    sequence_logprob,
    teacher_batch,
)
from mtfix.correct.span_decoder import Corrector, Pieces, TaggerEncoder, span_input
from mtfix.detect.tagger import TaggerDetector
from mtfix.text.spans import Span, apply_edits
from mtfix.training.common import minilm_dir
from mtfix.training.span_decoder import batch_memory, prepare, span_examples, train_pieces

from ..conftest import CLEAN
from ..detect.test_tagger import tiny_model

CORPUS = [s.replace("number", w) for s in CLEAN for w in ("one", "two", "the leaders", "an explosion")] + [
    "The two leaders discussed the need to improve relations.", "In one explosion, the factory burned down.",
    "Their projects, which began in 2019, were approved.", "She resigned her post last week."]


@pytest.fixture(scope="session")
def pieces(tmp_path_factory) -> Pieces:
    return train_pieces(iter(CORPUS * 20), tmp_path_factory.mktemp("pieces"), vocab_size=400)


@pytest.fixture(scope="session")
def tagger_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tagger")
    tiny_model().save_pretrained(path)
    AutoTokenizer.from_pretrained(minilm_dir()).save_pretrained(path)
    return path


def tiny_corrector(pieces: Pieces, seed: int = 0) -> SpanCorrector:
    torch.manual_seed(seed)
    config = CorrectorConfig(vocab_size=pieces.size, d_model=32, layers=1, heads=2, ffn=64, dropout=0.0,
                             sep_id=pieces.sep_id)
    return SpanCorrector(config)


@pytest.fixture
def encoder(tagger_dir) -> TaggerEncoder:
    return TaggerEncoder.load(str(tagger_dir))


def test_pieces_give_back_every_character(pieces):
    for text in ["in one Explosion", "non -involved", "projectsWhich  two  spaces", "naïve café – “quoted”", ""]:
        assert pieces.decode(pieces.encode(text)) == text


def test_span_input_marks_the_span_subwords_and_insertion_points(encoder):
    text = "The two guides discussed it. Then they left."
    inputs = encoder.inputs(text)
    assert len(inputs) == 2  # sentence by sentence, as the tagger reads
    k, positions, mark = span_input(inputs, text, 8, 14)  # "guides"
    assert (k, mark) == (0, INSIDE)
    assert encoder.tokenizer.decode([inputs[0].input_ids[p] for p in positions]).replace(" ", "") == "guides"
    k, positions, mark = span_input(inputs, text, 29, 29)  # before "Then"
    assert (k, mark) == (1, INSERT)
    assert encoder.tokenizer.decode([inputs[1].input_ids[positions[0]]]) == "then"
    k, positions, mark = span_input(inputs, text, len(text), len(text))  # at the very end
    assert (k, mark, positions) == (1, INSERT, [len(inputs[1].input_ids) - 1])


def test_teacher_batch_takes_loss_on_the_replacement_and_eos_only(pieces):
    config = CorrectorConfig(vocab_size=pieces.size, sep_id=pieces.sep_id)
    ids, labels = teacher_batch(config, [[10, 11]], [[20]])
    assert ids[0].tolist() == [config.bos_id, 10, 11, config.sep_id, 20, config.eos_id]
    assert labels[0].tolist() == [-100, -100, -100, 20, config.eos_id, -100]


def test_beam_scores_equal_teacher_forced_scores(pieces, encoder):
    """The n-best's log-probabilities are those of the same sequences scored by teacher forcing."""
    model = tiny_corrector(pieces).eval()
    text = "The two guides discussed it."
    inputs = encoder.inputs(text)
    states = encoder.states(inputs)
    k, positions, mark = span_input(inputs, text, 8, 14)
    marks = torch.zeros(1, len(inputs[0].input_ids), dtype=torch.long)
    marks[0, positions] = mark
    with torch.inference_mode():
        memory = model.memory(states[0].float().unsqueeze(0), marks)
        mask = torch.ones_like(marks)
        original = pieces.encode("guides")
        nbest = beam_search(model, memory, mask, [original], beams=3, max_new=5)[0]
        assert 1 <= len(nbest) <= 3
        assert [lp for _, lp in nbest] == sorted((lp for _, lp in nbest), reverse=True)
        forced = sequence_logprob(model, memory.expand(len(nbest), -1, -1), mask.expand(len(nbest), -1),
                                  [original] * len(nbest), [ids for ids, _ in nbest])
    assert forced.tolist() == pytest.approx([lp for _, lp in nbest], abs=1e-3)


def test_the_decoder_learns_span_fixes_from_marked_states(pieces, encoder):
    """A few hundred steps on a toy task: the marked span, not its neighbours, is what gets rewritten."""
    rows = [{"text": "The two guides discussed it.", "source": "synthetic:pivot",
             "spans": [{"start": 8, "end": 14, "label": "pivot", "fix": "leaders", "visible": True}]},
            {"text": "It was in one Explosion here.", "source": "synthetic:casing",
             "spans": [{"start": 14, "end": 23, "label": "casing", "fix": "explosion", "visible": True}]}]
    examples = span_examples(rows, random.Random(0), identity_share=1.0)
    assert {e.kind for e in examples} == {"pivot", "casing", "keep"}
    keeps = [e for e in examples if e.kind == "keep"]
    assert all(rows[e.segment]["text"][e.start:e.end] == e.target for e in keeps)
    prepared = prepare(rows, examples, encoder, pieces, log=lambda m: None)
    model = tiny_corrector(pieces, seed=1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    idx = list(range(len(prepared.examples)))
    for _ in range(150):
        memory, mask = batch_memory(model, prepared, idx)
        ids, labels = teacher_batch(model.config, [prepared.originals[i] for i in idx],
                                    [prepared.targets[i] for i in idx])
        logits = model.decode(memory, mask, ids)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1),
                                                 ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.inference_mode():
        memory, mask = batch_memory(model, prepared, idx)
        nbest = beam_search(model, memory, mask, [prepared.originals[i] for i in idx], beams=2)
    assert [pieces.decode(n[0][0]) for n in nbest] == [e.target for e in prepared.examples]


def test_deletion_takes_one_neighbouring_space():
    assert deletion_extent("the the cat", 4, 7) == (4, 8)
    assert deletion_extent("a cat the.", 6, 9) == (5, 9)
    assert deletion_extent("the cat", 0, 3) == (0, 4)
    assert deletion_extent("x", 0, 1) == (0, 1)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_text_outside_edits_never_changes(corrector_for_property, data):
    corrector = corrector_for_property
    words = data.draw(st.lists(st.sampled_from(["the", "two", "guides", "Explosion", ",", "projectsWhich", "café"]),
                               min_size=1, max_size=12))
    text = " ".join(words)
    bounds = sorted(data.draw(st.sets(st.integers(0, len(words)), min_size=2, max_size=4)))
    starts = [len(" ".join(words[:b])) + (1 if b else 0) for b in bounds]
    spans = [Span(min(a, len(text)), min(max(a, b - 1), len(text))) for a, b in zip(starts, starts[1:])]
    (edits,) = corrector.correct([text], [spans])
    fixed = apply_edits(text, edits)
    cursor, kept = 0, []
    for e in sorted(edits, key=lambda e: e.start):
        kept.append(text[cursor:e.start])
        cursor = e.end
    kept.append(text[cursor:])
    rest = fixed
    for piece in kept:  # every untouched stretch appears, in order, in the fixed text
        assert piece in rest
        rest = rest[rest.index(piece) + len(piece):]


@pytest.fixture(scope="module")
def corrector_for_property(tmp_path_factory):
    path = tmp_path_factory.mktemp("pieces2")
    p = train_pieces(iter(CORPUS * 20), path, vocab_size=400)
    tagger = TaggerDetector.load(str(_tagger(tmp_path_factory)))
    return Corrector(tiny_corrector(p), p, TaggerEncoder(tagger.model, tagger.tokenizer), beams=2, min_score=0.0)


def _tagger(factory) -> Path:
    path = factory.mktemp("tagger2")
    tiny_model().save_pretrained(path)
    AutoTokenizer.from_pretrained(minilm_dir()).save_pretrained(path)
    return path


def test_min_score_gates_edits_and_alternatives_are_other_options(pieces, encoder):
    corrector = Corrector(tiny_corrector(pieces), pieces, encoder, beams=4, min_score=0.0)
    text = "The two guides discussed it."  # a function word: the untrained decoder's options are noise, and
    (edits,) = corrector.correct([text], [[Span(0, 3)]])  # on a content word they would be filtered as such
    assert len(edits) == 1 and edits[0].replacement != "The"
    assert edits[0].replacement not in edits[0].alternatives
    corrector.min_score = 1.0
    assert corrector.correct([text], [[Span(0, 3)]]) == [[]]


def test_detection_and_correction_share_one_encoder_pass(pieces, tagger_dir):
    tagger = TaggerDetector.load(str(tagger_dir), threshold=0.0)
    encoder = TaggerEncoder(tagger.model, tagger.tokenizer)
    corrector = Corrector(tiny_corrector(pieces), pieces, encoder, beams=2, min_score=0.0)
    texts = ["The two guides discussed it. In one Explosion.", "All fine here."]
    spans = [[Span(8, 14), Span(36, 45)], [Span(0, 3)]]
    alone = corrector.correct(texts, spans)
    tagger.share = encoder.shared
    tagger.detect(texts)
    assert set(encoder.shared) == set(texts)

    def no_second_pass(*args, **kwargs):
        raise AssertionError("the encoder ran again")

    encoder.states = no_second_pass
    assert corrector.correct(texts, spans) == alone
    assert not encoder.shared  # what was used is let go


class FakeLM:
    """Prefers texts that say "leaders"."""

    def logprob(self, texts):
        return [5.0 if "leaders" in t else 0.0 for t in texts]

    def logprob_groups(self, groups):
        return [self.logprob(group) for group in groups]


class FakeGenerator:
    def for_word(self, text, tokens, i):
        from mtfix.detect.candidates import Candidate

        return [Candidate(tokens[i].start, tokens[i].end, "leaders", "pivot")]


def test_reranking_adds_generator_candidates_scored_by_the_lm(pieces, encoder):
    rerank = Rerank(s2s=0.0, lm=1.0, kinds={"pivot": 0.5}, bias=-1.0, min_score=0.5, length=0.0)
    corrector = Corrector(tiny_corrector(pieces), pieces, encoder, beams=2, rerank=rerank, lm=FakeLM(),
                          generator=FakeGenerator())
    text = "The two guides discussed it."
    (found,) = corrector.candidates([text], [[Span(8, 14)]])
    (span, options), = found
    pivot = [o for o in options if o.kind == "pivot"]
    assert [o.replacement for o in pivot] == ["leaders"] and pivot[0].lm_gain == 5.0
    (edits,) = corrector.correct([text], [[Span(8, 14)]])
    assert edits[0].replacement == "leaders"
    assert edits[0].score == pytest.approx(torch.sigmoid(torch.tensor(4.5)).item(), abs=1e-6)


def test_choose_without_rerank_uses_the_calibrated_gain(pieces, encoder):
    model = tiny_corrector(pieces)
    model.config.edit_temperature, model.config.edit_bias = 2.0, -1.0
    corrector = Corrector(model, pieces, encoder)
    ranked = corrector.choose([Option("a", "nbest", 1.0), Option("b", "nbest", 6.0)])
    assert [o.replacement for o, _ in ranked] == ["b", "a"]
    assert ranked[0][1] == pytest.approx(torch.sigmoid(torch.tensor(2.0)).item())


def test_saved_corrector_loads_and_gives_the_same_edits(pieces, tagger_dir, tmp_path):
    import shutil

    model = tiny_corrector(pieces)
    model.save_pretrained(tmp_path)
    shutil.copy(pieces.path, tmp_path / "pieces.model")
    text = "The two guides discussed it."
    encoder = TaggerEncoder.load(str(tagger_dir))
    before = Corrector(model, pieces, encoder, min_score=0.0).correct([text], [[Span(8, 14)]])
    after = Corrector.load(str(tmp_path), tagger_path=str(tagger_dir), min_score=0.0).correct([text], [[Span(8, 14)]])
    assert [(e.start, e.end, e.replacement) for e in after[0]] == [(e.start, e.end, e.replacement) for e in before[0]]


def test_a_narrower_decoder_reads_the_encoder_through_a_bridge(pieces, encoder):
    """d_model below the encoder's width: states are projected (training batches and correction alike)."""
    torch.manual_seed(0)
    config = CorrectorConfig(vocab_size=pieces.size, d_model=16, layers=1, heads=2, ffn=32, dropout=0.0,
                             sep_id=pieces.sep_id, min_score=0.0, encoder_hidden=encoder.hidden)
    model = SpanCorrector(config)
    assert model.bridge is not None and model.bridge.in_features == encoder.hidden
    rows = [{"text": "The two guides discussed it.", "source": "synthetic:pivot",
             "spans": [{"start": 8, "end": 14, "label": "pivot", "fix": "leaders", "visible": True}]}]
    prepared = prepare(rows, span_examples(rows, random.Random(0), 0.0), encoder, pieces, log=lambda m: None)
    memory, _ = batch_memory(model, prepared, [0])
    assert memory.shape[-1] == 16
    # correction runs through the bridge too (the untrained decoder's options themselves are noise)
    (found,) = Corrector(model, pieces, encoder, beams=2).candidates(["The two guides discussed it."], [[Span(8, 14)]])
    ((span, options),) = found
    assert (span.start, span.end) == (8, 14) and all(isinstance(o.replacement, str) for o in options)


def test_softmax_rerank_weighs_each_option_against_keeping(pieces, encoder):
    """Conditional logit: keeping the original is the choice with z = 0, so two equally good options share the
    probability and neither reaches a threshold that one alone would."""
    rerank = Rerank(s2s=0.0, lm=1.0, bias=0.0, softmax=True)
    corrector = Corrector(tiny_corrector(pieces), pieces, encoder, rerank=rerank)
    ranked = corrector.choose([Option("a", "nbest", 0.0, lm_gain=math.log(2.0)),
                               Option("b", "nbest", 0.0, lm_gain=math.log(6.0))])
    assert [o.replacement for o, _ in ranked] == ["b", "a"]
    assert [p for _, p in ranked] == pytest.approx([6 / 9, 2 / 9])
    alone = corrector.choose([Option("b", "nbest", 0.0, lm_gain=math.log(6.0))])
    assert alone[0][1] == pytest.approx(6 / 7)


def test_option_traits_tell_non_words_and_near_spellings():
    from mtfix.correct.base import option_traits

    options = [Option("pariah", "spelling", 0.0, lm_gain=4.0), Option("party", "nbest", 0.0, lm_gain=1.0)]
    option_traits("pariad", options)
    near, far = options
    assert near.traits["oov"] == 1.0 and near.traits["oov_capital"] == 0.0
    assert near.traits["similar"] > far.traits["similar"]
    assert near.traits["lm_best"] == 1.0 and far.traits["lm_best"] == 0.0
    assert near.traits["lm_margin"] == pytest.approx(3.0)
    known = [Option("Leaders", "case", 0.0, lm_gain=-1.0)]
    option_traits("leaders", known)
    assert known[0].traits["oov"] == 0.0 and known[0].traits["case_only"] == 1.0 and known[0].traits["lm_best"] == 0.0


def test_rerank_reads_the_trait_weights():
    option = Option("x", "nbest", 0.0, traits={"oov": 1.0, "similar": 0.5})
    assert Rerank(bias=-1.0, traits={"oov": 2.0, "similar": 4.0}).z(option) == pytest.approx(3.0)


def test_lost_counts_content_words_an_option_drops_unless_repeated_nearby():
    from mtfix.correct.guards import span_traits

    text = "They met the the leaders of pallavaraya plebiscite fame."
    repeat = [Option("", "nbest", 0.0)]
    span_traits(text, Span(9, 13), repeat)  # "the " before "the leaders": the other "the" stays
    assert repeat[0].traits["lost"] == 0.0 and repeat[0].traits["deletion"] == 1.0
    garble = [Option("", "nbest", 0.0), Option("Pa", "nbest", 0.0), Option("pallavaraya plebiscites", "nbest", 0.0)]
    span_traits(text, Span(29, 51), garble)
    assert [o.traits["lost"] for o in garble] == [2.0, 2.0, 0.0]
    assert garble[1].traits["char_ratio"] < -2 and garble[2].traits["char_ratio"] > 0


def test_repeat_and_inner_lower_traits():
    from mtfix.correct.guards import repeats, sentence_initial, span_traits

    text = "Talks in Berlin in Berlin ended. Explosion hit the port in one Explosion."
    assert repeats(text, Span(15, 25)) and repeats(text, Span(6, 15))  # " in Berlin", either copy
    assert not repeats(text, Span(26, 31))
    options = [Option("", "nbest", 0.0), Option(" in Paris", "pivot", 0.0)]
    span_traits(text, Span(15, 25), options)
    assert [o.traits["repeat"] for o in options] == [1.0, 0.0]
    assert sentence_initial(text, 0) and sentence_initial(text, 33) and not sentence_initial(text, 63)
    inner, initial = [Option("explosion", "case", 0.0)], [Option("explosion", "case", 0.0)]
    span_traits(text, Span(63, 72), inner)
    span_traits(text, Span(33, 42), initial)
    assert inner[0].traits["inner_lower"] == 1.0 and initial[0].traits["inner_lower"] == 0.0
    assert inner[0].traits["repeat"] == 0.0


def test_lm_window_stays_in_the_sentence_and_caps_the_words_before():
    from mtfix.correct.guards import lm_window

    text = "First sentence here. " + " ".join(f"w{i}" for i in range(40)) + " target word after. Next one."
    start = text.index("target")
    lo, hi = lm_window(text, Span(start, start + 6), left=5, right=2)
    assert text[lo:hi] == "w35 w36 w37 w38 w39 target word after"


def test_options_that_delete_meaning_are_never_proposed(pieces, encoder):
    from mtfix.correct.guards import loses_content

    text = "There are more than 40 separate regional kitchens in the the country."
    start = text.index("regional")
    assert loses_content(text, Span(start, start + len("regional kitchens")), "")
    assert loses_content(text, Span(start, start + len("regional kitchens")), "kitchens")  # "regional" is gone
    assert not loses_content(text, Span(text.index("the the"), text.index("the the") + 4), "")  # a repetition
    assert not loses_content(text, Span(start, start + 8), "local")  # a swap keeps the word count

    class Deleter:
        def for_word(self, text, tokens, i):
            from mtfix.detect.candidates import Candidate

            return [Candidate(tokens[i].start, tokens[i].end, "", "article"),
                    Candidate(tokens[i].start, tokens[i].end, "local", "pivot")]

    corrector = Corrector(tiny_corrector(pieces), pieces, encoder, beams=2, rerank=Rerank(), lm=FakeLM(),
                          generator=Deleter())
    (found,) = corrector.candidates([text], [[Span(start, start + 8)]])
    (span, options), = found
    assert "local" in [o.replacement for o in options] and "" not in [o.replacement for o in options]


def test_stubs_and_spelling_conventions_are_never_proposed(pieces, encoder):
    from mtfix.correct.guards import is_stub, misreads, spelling_variant, unfounded

    assert is_stub("PikabuPolitics", "Pa") and is_stub("manoeuvre", "man") and is_stub("vanhoutta", "max")
    assert not is_stub("pariad", "pariah") and not is_stub("confidanteled", "confidant")
    assert not is_stub("thethe", "the") and not is_stub("the the", "the")  # a doubling undone, a repetition
    assert not is_stub("projectsWhich", "projects which") and not is_stub("Explosion", "explosion")
    assert is_stub("mosasaur's cutthroat", "mour") and is_stub("Brahmapura Brahmapura", "ur")  # several words
    assert not is_stub("sea belonged sea belonged", "sea belonged") and not is_stub("his the", "its")
    assert not is_stub("in one Explosion", "in an explosion")
    # punctuation kept is no word kept; a word kept is
    assert is_stub("na imperfecta, na imperfecta", "nafe, ") and not is_stub("na imperfecta, na imperfecta", "na, ")
    # guesses at a word the decoder cannot read (not in the lexicon, the replacement not like it), unlike real fixes
    assert misreads("churtumas", "church") and misreads("newindriani", "nether") and misreads("tatong", "explore")
    assert not misreads("pariad", "pariah") and not misreads("confidanteled", "confidant")
    assert not misreads("leaders", "guides") and not misreads("Explosion", "explosion")  # known words: not this rule
    assert not misreads("projectsWhich", "projects which") and not misreads("pariad", "")  # two words, a deletion
    assert unfounded("farmers in churtumas receive", Span(11, 20), "church")
    assert not unfounded("There was a pariad in some circles.", Span(12, 18), "pariah")
    assert spelling_variant("organised", "organized") and spelling_variant("Colour", "color")
    assert spelling_variant("centre", "center") and spelling_variant("travelled", "traveled")
    assert not spelling_variant("four", "for") and not spelling_variant("guides", "leaders")
    assert not spelling_variant("organised", "organised")

    class Proposer:
        def for_word(self, text, tokens, i):
            from mtfix.detect.candidates import Candidate

            t = tokens[i]
            return [Candidate(t.start, t.end, r, "spelling") for r in ("organized", "org", "arranged")]

    text = "The meeting was organised by the council."
    start = text.index("organised")
    corrector = Corrector(tiny_corrector(pieces), pieces, encoder, beams=2, rerank=Rerank(), lm=FakeLM(),
                          generator=Proposer())
    (found,) = corrector.candidates([text], [[Span(start, start + len("organised"))]])
    (span, options), = found
    replacements = [o.replacement for o in options]
    assert "arranged" in replacements and "organized" not in replacements and "org" not in replacements


def test_codes_and_numbers_are_never_edited_away():
    from mtfix.correct.guards import is_code, loses_content, unfounded

    assert is_code("250pxrightthbus") and is_code("xxxxUNTITLED12") and not is_code("guides")
    text = "The book appeared as 9789985328 in Tartu in the the spring."
    start = text.index("9789985328")
    assert loses_content(text, Span(start - 1, start + 10), "")  # a number is content
    assert not loses_content(text, Span(text.index("the the"), text.index("the the") + 4), "")
    assert unfounded("see 250pxrightthbus here", Span(4, 19), "250pxright")


def test_a_content_word_replaced_by_function_words_is_lost():
    from mtfix.correct.guards import loses_content

    text = "We drove to trichy in May."
    start = text.index("trichy")
    assert loses_content(text, Span(start, start + 6), ", the")
    assert not loses_content(text, Span(start, start + 6), "Trichy")
    assert not loses_content(text, Span(start, start + 6), "Madurai")  # a swap keeps as many content words


def test_invented_words_are_never_proposed():
    from mtfix.correct.guards import invents, unfounded

    assert invents("Sathdasath", ["Sathyavagissyan"]) and invents("Efficer", ["Officer"])
    assert not invents("pariah", ["pariad"]) and not invents("projects which", ["projectsWhich"])
    assert not invents("Tolly", ["tolly"])  # the lexicon lacks it, but the text has it
    text = "He thanked Sathyavagissyan and the Officer yesterday."
    start = text.index("Sathyavagissyan")
    assert unfounded(text, Span(start, start + 15), "Sathdasath")
    officer = text.index("Officer")
    assert unfounded(text, Span(officer, officer + 7), "Efficer")
    assert not unfounded(text, Span(officer, officer + 7), "officer")


def test_words_in_capitals_are_kept_or_respelled_in_capitals():
    from mtfix.correct.guards import drops_capitals, unfounded

    assert drops_capitals("from PNTCD", "from Prom") and drops_capitals("CHILDREN", "Babies")
    assert drops_capitals("AD", "AA") and drops_capitals("REPECT", "Respect")  # lowercased: a guess at a heading
    assert not drops_capitals("REPECT", "RESPECT") and not drops_capitals("US", "the US")
    assert not drops_capitals("I", "me") and not drops_capitals("Explosion", "explosion")
    text = "The NATO NATO summit was backed by the PNTCD."
    second = text.index("NATO", text.index("NATO") + 1)
    assert not unfounded(text, Span(second - 1, second + 4), "")  # a repetition may go: the first one stays
    party = text.index("PNTCD")
    assert unfounded(text, Span(party - 4, party + 5), "the Prom")
    assert not unfounded(text, Span(party - 4, party + 5), "PNTCD")


def test_meaning_swaps_need_the_swap_score(pieces, encoder):
    from mtfix.correct.guards import is_swap

    assert is_swap("guides", "leaders") and is_swap("aeroplanes", "aircraft") and is_swap("kodo", "theirs")
    assert not any(is_swap(a, b) for a, b in [("Explosion", "explosion"), ("projectsWhich", "projects which"),
                                              ("pariad", "pariah"), ("the the", ""), ("his", "its"), ("one", "a")])
    corrector = Corrector(tiny_corrector(pieces), pieces, encoder, min_score=0.7, swap_score=0.9)
    leaders, lowered = Option("leaders", "pivot", 0.0), Option("explosion", "case", 0.0)
    assert not corrector.accepts("guides", leaders, 0.8) and corrector.accepts("guides", leaders, 0.9)
    assert corrector.accepts("Explosion", lowered, 0.8) and not corrector.accepts("Explosion", lowered, 0.6)
    assert Corrector(tiny_corrector(pieces), pieces, encoder, min_score=0.7).accepts("guides", leaders, 0.8)
    shipped = Corrector(tiny_corrector(pieces), pieces, encoder, rerank=Rerank(min_score=0.7, swap_score=0.85))
    assert shipped.swap_score == 0.85 and shipped.min_score == 0.7


def test_deleting_several_words_is_proposed_only_for_a_repetition():
    from mtfix.correct.guards import deletes_words, unfounded

    text = "The altar reads Ayurvedika Ayurvedika, yajurvedika bhanurvedika, Samavedika and more."
    start = text.index(" yajurvedika")
    garbled = Span(start, start + len(" yajurvedika bhanurvedika"))
    assert deletes_words(text, garbled, "") and unfounded(text, garbled, "")  # names a post-editor kept
    assert not deletes_words(text, garbled, "Yajurvedika")  # not a deletion
    repeated = "The mastery of the sea belonged sea belonged to Rome."
    twice = Span(repeated.index(" sea belonged to") - len(" sea belonged"), repeated.index(" sea belonged to"))
    assert repeated[twice.start:twice.end] == " sea belonged"
    assert not deletes_words(repeated, twice, "") and not unfounded(repeated, twice, "")  # the repetition undone
    one = Span(text.index("Samavedika"), text.index("Samavedika") + len("Samavedika"))
    assert not deletes_words(text, one, "")  # one word: loses_content's business


def test_an_option_that_leaves_no_copy_of_a_repeated_word_is_never_proposed():
    from mtfix.correct.guards import unfounded, wipes_repeat

    text = "Many Siamese Siamese Siamese cats came."
    assert wipes_repeat(text, Span(0, 27), "Many") and unfounded(text, Span(0, 27), "Many")
    assert not wipes_repeat(text, Span(0, 27), "Many Siamese")  # one copy kept: the repetition undone
    assert not wipes_repeat(text, Span(13, 27), "")  # the extra copies go, the first stays beside the span
    assert not wipes_repeat(text, Span(0, 12), "Many Thai")  # nothing repeated inside the span: not this rule
    assert not wipes_repeat("the the cat", Span(0, 7), "the")
    assert wipes_repeat("we saw the the cat", Span(7, 14), "a")
