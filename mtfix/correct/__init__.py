"""Correction: for each flagged span, the seq2seq corrector's n-best replacements, kept only when they beat leaving
the text as it is by a calibrated margin."""
from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from mtfix.correct.seq2seq import INSERT, INSIDE, SpanCorrector, beam_search, sequence_logprob
from mtfix.detect.encode import SentenceInput, window_input
from mtfix.text.spans import Edit, Span
from mtfix.text.tokens import Token, sentence_spans, sentence_tokens, tokenize


class Pieces:
    """The decoder's cased sentencepiece vocabulary (identity normalisation: decode(encode(s)) == s)."""

    def __init__(self, path: str) -> None:
        import sentencepiece as spm

        self.path = path
        self.sp = spm.SentencePieceProcessor(model_file=path)
        self.size = self.sp.get_piece_size()
        self.sep_id = self.sp.piece_to_id("<sep>")

    def encode(self, text: str) -> list[int]:
        return list(self.sp.encode(text)) if text else []

    def decode(self, ids: Sequence[int]) -> str:
        return self.sp.decode(list(ids)) if ids else ""


def span_input(inputs: Sequence[SentenceInput], text: str, start: int, end: int,
               tokens: Sequence[Token] | None = None) -> tuple[int, list[int], int] | None:
    """Which input holds the span, the positions to mark there, and the mark (inside, or the place of an
    insertion). None when the segment has no input (no words)."""
    if not inputs:
        return None
    tokens = tokenize(text) if tokens is None else tokens
    covered = [j for j, t in enumerate(tokens) if t.start < end and start < t.end] if end > start else []
    if covered:
        first, mark = covered[0], INSIDE
    else:  # a gap: mark the word that follows it (or the end of the sentence)
        first, mark = next((j for j, t in enumerate(tokens) if t.start >= start), len(tokens)), INSERT
    for k, inp in enumerate(inputs):
        if inp.lo <= first < inp.hi or (mark == INSERT and first == inp.hi and k == len(inputs) - 1):
            if mark == INSERT:
                return k, [inp.firsts[first - inp.lo] if first < inp.hi else len(inp.input_ids) - 1], mark
            positions: list[int] = []
            for j in covered:
                if inp.lo <= j < inp.hi:
                    positions += range(inp.firsts[j - inp.lo], max(inp.ends[j - inp.lo], inp.firsts[j - inp.lo] + 1))
            return k, positions, mark
    if mark == INSERT:  # a gap at a sentence boundary: the end of the sentence before it
        for k, inp in enumerate(inputs):
            if first == inp.hi:
                return k, [len(inp.input_ids) - 1], mark
    return None


def marked_memory(model: SpanCorrector, inputs: Sequence[SentenceInput], states: Sequence[torch.Tensor] | None,
                  rows: Sequence[tuple[int, list[int], int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoder's memory (spans, T, d) and its mask for ``rows`` (input index, marked positions, mark): the
    given encoder states (tagger kind) or the model's own encoder's (scratch kind), with the span marked."""
    width = max(len(inputs[k].input_ids) for k, _, _ in rows)
    marks = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for r, (k, positions, mark) in enumerate(rows):
        mask[r, :len(inputs[k].input_ids)] = 1
        marks[r, positions] = mark
    if states is not None:
        memory = torch.zeros(len(rows), width, model.config.encoder_hidden)
        for r, (k, _, _) in enumerate(rows):
            memory[r, :states[k].size(0)] = states[k].float()
    else:
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        for r, (k, _, _) in enumerate(rows):
            ids[r, :len(inputs[k].input_ids)] = torch.tensor(inputs[k].input_ids)
        memory = model.encode(ids, mask)
    return model.memory(memory, marks), mask


def encoder_mismatch(corrector: str | Path, tagger_model: Any) -> str | None:
    """Why the corrector in folder ``corrector`` cannot read this tagger's encoder states (one line), or None.
    A decoder trained on one detector's states proposes nonsense from another's; the corrector records the sha1
    of the tagger weights it was trained on, and the tagger's folder is known when it was loaded from one."""
    from mtfix.correct import sha1_of

    config = json.loads((Path(corrector) / "config.json").read_text())
    expected = config.get("tagger_sha1") or ""
    weights = Path(getattr(tagger_model, "name_or_path", "") or "-") / "model.safetensors"
    if not expected or config.get("encoder", "tagger") != "tagger" or not weights.is_file():
        return None
    found = sha1_of(weights)
    if found == expected:
        return None
    return (f"the corrector in {corrector} was trained on another detector's encoder states (tagger "
            f"{expected[:10]}, this one {found[:10]}): use the detector it was trained with, or train one for "
            f"this detector with 'mtfix train corrector --tagger {weights.parent}'")


class TaggerEncoder:
    """The detector's MiniLM encoder (frozen): sentence windows exactly as the tagger reads them."""

    kind = "tagger"

    def __init__(self, tagger: Any, tokenizer: Any, batch_size: int = 32) -> None:
        self.tagger, self.tokenizer, self.batch_size = tagger.eval(), tokenizer, batch_size
        self.hidden = tagger.encoder.config.hidden_size
        self.shared: dict[str, list[tuple[SentenceInput, torch.Tensor]]] = {}  # states the detector already computed

    @classmethod
    def load(cls, path: str) -> "TaggerEncoder":
        from transformers import AutoTokenizer

        from mtfix.detect.tagger import ArtifactTagger

        return cls(ArtifactTagger.from_pretrained(path, dtype=torch.float32), AutoTokenizer.from_pretrained(path))

    def inputs(self, text: str, segment: int = 0) -> list[SentenceInput]:
        from mtfix.detect.encode import sentence_windows

        return [window_input(w) for w in sentence_windows(self.tokenizer, text, tokenize(text), segment,
                                                          self.tagger.config.window)]

    def states(self, inputs: Sequence[SentenceInput], log: Callable[[str], None] | None = None
               ) -> list[torch.Tensor]:
        """Encoder states (fp16, one tensor per input), batched by length."""
        order = sorted(range(len(inputs)), key=lambda i: len(inputs[i].input_ids))
        out: list[torch.Tensor | None] = [None] * len(inputs)
        with torch.inference_mode():
            for b in range(0, len(order), self.batch_size):
                idx = order[b:b + self.batch_size]
                width = max(len(inputs[i].input_ids) for i in idx)
                ids = torch.zeros(len(idx), width, dtype=torch.long)
                mask = torch.zeros(len(idx), width, dtype=torch.long)
                for r, i in enumerate(idx):
                    ids[r, :len(inputs[i].input_ids)] = torch.tensor(inputs[i].input_ids)
                    mask[r, :len(inputs[i].input_ids)] = 1
                states = self.tagger.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
                for r, i in enumerate(idx):
                    out[i] = states[r, :len(inputs[i].input_ids)].half().clone()
                if log and (b // self.batch_size) % 200 == 199:
                    log(f"corrector: encoded {b + len(idx):,}/{len(inputs):,} sentences")
        return [s for s in out if s is not None]


class ScratchEncoder:
    """Inputs for the stand-alone encoder-decoder: each sentence as cased pieces, word by word."""

    kind = "scratch"

    def __init__(self, pieces: Pieces, window: int = 256) -> None:
        self.pieces, self.window = pieces, window

    def inputs(self, text: str, segment: int = 0) -> list[SentenceInput]:
        tokens = tokenize(text)
        out: list[SentenceInput] = []
        for lo, hi, s_start, _ in sentence_tokens(text, tokens):
            ids, firsts, ends = [self.pieces.sp.bos_id()], [], []
            prev = tokens[lo].start if hi > lo else s_start
            for tok in tokens[lo:hi]:
                firsts.append(min(len(ids), self.window - 2))
                ids += self.pieces.encode(text[prev:tok.end])
                ends.append(min(len(ids), self.window - 1))
                prev = tok.end
            ids = ids[: self.window - 1] + [self.pieces.sp.eos_id()]
            if hi > lo:
                out.append(SentenceInput(segment, lo, hi, ids, firsts, [max(e, f + 1) for f, e in zip(firsts, ends)]))
        return out


@dataclass
class Rerank:
    """Weights of the reranking stage (fitted on dev): z = s2s * seq2seq gain + lm * language-model gain + the
    candidate's kind weight + bias; P(candidate is right) = sigmoid(z). Gains are against keeping the original."""

    s2s: float = 1.0
    lm: float = 1.0
    kinds: dict[str, float] = field(default_factory=dict)
    bias: float = 0.0
    min_score: float = 0.5
    # the bar for meaning swaps (is_swap: a content word in place of an unrelated one), if higher: on real MT the
    # post-editor mostly kept the word the corrector would swap ("aeroplanes" -> "aircraft")
    swap_score: float | None = None
    length: float = 0.0  # per word the option adds (negative: removes); the LM alone favours short text
    # Platt scaling of the best option's z, fitted on the decisions themselves: P(the proposed edit is right)
    temperature: float = 1.0
    top_bias: float = 0.0
    traits: dict[str, float] = field(default_factory=dict)  # weights of Option.traits (see option_traits)
    # True: P(option) = exp(z) / (1 + sum of exp(z) over the span's options), keeping the original being the "1"
    # (a conditional logit fitted over each span's choices); False: sigmoid of the Platt-scaled z
    softmax: bool = False

    def z(self, option: "Option") -> float:
        return (self.s2s * option.s2s_gain + self.lm * option.lm_gain + self.length * option.words_delta
                + self.kinds.get(option.kind, 0.0) + self.bias
                + sum(w * option.traits.get(name, 0.0) for name, w in self.traits.items()))

    @classmethod
    def load(cls, path: Path) -> "Rerank | None":
        return cls(**json.loads(path.read_text())) if path.exists() else None

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")


@dataclass
class Option:
    """One candidate replacement for a span, with what each scorer thinks of it against keeping the original."""

    replacement: str
    kind: str           # "nbest", or the generator's kind (pivot, spelling, case, spacing, pronoun, article)
    s2s_gain: float     # log P_seq2seq(replacement) - log P_seq2seq(original)
    lm_gain: float = 0.0  # log P_LM(text with replacement) - log P_LM(text), over the span's sentence
    words_delta: int = 0  # words in the replacement - words in the original
    traits: dict[str, float] = field(default_factory=dict)  # see option_traits


TRAITS = ("similar", "oov", "oov_similar", "oov_capital", "case_only", "lm_best", "lm_margin", "span_words",
          "deletion", "truncation", "new_rare", "lm_per_word", "char_ratio", "lm_log", "lost", "repeat",
          "inner_lower")


def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def _alike(a: str, b: str) -> bool:
    """Whether two words look alike (difflib ratio 0.6 or more): a respelling, not another word. One measure for
    what an option keeps (_lost), capitals respelled (drops_capitals) and guesses at unreadable words (misreads)."""
    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.6


def _lost(words: Sequence[str], kept: Sequence[str], content: Callable[[str], bool] = str.isalpha) -> int:
    """How many of ``words`` (content words: over two characters, ``content`` true: alphabetic unless told
    otherwise) have no look-alike among ``kept``."""
    return sum(1 for w in words if len(w) > 2 and content(w) and not any(
        _alike(w, k) for k in kept))


def _has_alnum(word: str) -> bool:
    return any(ch.isalnum() for ch in word)


def option_traits(original: str, options: Sequence[Option], context: str = "", repeated: bool = False,
                  initial: bool = True) -> None:
    """What the reranker reads besides the scorers' gains, set on each option of one span: how alike the
    replacement and the original are (character ratio); whether the original is a one-word non-word (and
    capitalised: likelier a name); a change of case only; whether the option has the span's best LM gain (and
    its margin over the runner-up, capped at 5 nats); the original's length in words (capped at 5); a deletion;
    a truncation (the replacement is a shorter start of the original: the LM likes dropping rare words); a rare
    word (Zipf below 2.5) that the original does not have; the LM gain per word of the original (dropping a
    garbled phrase gains much, one wrong word little); the log of the replacement's length in characters over
    the original's (within -3..1: a two-letter stub for a long name is a telltale of the decoder's guesses); the
    LM gain on a log scale (the LM gains most by dropping rare words, right or wrong); how many content words
    of the original (up to 3) the option loses: none like it in the replacement or in ``context`` (the words
    around the span; a repeated word lost is no loss); a deletion of words that repeat their neighbours
    (``repeated``: "the the", "in Berlin in Berlin"); a change of case that lowercases a capitalised word inside
    a sentence (not ``initial``: "in one Explosion")."""
    word = original.strip()
    oov = float(word.isalpha() and len(word) > 2 and _zipf(word.lower()) < 1.5)
    capital = float(oov and word[:1].isupper())
    gains = sorted((o.lm_gain for o in options), reverse=True)
    had = {t.text.lower() for t in tokenize(original)}
    around = [t.text.lower() for t in tokenize(context)]
    runner_up = gains[1] if len(gains) > 1 else 0.0
    for o in options:
        new = o.replacement.strip()
        similar = difflib.SequenceMatcher(None, word.lower(), new.lower()).ratio()
        best = float(o.lm_gain == gains[0] and o.lm_gain > 0)
        rare = any(t.text.isalpha() and t.text.lower() not in had and _zipf(t.text.lower()) < 2.5
                   for t in tokenize(new))
        o.traits = {"similar": similar, "oov": oov, "oov_similar": oov * similar, "oov_capital": capital,
                    "case_only": float(o.replacement.lower() == original.lower() and o.replacement != original),
                    "lm_best": best, "lm_margin": best * min(5.0, o.lm_gain - max(runner_up, 0.0)),
                    "span_words": float(min(len(had), 5)), "deletion": float(not new),
                    "truncation": float(bool(new) and len(new) < len(word) and word.startswith(new)),
                    "new_rare": float(rare), "lm_per_word": o.lm_gain / max(1, len(had)),
                    "char_ratio": max(-3.0, min(1.0, math.log(max(len(new), 0.05) / max(1, len(word))))),
                    "lm_log": math.copysign(math.log1p(abs(o.lm_gain)), o.lm_gain),
                    "lost": float(min(3, _lost(sorted(had), [t.text.lower() for t in tokenize(new)] + around))),
                    "repeat": float(repeated and not new),
                    "inner_lower": float(not initial and o.replacement == original.lower() != original)}


class Corrector:
    """Proposes edits for spans: the n-best of the span decoder (and, with reranking, the candidate generator's
    proposals scored in context by the language model), each against keeping the original."""

    def __init__(self, model: SpanCorrector, pieces: Pieces, encoder: Any, beams: int = 4,
                 min_score: float | None = None, batch_size: int = 32, rerank: Rerank | None = None,
                 lm: Any = None, generator: Any = None, swap_score: float | None = None) -> None:
        self.model, self.pieces, self.encoder = model.eval(), pieces, encoder
        self.beams, self.batch_size = beams, batch_size
        self.rerank, self._lm, self._generator = rerank, lm, generator
        default = rerank.min_score if rerank is not None else model.config.min_score
        self.min_score = default if min_score is None else min_score
        self.swap_score = swap_score if swap_score is not None else rerank.swap_score if rerank is not None else None

    @classmethod
    def load(cls, path: str, tagger_path: str | None = None, encoder: Any = None, rerank: bool | None = None,
             **kwargs: Any) -> "Corrector":
        """A saved corrector; the tagger kind reads the states of the detector at ``tagger_path`` (or
        ``encoder``, an existing TaggerEncoder, so that detection and correction share one encoder pass).
        ``rerank``: use the folder's reranking stage (rerank.json) if there is one (None), always, or never."""
        model = SpanCorrector.from_pretrained(path, dtype=torch.float32)
        pieces = Pieces(str(Path(path) / "pieces.model"))
        if model.config.encoder == "scratch":
            encoder = ScratchEncoder(pieces)
        elif encoder is None:
            from mtfix.models import shipped_detector

            tagger = tagger_path or shipped_detector()
            if tagger is None:
                from mtfix.errors import NotBuiltError

                raise NotBuiltError("the corrector reads the detector's encoder, and no detector is installed")
            encoder = TaggerEncoder.load(str(tagger))
        weights = Rerank.load(Path(path) / "rerank.json") if rerank is not False else None
        if rerank and weights is None:
            weights = Rerank()
        return cls(model, pieces, encoder, rerank=weights, **kwargs)

    @property
    def lm(self) -> Any:
        if self._lm is None:
            from mtfix.detect.lm import LanguageModelScorer

            self._lm = LanguageModelScorer()
        return self._lm

    @property
    def generator(self) -> Any:
        if self._generator is None:
            from mtfix.detect.candidates import CandidateGenerator

            self._generator = CandidateGenerator()
        return self._generator

    def _memory(self, inputs: list[SentenceInput], states: list[torch.Tensor] | None,
                rows: list[tuple[int, list[int], int]]) -> tuple[torch.Tensor, torch.Tensor]:
        return marked_memory(self.model, inputs, states, rows)

    def _inputs(self, texts: Sequence[str]) -> tuple[list[SentenceInput], list[torch.Tensor] | None, list[range]]:
        inputs: list[SentenceInput] = []
        states: list[torch.Tensor] = []
        ranges = []
        fresh: list[int] = []
        for i, text in enumerate(texts):
            shared = self.encoder.shared.pop(text, None) if self.encoder.kind == "tagger" else None
            begin = len(inputs)
            if shared is not None:
                for inp, st in shared:
                    inputs.append(inp)
                    states.append(st)
            else:
                made = self.encoder.inputs(text, i)
                fresh += range(len(inputs), len(inputs) + len(made))
                inputs += made
                states += [torch.empty(0)] * len(made)
            ranges.append(range(begin, len(inputs)))
        if self.encoder.kind != "tagger":
            return inputs, None, ranges
        if fresh:
            for k, st in zip(fresh, self.encoder.states([inputs[k] for k in fresh])):
                states[k] = st
        return inputs, states, ranges

    def candidates(self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
                   ) -> list[list[tuple[Span, list[Option]]]]:
        """For each span, its options against keeping the original: the decoder's n-best and, with reranking,
        the candidate generator's proposals, each scored by the decoder and the language model."""
        needed = [i for i, s in enumerate(spans) if s]
        inputs, states, ranges = self._inputs([texts[i] for i in needed])
        jobs = []  # (text index, span, row)
        for local, i in enumerate(needed):
            tokens = tokenize(texts[i])
            own = [inputs[k] for k in ranges[local]]
            for span in spans[i]:
                found = span_input(own, texts[i], span.start, span.end, tokens)
                if found is not None:
                    k, positions, mark = found
                    jobs.append((i, span, (ranges[local][k], positions, mark)))
        out: list[list[tuple[Span, list[Option]]]] = [[] for _ in texts]
        windows: dict[tuple[int, int, int], tuple[int, int]] = {}  # each span's lm_window, computed once
        with torch.inference_mode():
            for b in range(0, len(jobs), self.batch_size):
                chunk = jobs[b:b + self.batch_size]
                memory, mask = self._memory(inputs, states, [row for _, _, row in chunk])
                originals = [self.pieces.encode(texts[i][s.start:s.end]) for i, s, _ in chunk]
                keep = sequence_logprob(self.model, memory, mask, originals, originals)
                longest = max(map(len, originals))
                nbest = beam_search(self.model, memory, mask, originals, beams=self.beams,
                                    max_new=min(self.model.config.max_len // 2 - 1, 2 * longest + 6))
                found: list[list[Option]] = []
                for r, (i, span, _) in enumerate(chunk):
                    original = texts[i][span.start:span.end]
                    options: dict[str, Option] = {}
                    for ids, lp in nbest[r]:
                        text = self.pieces.decode(ids)
                        if text != original and text not in options:
                            options[text] = Option(text, "nbest", lp - float(keep[r]),
                                                   words_delta=len(tokenize(text)) - len(tokenize(original)))
                    found.append(list(options.values()))
                if self.rerank is not None:
                    self._add_generated(texts, chunk, found, memory, mask, originals, keep)
                for r, (i, span, _) in enumerate(chunk):
                    window = windows[(i, span.start, span.end)] = lm_window(texts[i], span)
                    out[i].append((span, [o for o in found[r]
                                          if not unfounded(texts[i], span, o.replacement, window)]))
        if self.rerank is not None:
            self._lm_gains(texts, out, windows)
        return out

    def _add_generated(self, texts: Sequence[str], chunk: list[Any], found: list[list[Option]], memory: torch.Tensor,
                       mask: torch.Tensor, originals: list[list[int]], keep: torch.Tensor) -> None:
        """The generator's candidates for one-word spans, scored by the decoder too (teacher-forced)."""
        extra: list[tuple[int, Option]] = []
        for r, (i, span, _) in enumerate(chunk):
            have = {o.replacement for o in found[r]}
            for text, kind in generated(self.generator, texts[i], tokenize(texts[i]), span):
                if text not in have:
                    have.add(text)
                    delta = len(tokenize(text)) - len(tokenize(texts[i][span.start:span.end]))
                    extra.append((r, Option(text, kind, 0.0, words_delta=delta)))
        if not extra:
            return
        rows = torch.tensor([r for r, _ in extra])
        lp = sequence_logprob(self.model, memory[rows], mask[rows], [originals[r] for r, _ in extra],
                              [self.pieces.encode(o.replacement) for _, o in extra])
        for (r, option), value in zip(extra, lp.tolist()):
            option.s2s_gain = value - float(keep[r])
            found[r].append(option)

    def _lm_gains(self, texts: Sequence[str], found: list[list[tuple[Span, list[Option]]]],
                  windows: dict[tuple[int, int, int], tuple[int, int]]) -> None:
        """Each option's language-model gain over the original, read on the span's window (lm_window, given in
        ``windows`` by text index, start and end), and the option's traits."""
        groups: list[tuple[list[Option], list[str]]] = []  # per span: its options; the window, then each option's
        for i, per_text in enumerate(found):
            text = texts[i]
            for span, options in per_text:
                if not options:
                    continue
                lo, hi = windows[(i, span.start, span.end)]
                groups.append((options, [text[lo:hi]] + [text[lo:span.start] + o.replacement + text[span.end:hi]
                                                         for o in options]))
        # the window's left context is the same for the original and every option: run once per span
        for (options, _), (base, *values) in zip(groups, self.lm.logprob_groups([g for _, g in groups])):
            for option, value in zip(options, values):
                option.lm_gain = value - base
        for i, per_text in enumerate(found):
            for span, options in per_text:
                span_traits(texts[i], span, options, windows[(i, span.start, span.end)])

    def choose(self, options: Sequence[Option]) -> list[tuple[Option, float]]:
        """Options ranked best first, each with its calibrated probability of being right."""
        if self.rerank is not None and self.rerank.softmax:
            zs = [self.rerank.z(o) for o in options]
            top = max(zs + [0.0])
            total = math.exp(-top) + sum(math.exp(z - top) for z in zs)  # keeping the original: z = 0
            ranked = [(o, math.exp(z - top) / total) for o, z in zip(options, zs)]
            return sorted(ranked, key=lambda pair: -pair[1])
        if self.rerank is not None:
            scored = [(o, self.rerank.z(o) / self.rerank.temperature + self.rerank.top_bias) for o in options]
        else:
            config = self.model.config
            scored = [(o, o.s2s_gain / config.edit_temperature + config.edit_bias) for o in options]
        scored.sort(key=lambda pair: -pair[1])
        return [(o, 1.0 / (1.0 + math.exp(-z))) for o, z in scored]

    def accepts(self, original: str, option: Option, score: float) -> bool:
        """Whether an option with this probability of being right is proposed: it reaches ``min_score``, and
        a meaning swap (is_swap) reaches ``swap_score`` too."""
        if score < self.min_score:
            return False
        return self.swap_score is None or score >= self.swap_score or not is_swap(original, option.replacement)

    def correct(self, texts: Sequence[str], spans: Sequence[Sequence[Span]]) -> list[list[Edit]]:
        """Edits for each text's spans, proposed only where the best option's calibrated probability of being
        right (against keeping the original) reaches ``min_score`` (``swap_score`` for meaning swaps)."""
        edits: list[list[Edit]] = [[] for _ in texts]
        for i, per_text in enumerate(self.candidates(texts, spans)):
            for span, options in per_text:
                ranked = self.choose(options)
                if not ranked or not self.accepts(texts[i][span.start:span.end], *ranked[0]):
                    continue
                best, score = ranked[0]
                start, end = deletion_extent(texts[i], span.start, span.end) if not best.replacement else \
                    (span.start, span.end)
                edits[i].append(Edit(start, end, best.replacement, score,
                                     tuple(o.replacement for o, _ in ranked[1:4])))
        return edits


def generated(generator: Any, text: str, tokens: Sequence[Token], span: Span) -> list[tuple[str, str]]:
    """The candidate generator's proposals for a one-word span, as (replacement of the whole span, kind), the
    original left out: what both correctors add to their own options."""
    inside = [j for j, t in enumerate(tokens) if span.start <= t.start and t.end <= span.end]
    if len(inside) != 1:
        return []
    out = []
    for cand in generator.for_word(text, tokens, inside[0]):
        if span.start <= cand.start and cand.end <= span.end:
            replacement = text[span.start:cand.start] + cand.replacement + text[cand.end:span.end]
            if replacement != text[span.start:span.end]:
                out.append((replacement, cand.kind))
    return out


def loses_content(text: str, span: Span, replacement: str, window: tuple[int, int] | None = None) -> bool:
    """Whether replacing ``span`` with ``replacement`` drops a content word: the replacement has fewer content
    words (function words and punctuation aside: "trichy" -> ", the" drops one) and
    some word of the original (not a function word) has no look-alike in it or around it (in ``window``, the
    span's lm_window, computed when not given; numbers and codes count as content). Such options are never
    proposed: a repeated word or a stray article may go, but meaning is not deleted on a model's guess."""
    content = _content_words
    original = [t.text.lower() for t in tokenize(text[span.start:span.end])]
    kept = [t.text.lower() for t in tokenize(replacement)]
    if len(content(kept)) >= len(content(original)):  # a swap ("guides" -> "leaders") keeps as many
        return False
    around = [t.text.lower() for t in tokenize(_around(text, span, window))]
    return _lost(content(original), kept + around, content=_has_alnum) > 0


def _content_words(words: list[str]) -> list[str]:
    """The content words among lower-cased ``words``: not function words, longer than two characters, with a
    letter or digit."""
    from mtfix.text.words import STOP

    return [w for w in words if w not in STOP and len(w) > 2 and _has_alnum(w)]


def deletes_words(text: str, span: Span, replacement: str) -> bool:
    """A deletion of two or more content words that do not repeat their neighbours ("Ayurvedika Ayurvedika,
    yajurvedika bhanurvedika" -> "Ayurvedika Ayurvedika,"): what a monolingual model cannot know to be extra.
    On synthetic dev every gold deletion of several content words undoes a repetition; on MLQE-PE dev the one
    such option scored 0.5 or more (0.97 with the stop-18 decoder, 0.81 with the one before) was wrong."""
    if replacement.strip():
        return False
    words = _content_words([t.text.lower() for t in tokenize(text[span.start:span.end])])
    return len(words) >= 2 and not repeats(text, span)


def is_stub(original: str, replacement: str) -> bool:
    """A replacement of at most half the letters of a one-word original of six or more (not the word's
    doubling undone, "thethe" -> "the"): the decoder's guess at a name or a garbled word it cannot read
    ("PikabuPolitics" -> "Pa", "manoeuvre" -> "man", "vanhoutta" -> "max"); or of at most half the letters of
    a longer original of several words (eight letters or more) that keeps none of its words ("mosasaur's
    cutthroat" -> "mour", "Eeshwar as eeshwar" -> "Esh"; a repetition undone keeps one). Never proposed."""
    word, new = original.strip(), replacement.strip()
    if not new:
        return False
    words = [t.text.lower() for t in tokenize(word)]
    if len(words) > 1:  # (punctuation kept is no word kept: "na imperfecta, na imperfecta" -> "nafe,")
        letters = sum(ch.isalpha() for ch in word)
        return (letters >= 8 and 2 * sum(ch.isalpha() for ch in new) <= letters
                and not any(t.text.lower() in words for t in tokenize(new) if _has_alnum(t.text)))
    if len(word) < 6 or 2 * len(new) > len(word):
        return False
    return word.lower() != new.lower() * 2


def wipes_repeat(text: str, span: Span, replacement: str) -> bool:
    """Whether the option leaves no copy of a word that the span repeats, neither in the replacement nor in the
    words just before and after the span ("Many Siamese Siamese Siamese" -> "Many"): a repetition is undone by
    keeping one copy; a replacement that drops them all takes the word out of the text. Never proposed."""
    words = [t.text.lower() for t in tokenize(text[span.start:span.end]) if _has_alnum(t.text)]
    repeated = {w for w in words if words.count(w) > 1}
    if not repeated:
        return False
    tokens = [t for t in tokenize(text) if _has_alnum(t.text)]
    before = [t.text.lower() for t in tokens if t.end <= span.start][-1:]
    after = [t.text.lower() for t in tokens if t.start >= span.end][:1]
    kept = {t.text.lower() for t in tokenize(replacement)} | set(before) | set(after)
    return not repeated <= kept


def misreads(original: str, replacement: str) -> bool:
    """A one-word original of six letters or more that the English lexicon (wordfreq) has never seen (a garbled
    word, a foreign name) replaced by one word not like it (difflib ratio under 0.6, case aside, the likeness
    _alike, as drops_capitals): the decoder's guess at a word it cannot read, a stub's longer cousin
    ("churtumas" -> "church", "newindriani" -> "nether", both at 0.9 or more on MLQE-PE dev at stop 20). A real
    spelling fix stays like the word ("pariad" -> "pariah" 0.83, "confidanteled" -> "confidant" 0.82). Never
    proposed."""
    word, new = original.strip(), replacement.strip()
    if not word.isalpha() or len(word) < 6 or not new.isalpha() or _zipf(word.lower()) > 0:
        return False
    return not _alike(word.lower(), new.lower())


_VARIANTS = tuple((re.compile(pattern), american) for pattern, american in (  # British -> American
    (r"(?<=[a-z]{3})our(?=s?$|ed$|ing$|er|ite|able)", "or"), (r"([iy])s(?=e|ing|ation|er)", r"\1z"),
    (r"([^aeiou])re(?=s?$|d$)", r"\1er"), (r"ll(?=ed$|ing$|er$|ers$)", "l"), (r"ogue(?=s?$)", "og"),
    (r"(?<=[a-z])ae(?=[a-z])", "e"), (r"(?<=[a-z])oe(?=[a-z])", "e")))


def _american(word: str) -> str:
    for pattern, repl in _VARIANTS:
        word = pattern.sub(repl, word)
    return word


def spelling_variant(original: str, replacement: str) -> bool:
    """Whether the two are the British and American spellings of one word ("organised" / "organized",
    "colour" / "color", "centre" / "center"): a house style, not an artifact, so never proposed."""
    a, b = original.strip().lower(), replacement.strip().lower()
    return (a != b and a.isalpha() and b.isalpha() and _american(a) == _american(b)
            and min(_zipf(a), _zipf(b)) >= 1.5)


def is_code(original: str) -> bool:
    """Whether the span holds a token that mixes letters and digits ("250pxrightthbus", "xxxxUNTITLED12"):
    markup, identifiers and codes, which a round trip does not garble into something a model could restore."""
    return any(any(ch.isdigit() for ch in t.text) and any(ch.isalpha() for ch in t.text) for t in tokenize(original))


def is_swap(original: str, replacement: str) -> bool:
    """Whether the replacement puts in a content word (three letters or more, not a function word) with no
    look-alike among the original's words: a change of meaning ("guides" -> "leaders", "aeroplanes" ->
    "aircraft"), not of form (case, spacing, spelling, a repetition dropped, an article or pronoun)."""
    from mtfix.text.words import STOP

    new = [t.text.lower() for t in tokenize(replacement)]
    return _lost([w for w in new if w not in STOP], [t.text.lower() for t in tokenize(original)]) > 0


def invents(replacement: str, known: Sequence[str]) -> bool:
    """Whether the replacement writes a word of three letters or more that the English lexicon (wordfreq) has
    never seen and that is not among ``known`` (the words of the original and around it): the decoder's
    inventions ("Sathyavagissyan" -> "Sathdasath", "Officer" -> "Efficer"). A real fix writes a real word."""
    have = {w.lower() for w in known}
    return any(t.text.isalpha() and len(t.text) > 2 and t.text.lower() not in have and _zipf(t.text.lower()) == 0
               for t in tokenize(replacement))


def drops_capitals(original: str, replacement: str, around: Sequence[str] = ()) -> bool:
    """Whether a word of the original written in capitals (two letters or more: an acronym, a party, a heading,
    "PNTCD", "NATO", "CHILDREN") is neither kept as written (in the replacement or in ``around``, the words
    beside the span: a repeated one may go) nor respelled in capitals ("REPECT" -> "RESPECT"). A round trip
    keeps such words; a model that puts another word in their place ("from PNTCD" -> "from Prom") or
    lowercases a heading is guessing."""
    def capitals(text: str) -> list[str]:
        return [t.text for t in tokenize(text) if t.text.isalpha() and t.text.isupper() and len(t.text) > 1]

    new = capitals(replacement)
    kept = set(new) | set(around)
    return any(word not in kept and not any(_alike(word, w) for w in new)
               for word in capitals(original))


def unfounded(text: str, span: Span, replacement: str, window: tuple[int, int] | None = None) -> bool:
    """Options never proposed, whatever their scores: those that delete content (loses_content, deletes_words,
    wipes_repeat), stubs (is_stub), guesses at unreadable words (misreads), changes of spelling convention
    (spelling_variant), edits of codes (is_code), invented words (invents) and words in capitals replaced or
    lowercased (drops_capitals)."""
    original = text[span.start:span.end]
    if (is_code(original) or is_stub(original, replacement) or misreads(original, replacement)
            or spelling_variant(original, replacement)):
        return True
    if deletes_words(text, span, replacement) or wipes_repeat(text, span, replacement):
        return True
    window = window or lm_window(text, span)
    if drops_capitals(original, replacement, [t.text for t in tokenize(_around(text, span, window))]):
        return True
    return (invents(replacement, [t.text for t in tokenize(text[window[0]:window[1]])])
            or loses_content(text, span, replacement, window))


def span_traits(text: str, span: Span, options: Sequence[Option], window: tuple[int, int] | None = None) -> None:
    """option_traits for the options of ``span`` in ``text``, its context being the LM's window around it
    (``window``, computed when not given)."""
    option_traits(text[span.start:span.end], options, _around(text, span, window), repeats(text, span),
                  sentence_initial(text, span.start))


def repeats(text: str, span: Span) -> bool:
    """Whether the span's words (case aside) are the same as the words just before it or just after it."""
    tokens = tokenize(text)
    inside = [t.text.lower() for t in tokens if span.start <= t.start and t.end <= span.end]
    if not inside:
        return False
    before = [t.text.lower() for t in tokens if t.end <= span.start][-len(inside):]
    after = [t.text.lower() for t in tokens if t.start >= span.end][:len(inside)]
    return inside in (before, after)


def sentence_initial(text: str, start: int) -> bool:
    """Whether ``start`` begins the text or a sentence (after ., !, ?, : or an opening quote, spaces aside)."""
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?:\"“‘(\n" or text[len(before):start].count("\n") > 0


def _around(text: str, span: Span, window: tuple[int, int] | None) -> str:
    lo, hi = window or lm_window(text, span)
    return text[lo:span.start] + " " + text[span.end:hi]


def lm_window(text: str, span: Span, left: int = 24, right: int = 8) -> tuple[int, int]:
    """Where the language model reads a span's options: its sentence, at most ``left`` words before the span and
    ``right`` after it (the words further away change the gain little and cost a forward pass per option)."""
    bounds = sentence_spans(text) or [(0, len(text))]
    tokens = tokenize(text)
    s_lo = max([a for a, _ in bounds if a <= span.start] or [0])
    s_hi = max(span.end, min([b for _, b in bounds if b >= span.end] or [len(text)]))
    before = [t for t in tokens if s_lo <= t.start and t.end <= span.start][-left:]
    after = [t for t in tokens if span.end <= t.start and t.end <= s_hi][:right]
    lo = before[0].start if before else span.start
    return lo, max(span.end, after[-1].end if after else span.end)


def deletion_extent(text: str, start: int, end: int) -> tuple[int, int]:
    """A deleted word takes one neighbouring space with it ("a  b" would be left otherwise): the one after it,
    or, before punctuation or the end, the one before it."""
    if start == end or text[start:end] != text[start:end].strip():  # it takes its own space already
        return start, end
    after = end < len(text) and text[end] == " "
    before = start > 0 and text[start - 1] == " "
    if after and (before or start == 0):
        return start, end + 1
    if before and (end == len(text) or not text[end].isalnum()):
        return start - 1, end
    return start, end


def sha1_of(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
