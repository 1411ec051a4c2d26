"""The LM span rewriter: SmolLM2 with LoRA adapters (peft) that reads a segment with one span marked and writes the
span's replacement (empty: delete it; at a zero-width span: what to insert). Its n-best, by beam search with each
option's log-probability, is one service meant for both stages: the corrector's options and the detector's
contrast candidates.

Training (`mtfix train rewriter`, scripts/train_rewriter.py) tunes only the adapters on top of the frozen base
model the detector already loads, so what ships is the adapters alone.
"""
from __future__ import annotations

import contextlib
import functools
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from mtfix.correct.span_decoder import Corrector, bars
from mtfix.detect.lm import cache_rows

MARK_OPEN, MARK_CLOSE = "[[", "]]"
PROMPT = "Repair the marked words of this machine-translated English text.\nText: {marked}\nMarked: {span}\nFix:"
TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def prompt(text: str, start: int, end: int) -> str:
    """The model's input: the text with the span between [[ and ]] (an empty pair marks where to insert)."""
    marked = f"{text[:start]}{MARK_OPEN}{text[start:end]}{MARK_CLOSE}{text[end:]}"
    return PROMPT.format(marked=marked, span=text[start:end])


@dataclass
class RewriterConfig:
    """How the adapters were trained (saved beside them as rewriter.json)."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    lr: float = 3e-4
    batch_size: int = 16
    minutes: float = 60.0
    max_examples: int = 0           # 0: as many as the time allows
    seed: int = 13
    mix: dict[str, int] = field(default_factory=lambda: {"synthetic": 24000, "apertium": 4000, "mlqe-pe": 4000})
    keep_share: float = 0.05        # share of rows that add a "keep" example (the target is the span itself)
    init: str = ""                  # adapters to go on training from (empty: new adapters)
    multi_word: int = 0             # multi-word damage rows added (made from clean training sentences)
    detected: int = 0               # training rows whose detector spans were added (gold fixes inside, or kept)
    swaps: int = 0                  # meaning-swap rows added (pivot and lm-plausible, made from clean training news)
    task: str = "span"              # "sentence": the whole segment marked, the whole fixed segment written
    max_tokens: int = 192           # prompt + target tokens per example (a longer prompt loses its start)
    warmup: int = 50                # steps of linear warm-up
    steps: int = 0
    examples_seen: int = 0
    tokens_per_second: float = 0.0
    train_minutes: float = 0.0


def target_of(fix: str) -> str:
    """What the model writes for a gold fix: the words alone (an insertion's fix carries its own space, "which ",
    which ``as_replacement`` puts back)."""
    return fix.strip()


def as_replacement(text: str, start: int, end: int, written: str) -> str:
    """The model's words as the span's replacement: the span's own leading and trailing spaces kept, and an
    insertion spaced from its neighbours ("which " before a word, " which" after one, before punctuation)."""
    if not written:
        return ""
    span = text[start:end]
    if span.strip():
        return span[:len(span) - len(span.lstrip())] + written + span[len(span.rstrip()):]
    after_space = start == 0 or text[start - 1].isspace()
    if end < len(text) and text[end].isalnum() and after_space:
        return written + " "
    return written if after_space else " " + written


def encode_pair(tokenizer: Any, source: str, target: str, eos: int, max_tokens: int = 192) -> tuple[list[int], int]:
    """Token ids of prompt + target + end, and where the target starts (the loss covers the target and the end)."""
    src = tokenizer(source, add_special_tokens=False)["input_ids"]
    tgt = tokenizer(" " + target if target else "", add_special_tokens=False)["input_ids"] + [eos]
    src = src[-(max_tokens - len(tgt)):] if len(src) + len(tgt) > max_tokens else src
    return src + tgt, len(src)


def add_adapters(model: Any, config: RewriterConfig) -> Any:
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=TARGET_MODULES, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def target_loss(model: Any, ids: torch.Tensor, mask: torch.Tensor, starts: Sequence[int]) -> torch.Tensor:
    """Mean cross-entropy over target tokens only; the output layer runs only where a target token is predicted."""
    inner = model.get_base_model()
    hidden = inner.model(input_ids=ids, attention_mask=mask).last_hidden_state
    rows, cols = [], []
    for r, start in enumerate(starts):
        length = int(mask[r].sum())
        for c in range(start - 1, length - 1):
            rows.append(r)
            cols.append(c)
    rows_t, cols_t = torch.tensor(rows), torch.tensor(cols)
    logits = inner.lm_head(hidden[rows_t, cols_t]).float()
    return torch.nn.functional.cross_entropy(logits, ids[rows_t, cols_t + 1])


def train(model: Any, tokenizer: Any, pairs: Sequence[tuple[str, str]], config: RewriterConfig,
          log: Callable[[str], None] = print) -> Any:
    """Fit LoRA adapters on (prompt, target) pairs for ``config.minutes`` (the learning rate decays to zero at the
    time budget), batches grouped by length; returns the adapted model."""
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    eos = tokenizer.eos_token_id
    encoded = [encode_pair(tokenizer, s, t, eos, config.max_tokens) for s, t in pairs]
    if config.init:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, config.init, is_trainable=True)
    else:
        model = add_adapters(model, config)
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.data = p.data.float()
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    model.train()
    budget = config.minutes * 60
    started = time.time()
    order = list(range(len(encoded)))
    tokens = steps = seen = 0
    while True:
        rng.shuffle(order)
        chunks = [order[i:i + config.batch_size * 50] for i in range(0, len(order), config.batch_size * 50)]
        batches = []
        for chunk in chunks:  # group by length within windows of 50 batches: little padding, still shuffled
            chunk.sort(key=lambda i: len(encoded[i][0]))
            batches += [chunk[i:i + config.batch_size] for i in range(0, len(chunk), config.batch_size)]
        rng.shuffle(batches)
        for batch in batches:
            elapsed = time.time() - started
            if elapsed >= budget or (config.max_examples and seen >= config.max_examples):
                config.steps, config.examples_seen = steps, seen
                config.train_minutes = round(elapsed / 60, 2)
                config.tokens_per_second = round(tokens / max(elapsed, 1e-9), 1)
                model.eval()
                return model
            for group in optimizer.param_groups:
                group["lr"] = config.lr * min(1.0, (steps + 1) / config.warmup) * max(0.0, 1 - elapsed / budget)
            width = max(len(encoded[i][0]) for i in batch)
            ids = torch.full((len(batch), width), eos, dtype=torch.long)
            mask = torch.zeros(len(batch), width, dtype=torch.long)
            for r, i in enumerate(batch):
                seq = encoded[i][0]
                ids[r, :len(seq)] = torch.tensor(seq)
                mask[r, :len(seq)] = 1
            loss = target_loss(model, ids, mask, [encoded[i][1] for i in batch])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            steps += 1
            seen += len(batch)
            tokens += int(mask.sum())
            if steps % 20 == 0:
                log(f"step {steps}: loss {loss.item():.3f}, {seen} examples, "
                    f"{tokens / (time.time() - started):.0f} tokens/s, {(time.time() - started) / 60:.1f} min")


def save(model: Any, out: Path, config: RewriterConfig) -> None:
    """The adapters alone, in fp16 safetensors, with their peft config and the training record."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in get_peft_model_state_dict(model).items()}
    save_file(state, str(out / "adapter_model.safetensors"))
    model.peft_config["default"].save_pretrained(str(out))
    record: dict[str, Any] = asdict(config)
    earlier = Path(config.init) / "rewriter.json" if config.init else None
    if earlier is not None and earlier.exists():  # a run that went on from saved adapters keeps their record
        record["init"], record["continued_from"] = "the run in continued_from", json.loads(earlier.read_text())
    (out / "rewriter.json").write_text(json.dumps(record, indent=2) + "\n")


class Rewriter:
    """The adapted model, loaded on top of a base SmolLM2; ``nbest`` gives each span's replacements.

    The adapters are switched on only while the rewriter runs, so the base model it was loaded on stays the plain
    language model for everyone else who holds it (the detector's scorer, the corrector's LM gains): one SmolLM2
    in memory serves detection, scoring and rewriting."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.model.eval()
        self.model.base_model.disable_adapter_layers()

    @classmethod
    def load(cls, path: str, base: Any = None, tokenizer: Any = None) -> "Rewriter":
        """The adapters in ``path`` on ``base`` (its tokenizer with it), else on SmolLM2 loaded in bf16."""
        from peft import PeftModel

        if base is None:
            from mtfix.detect.lm import load_lm

            base, tokenizer = load_lm(torch.bfloat16)
        return cls(PeftModel.from_pretrained(base, path), tokenizer)

    @contextlib.contextmanager
    def adapted(self) -> Iterator[Any]:
        """The model with its adapters on (and no gradients), for the duration of the block."""
        self.model.base_model.enable_adapter_layers()
        try:
            with torch.inference_mode():
                yield self.model
        finally:
            self.model.base_model.disable_adapter_layers()

    def read(self, items: Sequence[tuple[str, int, int]]) -> "Read":
        """The prompts of ``items`` read once (one batched forward pass with the adapters on); what the rewriter
        then writes or scores for them reuses their keys and values instead of reading each prompt again."""
        return Read(self, items)

    def nbest(self, items: Sequence[tuple[str, int, int]], n: int = 4, batch_size: int = 16,
              max_new_tokens: int | None = None) -> list[list[tuple[str, float]]]:
        """For each (text, start, end): up to ``n`` replacements with their log-probabilities, best first
        (``max_new_tokens``: as Read.nbest)."""
        out: list[list[tuple[str, float]]] = []
        for b in range(0, len(items), batch_size):
            out += self.read(items[b:b + batch_size]).nbest(n, max_new_tokens)
        return out

    def logprob(self, items: Sequence[tuple[str, int, int]], targets: Sequence[str], batch_size: int = 16
                ) -> list[float]:
        """For each (text, start, end) and a replacement of the span (as ``nbest`` gives them; the span's own text
        for keeping it): the log-probability (nats) that the model writes it, its end included."""
        out: list[float] = []
        for b in range(0, len(items), batch_size):
            read = self.read(items[b:b + batch_size])
            out += [values[0] for values in read.logprob([[t] for t in targets[b:b + batch_size]])]
        return out


@functools.lru_cache(maxsize=8)
def _cache_name(model_class: type) -> str:
    """The keyword a decoder class takes its cache by (transformers renamed past_key_values to cache); looked up
    once per class, not at every step of a beam search."""
    import inspect

    return "cache" if "cache" in inspect.signature(model_class.forward).parameters else "past_key_values"


class Read:
    """A batch of prompts read once: their keys and values (left-padded to one width), the log-probabilities of
    the first token after each, and each prompt's length. ``nbest`` (beam search) and ``logprob`` (teacher-forced
    scoring) continue from them, so each prompt is read once whatever the number of its options."""

    def __init__(self, rewriter: Rewriter, items: Sequence[tuple[str, int, int]], max_tokens: int = 240) -> None:
        self.rewriter, self.items = rewriter, list(items)
        tok = rewriter.tokenizer
        self.eos = tok.eos_token_id
        encoded = [tok(prompt(*item), add_special_tokens=False)["input_ids"][-max_tokens:] for item in self.items]
        self.lengths = [len(e) for e in encoded]
        width = max(self.lengths)
        ids = torch.full((len(encoded), width), self.eos, dtype=torch.long)
        self.mask = torch.zeros(len(encoded), width, dtype=torch.long)
        for r, e in enumerate(encoded):  # left padding: every prompt ends where writing starts
            ids[r, width - len(e):] = torch.tensor(e)
            self.mask[r, width - len(e):] = 1
        positions = (self.mask.cumsum(1) - 1).clamp(min=0)
        with rewriter.adapted() as model:
            inner = model.get_base_model()
            state = inner.model(input_ids=ids, attention_mask=self.mask, position_ids=positions, use_cache=True)
            self.cache = state.cache if "cache" in state.keys() else state.past_key_values  # renamed in 5.x
            self.first = inner.lm_head(state.last_hidden_state[:, -1]).float().log_softmax(-1)

    def _step(self, rows: torch.Tensor, cache: Any, written: torch.Tensor, mask: torch.Tensor, offset: int = 0,
              at: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Log-probabilities after each of ``written`` (rows x steps of tokens, following prompt ``rows`` and
        ``offset`` tokens already written after it, which ``cache`` holds); with ``at`` (row and step indices),
        only there (the output layer is the costliest part of a short continuation)."""
        lengths = torch.tensor(self.lengths)[rows] + offset
        positions = lengths.unsqueeze(1) + torch.arange(written.shape[1]).unsqueeze(0)
        with self.rewriter.adapted() as model:
            inner = model.get_base_model()
            hidden = inner.model(input_ids=written, attention_mask=mask, position_ids=positions, use_cache=True,
                                 **{_cache_name(type(inner.model)): cache}).last_hidden_state
            if at is not None:
                hidden = hidden[at[0], at[1]]
            return inner.lm_head(hidden).float().log_softmax(-1)

    def nbest(self, n: int = 4, max_new_tokens: int | None = None, min_new_tokens: int = 0
              ) -> list[list[tuple[str, float]]]:
        """Beam search, ``n`` wide, scored by the sum of log-probabilities (no length penalty, so a search stops
        once ``n`` finished options beat every live one): each prompt's options, decoded, best first. No option
        ends before ``min_new_tokens`` (a benchmark's way to make it write a given length); none runs past
        ``max_new_tokens``, by default 24 or the longest span's own length and 8 more (a clause put back in order
        is as long as the clause)."""
        eos = self.eos
        if max_new_tokens is None:
            longest = max((len(self.rewriter.tokenizer(" " + text[start:end].strip(), add_special_tokens=False)
                               ["input_ids"]) for text, start, end in self.items), default=0)
            max_new_tokens = max(24, longest + 8)
        finished: list[list[tuple[list[int], float]]] = [[] for _ in self.items]
        # live hypotheses: (prompt row, tokens, score); the first step reads the prompts' own last position
        live: list[tuple[int, list[int], float]] = []
        first = self.first.clone()
        if min_new_tokens > 0:
            first[:, eos] = -math.inf
        for r in range(len(self.items)):
            values, tokens = first[r].topk(2 * n)
            for value, token in zip(values.tolist(), tokens.tolist()):
                if token == eos and len(finished[r]) < n:
                    finished[r].append(([], value))
                elif token != eos and sum(1 for h in live if h[0] == r) < n:
                    live.append((r, [token], value))
        cache, parents = None, None
        for step in range(1, max_new_tokens):
            keep = [k for k, h in enumerate(live) if not self._done(finished[h[0]], n, h[2])]
            if not keep:
                break
            live = [live[k] for k in keep]
            parents = None if parents is None else [parents[k] for k in keep]
            rows = torch.tensor([h[0] for h in live])
            cache = cache_rows(self.cache if cache is None else cache,
                          rows if parents is None else torch.tensor(parents))
            last = torch.tensor([[h[1][-1]] for h in live])  # the cache holds every token but the last
            mask = torch.cat([self.mask[rows], torch.ones(len(live), step, dtype=torch.long)], dim=1)
            logprobs = self._step(rows, cache, last, mask, offset=step - 1)[:, -1]
            if step < min_new_tokens:
                logprobs = logprobs.clone()
                logprobs[:, eos] = -math.inf
            values, tokens = (logprobs + torch.tensor([h[2] for h in live]).unsqueeze(1)).topk(2 * n, dim=-1)
            grown: dict[int, list[tuple[float, int, int]]] = {}
            for k, h in enumerate(live):
                for value, token in zip(values[k].tolist(), tokens[k].tolist()):
                    grown.setdefault(h[0], []).append((value, k, token))
            live_next, parents = [], []
            for r, options in grown.items():
                kept = 0
                for value, k, token in sorted(options, key=lambda o: -o[0]):
                    if token == eos:
                        if len(finished[r]) < n or value > min(f[1] for f in finished[r]):
                            finished[r].append((live[k][1], value))
                            finished[r] = sorted(finished[r], key=lambda f: -f[1])[:n]
                    elif kept < n:
                        live_next.append((r, live[k][1] + [token], value))
                        parents.append(k)
                        kept += 1
            live = live_next
        for r, tokens, value in live:  # out of length: a hypothesis still open counts as written
            finished[r].append((tokens, value))
        tok = self.rewriter.tokenizer
        out = []
        for r, item in enumerate(self.items):
            options: dict[str, float] = {}
            for tokens, value in sorted(finished[r], key=lambda f: -f[1])[:n]:
                text = as_replacement(*item, tok.decode(tokens, skip_special_tokens=True).strip())
                if text not in options and not math.isnan(value):
                    options[text] = value
            out.append(sorted(options.items(), key=lambda kv: -kv[1]))
        return out

    @staticmethod
    def _done(finished: list[tuple[list[int], float]], n: int, score: float) -> bool:
        """With no length penalty a hypothesis only loses by growing: once ``n`` options are finished, a live
        one that scores below the worst of them cannot enter."""
        return len(finished) >= n and score <= min(f[1] for f in finished)

    def logprob(self, targets: Sequence[Sequence[str]]) -> list[list[float]]:
        """For each prompt, each of its replacements (as ``nbest`` gives them; the span's own text for keeping
        it): the log-probability (nats) that the model writes it, its end included."""
        tok = self.rewriter.tokenizer
        jobs = [(r, tok(" " + target_of(t) if target_of(t) else "", add_special_tokens=False)["input_ids"]
                 + [self.eos]) for r, per in enumerate(targets) for t in per]
        out: list[list[float]] = [[] for _ in targets]
        if not jobs:
            return out
        values = [float(self.first[r, ids[0]]) for r, ids in jobs]
        longer = [j for j, (_, ids) in enumerate(jobs) if len(ids) > 1]
        if longer:
            rows = torch.tensor([jobs[j][0] for j in longer])
            steps = max(len(jobs[j][1]) for j in longer) - 1
            written = torch.full((len(longer), steps), self.eos, dtype=torch.long)
            for k, j in enumerate(longer):  # each target but its last token, right-padded (padding reads nothing)
                written[k, :len(jobs[j][1]) - 1] = torch.tensor(jobs[j][1][:-1])
            mask = torch.cat([self.mask[rows], torch.ones(len(longer), steps, dtype=torch.long)], dim=1)
            # the output layer only where a target token is predicted: after each written token but the padding
            at_rows = [k for k, j in enumerate(longer) for _ in range(len(jobs[j][1]) - 1)]
            at_steps = [c for j in longer for c in range(len(jobs[j][1]) - 1)]
            wanted = [t for j in longer for t in jobs[j][1][1:]]
            logprobs = self._step(rows, cache_rows(self.cache, rows), written, mask,
                                  at=(torch.tensor(at_rows), torch.tensor(at_steps)))
            picked = logprobs.gather(1, torch.tensor(wanted).unsqueeze(1)).squeeze(1).tolist()
            for k, value in zip(at_rows, picked):
                values[longer[k]] += value
        for (r, _), value in zip(jobs, values):
            out[r].append(value)
        return out


def pairs_from_rows(rows: Sequence[dict[str, Any]], rng: random.Random, keep_share: float = 0.05
                    ) -> list[tuple[str, str]]:
    """(prompt, target) pairs: every fixable span of the rows (MLQE-PE spans only where a reader without the source
    could see them; other spans of the row stay in its text, as they do in real text), and "keep" examples, a few
    unflagged words whose target is themselves, so that the rewriter learns to leave good words alone."""
    from mtfix.text.tokens import tokenize

    out: list[tuple[str, str]] = []
    for row in rows:
        text = row["text"]
        for s in trainable_spans(row):
            out.append((prompt(text, s["start"], s["end"]), target_of(s["fix"])))
        if rng.random() < keep_share or not row["spans"]:
            free = [t for t in tokenize(text) if not any(t.start < s["end"] and s["start"] < t.end
                                                         for s in row["spans"])]
            if free:
                j = rng.randrange(len(free))
                k = min(len(free), j + rng.choice((1, 1, 2)))
                start, end = free[j].start, free[k - 1].end
                out.append((prompt(text, start, end), text[start:end]))
    rng.shuffle(out)
    return out


def trainable_spans(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The row's spans a rewriter is trained to fix: those with a fix that changes the text, of a labelled kind,
    and on MLQE-PE only where a reader without the source could see them."""
    text, mlqe = row["text"], row["source"].startswith("mlqe")
    return [s for s in row["spans"] if s.get("fix") is not None and s["label"] != "untagged"
            and text[s["start"]:s["end"]] != s["fix"] and (not mlqe or s.get("visible"))]


def sentence_target(row: dict[str, Any]) -> str:
    """The row's text with every trainable span fixed (the others left as they are): what a full-sentence
    rewriter writes, given what the span rewriter is given span by span (a built data set's spans never overlap:
    data.build.check_example)."""
    from mtfix.text.spans import Edit, apply_edits

    return apply_edits(row["text"], [Edit(s["start"], s["end"], s["fix"]) for s in trainable_spans(row)])


def sentence_pairs(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """(prompt, target) pairs for a full-sentence rewriter, one per row: the whole segment marked, its fixed text
    the target (a row with nothing to fix: itself). Trained only to compare it with the span rewriter
    (docs/corrector.md); the corrector rewrites spans."""
    return [(prompt(row["text"], 0, len(row["text"])), sentence_target(row)) for row in rows]


def detector_pairs(rows: Sequence[dict[str, Any]], detected: Sequence[Sequence[tuple[int, int]]]
                   ) -> list[tuple[str, str]]:
    """(prompt, target) pairs on the spans a detector flagged in rows whose gold spans carry fixes, so that the
    rewriter meets the spans it will meet ("the two guides", "one Explosion", a word beside the damage): the
    target is the flagged text with every gold fix inside it applied; a flag on no gold span keeps its words (a
    false flag, to leave alone); a flag that cuts a gold span in two is left out (its fix is not defined)."""
    out: list[tuple[str, str]] = []
    for row, flags in zip(rows, detected):
        text = row["text"]
        gold = sorted((s for s in row["spans"] if s.get("fix") is not None and s["label"] != "untagged"),
                      key=lambda s: (s["start"], s["end"]))
        for start, end in flags:
            inside, cut = [], False
            for g in gold:
                if start <= g["start"] and g["end"] <= end and (g["start"] < g["end"] or start < g["start"] < end
                                                                 or start == end == g["start"]):
                    inside.append(g)
                elif g["start"] < end and start < g["end"]:
                    cut = True
            if cut:
                continue
            written, at = [], start
            for g in inside:
                written.append(text[at:g["start"]] + g["fix"])
                at = g["end"]
            written.append(text[at:end])
            out.append((prompt(text, start, end), target_of("".join(written))))
    return out


def guarded(text: str, span: Any, replacement: str, window: tuple[int, int]) -> bool:
    """The guards kept for the LM rewriter: options never proposed whatever their scores. Measured on the dev fit
    slice (scripts/eval_corrector.py fit, at --min-score 0.5), stubs (is_stub) and guesses at unreadable words
    (misreads) still took away only wrong edits; edits of codes (is_code), words in capitals replaced (drops_capitals)
    and changes of spelling convention (spelling_variant) stay where a model cannot know. The span decoder's
    loses_content and deletes_words took away more right edits of the rewriter than wrong ones (16 / 4, 3 / 0), so
    only deletions of a content word that repeats nothing beside it stay guarded (deletes_content); wipes_repeat
    and invents took away none."""
    from mtfix.correct.guards import (
        _around,
        drops_capitals,
        is_code,
        is_stub,
        loses_content,
        misreads,
        spelling_variant,
    )
    from mtfix.text.tokens import tokenize

    original = text[span.start:span.end]
    # deletes_content: a deletion that takes with it a content word repeating nothing beside it ("energy
    # projectsWhich" -> "energy"), loses_content narrowed to deletions, the edits a reader cannot undo
    deletes_content = not replacement.strip() and loses_content(text, span, replacement, window)
    return (is_code(original) or is_stub(original, replacement) or misreads(original, replacement)
            or spelling_variant(original, replacement) or deletes_content
            or drops_capitals(original, replacement, [t.text for t in tokenize(_around(text, span, window))]))


def rewriter_item(text: str, span: Any, left: int = 48, right: int = 24) -> tuple[str, int, int]:
    """What the rewriter reads for a span: its sentence (at most ``left`` words before the span and ``right``
    after it, as it was trained on sentences, not whole paragraphs), with the span's offsets in it."""
    from mtfix.correct.guards import lm_window

    lo, hi = lm_window(text, span, left, right)
    return text[lo:hi], span.start - lo, span.end - lo


class RewriteCorrector(Corrector):
    """The corrector on the language model: for each span, the rewriter's n-best and the candidate generator's
    proposals (spelling, case, spacing, pronouns, articles; pivot siblings ranked in context), each scored by the
    rewriter (its log-probability against writing the span unchanged) and by the base LM over the span's sentence
    (against the original), ranked by the reranking stage with keeping the original always one of the choices."""

    def __init__(self, rewriter: Rewriter, rerank: Any = None, beams: int = 4, min_score: float | None = None,
                 swap_score: float | None = None, batch_size: int = 32, lm: Any = None, generator: Any = None,
                 pivots_in_context: bool = True) -> None:
        from mtfix.correct.base import Rerank

        self.rewriter, self.beams, self.batch_size = rewriter, beams, batch_size
        self.rerank = rerank or Rerank(softmax=True)
        self._lm, self._generator, self.encoder = lm, generator, None
        self.guards, self.pivots_in_context = True, pivots_in_context  # guards False: to measure each rule on dev
        self.min_score, self.swap_score, self.follow_score = bars(self.rerank, min_score, swap_score)

    @classmethod
    def load(cls, path: str, lm: Any = None, **kwargs: Any) -> "RewriteCorrector":
        """The adapters in ``path`` with their reranking stage (rerank.json), on the model of ``lm`` (a
        LanguageModelScorer: the detector's), else on SmolLM2 loaded once for both the rewriter and the scorer."""
        from mtfix.correct.base import Rerank
        from mtfix.detect.lm import LanguageModelScorer
        from mtfix.errors import MtfixError

        record = Path(path) / "rewriter.json"
        if record.exists() and json.loads(record.read_text()).get("task", "span") != "span":
            raise MtfixError(f"{path} holds a full-sentence rewriter (train_rewriter --sentence, for comparison "
                             "only); the corrector needs span rewriter adapters")
        if lm is None:
            lm = LanguageModelScorer()
        rewriter = Rewriter.load(path, lm.model, lm.tokenizer)
        return cls(rewriter, Rerank.load(Path(path) / "rerank.json"), lm=lm, **kwargs)

    def candidates(self, texts: Sequence[str], spans: Sequence[Sequence[Any]]) -> list[list[tuple[Any, list[Any]]]]:
        """For each span, its options against keeping the original, with both gains and their traits."""
        from mtfix.correct.base import Option, generated
        from mtfix.correct.guards import lm_window
        from mtfix.correct.siblings import ranked_siblings
        from mtfix.text.tokens import tokenize

        jobs = [(i, span) for i, per_text in enumerate(spans) for span in per_text]
        items = [rewriter_item(texts[i], span) for i, span in jobs]
        tokens = {i: tokenize(texts[i]) for i in {i for i, _ in jobs}}  # each text once, whatever its spans
        pivots = ranked_siblings(self.lm, self.generator, texts, jobs, tokens) if self.pivots_in_context else None
        options: list[dict[str, Any]] = []
        for b in range(0, len(jobs), self.batch_size):
            # each span's prompt read once: the beam search and the scoring of every option continue from it
            read = self.rewriter.read(items[b:b + self.batch_size])
            found = read.nbest(self.beams)
            per_chunk: list[dict[str, Any]] = []
            for k, ((i, span), best) in enumerate(zip(jobs[b:b + self.batch_size], found), start=b):
                original = texts[i][span.start:span.end]
                per: dict[str, Any] = {}
                for text, _ in best:
                    if text != original and text.strip() != original.strip():
                        per[text] = Option(text, "rewrite", 0.0)
                for text, kind in generated(self.generator, texts[i], tokens[i], span, (pivots or {}).get(k)):
                    if text not in per:
                        per[text] = Option(text, kind, 0.0)
                for o in per.values():
                    o.words_delta = len(tokenize(o.replacement)) - len(tokenize(original))
                per_chunk.append(per)
            # every option and the original, teacher-forced: the rewriter's gain over writing the span unchanged
            values = read.logprob([[item[0][item[1]:item[2]]] + [o.replacement for o in per.values()]
                                   for item, per in zip(items[b:b + self.batch_size], per_chunk)])
            for per, (keep, *gains) in zip(per_chunk, values):
                for o, value in zip(per.values(), gains):
                    o.corrector_gain = value - keep
            options += per_chunk
        out: list[list[tuple[Any, list[Any]]]] = [[] for _ in texts]
        windows: dict[tuple[int, int, int], tuple[int, int]] = {}
        for (i, span), per in zip(jobs, options):
            window = windows[(i, span.start, span.end)] = lm_window(texts[i], span)
            out[i].append((span, [o for o in per.values()
                                  if not self.guards or not guarded(texts[i], span, o.replacement, window)]))
        self._lm_gains(texts, out, windows)
        return out
