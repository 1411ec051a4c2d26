"""The span decoder (`--conservative`): for each flagged span, a seq2seq decoder's n-best replacements over the
tagger's (or its own) encoder states, kept only when they beat leaving the text as it is by a calibrated margin."""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from mtfix.correct.base import Option, Rerank, generated
from mtfix.correct.guards import deletion_extent, is_swap, lm_window, span_traits, unfounded
from mtfix.correct.seq2seq import INSERT, INSIDE, SpanCorrector, beam_search, sequence_logprob
from mtfix.detect.encode import SentenceInput, window_input
from mtfix.text.spans import Edit, Span
from mtfix.text.tokens import Token, sentence_tokens, tokenize


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


class Corrector:
    """Proposes edits for spans: the n-best of the span decoder (and, with reranking, the candidate generator's
    proposals scored in context by the language model), each against keeping the original."""

    def __init__(self, model: SpanCorrector, pieces: Pieces, encoder: Any, beams: int = 4,
                 min_score: float | None = None, batch_size: int = 32, rerank: Rerank | None = None,
                 lm: Any = None, generator: Any = None, swap_score: float | None = None) -> None:
        self.model, self.pieces, self.encoder = model.eval(), pieces, encoder
        self.beams, self.batch_size = beams, batch_size
        self.rerank, self._lm, self._generator = rerank, lm, generator
        self.min_score, self.swap_score, self.follow_score = bars(rerank, min_score, swap_score,
                                                                  getattr(model.config, "min_score", 0.5))

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
        if weights is None and kwargs.get("min_score") is None:  # the decoder's own bar, without its reranker
            from mtfix.points import read_points

            kwargs["min_score"] = read_points(path).get("plain_min_score", getattr(model.config, "min_score", 0.5))
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
            option.corrector_gain = value - float(keep[r])
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
            scored = [(o, o.corrector_gain / config.edit_temperature + config.edit_bias) for o in options]
        scored.sort(key=lambda pair: -pair[1])
        return [(o, 1.0 / (1.0 + math.exp(-z))) for o, z in scored]

    def accepts(self, original: str, option: Option, score: float, translated: bool = False) -> bool:
        """Whether an option with this probability of being right is proposed: it reaches ``min_score``, and
        a meaning swap (is_swap) reaches ``swap_score`` too; in a document that reads as ``translated``, both
        bars are ``follow_score`` where the corrector has one."""
        if translated and self.follow_score is not None:
            return score >= self.follow_score
        if score < self.min_score:
            return False
        return self.swap_score is None or score >= self.swap_score or not is_swap(original, option.replacement)

    def correct(self, texts: Sequence[str], spans: Sequence[Sequence[Span]],
                translated: Sequence[bool] | None = None) -> list[list[Edit]]:
        """Edits for each text's spans, proposed only where the best option's calibrated probability of being
        right (against keeping the original) reaches ``min_score`` (``swap_score`` for meaning swaps;
        ``follow_score`` for both in the texts whose document reads as ``translated``)."""
        edits: list[list[Edit]] = [[] for _ in texts]
        translated = translated or [False] * len(texts)
        for i, per_text in enumerate(self.candidates(texts, spans)):
            for span, options in per_text:
                ranked = self.choose(options)
                if not ranked or not self.accepts(texts[i][span.start:span.end], *ranked[0], translated[i]):
                    continue
                best, score = ranked[0]
                start, end = deletion_extent(texts[i], span.start, span.end) if not best.replacement else \
                    (span.start, span.end)
                edits[i].append(Edit(start, end, best.replacement, score,
                                     tuple(o.replacement for o, _ in ranked[1:4])))
        return edits


def bars(rerank: Rerank | None, min_score: float | None, swap_score: float | None, plain: float = 0.5
         ) -> tuple[float, float | None, float | None]:
    """A corrector's min-score, swap bar and bar in documents that read as translated: those given, else the
    reranker's (``plain``: the min-score without a reranker). A bar given stands everywhere, as a given threshold
    does for the detector: then none follows the document."""
    if rerank is None:
        return plain if min_score is None else min_score, swap_score, None
    follow = rerank.follow_score if min_score is None and swap_score is None else None
    return (rerank.min_score if min_score is None else min_score,
            rerank.swap_score if swap_score is None else swap_score, follow)


def sha1_of(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
