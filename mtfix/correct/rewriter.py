"""The LM span rewriter: SmolLM2 with LoRA adapters (peft) that reads a segment with one span marked and writes the
span's replacement (empty: delete it; at a zero-width span: what to insert). Its n-best, by beam search with each
option's log-probability, is one service meant for both stages: the corrector's options and the detector's
contrast candidates.

Training (`mtfix train rewriter`, scripts/train_rewriter.py) tunes only the adapters on top of the frozen base
model the detector already loads, so what ships is the adapters alone.
"""
from __future__ import annotations

import contextlib
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from mtfix.correct import Corrector

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
    encoded = [encode_pair(tokenizer, s, t, eos) for s, t in pairs]
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

    def nbest(self, items: Sequence[tuple[str, int, int]], n: int = 4, batch_size: int = 16,
              max_new_tokens: int = 24) -> list[list[tuple[str, float]]]:
        """For each (text, start, end): up to ``n`` replacements with their log-probabilities, best first."""
        tok = self.tokenizer
        eos = tok.eos_token_id
        out: list[list[tuple[str, float]]] = []
        for b in range(0, len(items), batch_size):
            chunk = items[b:b + batch_size]
            encoded = [tok(prompt(*item), add_special_tokens=False)["input_ids"] for item in chunk]
            width = max(len(e) for e in encoded)
            ids = torch.full((len(chunk), width), eos, dtype=torch.long)
            mask = torch.zeros(len(chunk), width, dtype=torch.long)
            for r, e in enumerate(encoded):  # left padding: every prompt ends where generation starts
                ids[r, width - len(e):] = torch.tensor(e)
                mask[r, width - len(e):] = 1
            with self.adapted() as model:
                generated = model.generate(
                    input_ids=ids, attention_mask=mask, num_beams=n, num_return_sequences=n, do_sample=False,
                    max_new_tokens=max_new_tokens, length_penalty=0.0, early_stopping=True, eos_token_id=eos,
                    pad_token_id=eos, return_dict_in_generate=True, output_scores=True)
            scores = generated.sequences_scores.tolist()
            for r, item in enumerate(chunk):
                options: dict[str, float] = {}
                for k in range(n):
                    seq = generated.sequences[r * n + k, width:].tolist()
                    if eos in seq:
                        seq = seq[:seq.index(eos)]
                    text = as_replacement(*item, tok.decode(seq, skip_special_tokens=True).strip())
                    score = scores[r * n + k]
                    if text not in options and not math.isnan(score):
                        options[text] = score
                out.append(sorted(options.items(), key=lambda kv: -kv[1]))
        return out

    def logprob(self, items: Sequence[tuple[str, int, int]], targets: Sequence[str], batch_size: int = 16
                ) -> list[float]:
        """For each (text, start, end) and a replacement of the span (as ``nbest`` gives them; the span's own text
        for keeping it): the log-probability (nats) that the model writes it, its end included."""
        tok = self.tokenizer
        eos = tok.eos_token_id
        encoded = [encode_pair(tok, prompt(*item), target_of(t), eos, max_tokens=256)
                   for item, t in zip(items, targets)]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
        out = [0.0] * len(encoded)
        inner = self.model.get_base_model()
        with self.adapted():
            for b in range(0, len(order), batch_size):
                idx = order[b:b + batch_size]
                width = max(len(encoded[i][0]) for i in idx)
                ids = torch.full((len(idx), width), eos, dtype=torch.long)
                mask = torch.zeros(len(idx), width, dtype=torch.long)
                for r, i in enumerate(idx):
                    ids[r, :len(encoded[i][0])] = torch.tensor(encoded[i][0])
                    mask[r, :len(encoded[i][0])] = 1
                hidden = inner.model(input_ids=ids, attention_mask=mask).last_hidden_state
                rows, cols, owner = [], [], []
                for r, i in enumerate(idx):
                    seq, start = encoded[i]
                    for c in range(start - 1, len(seq) - 1):
                        rows.append(r)
                        cols.append(c)
                        owner.append(i)
                rows_t, cols_t = torch.tensor(rows), torch.tensor(cols)
                logits = inner.lm_head(hidden[rows_t, cols_t]).float().log_softmax(-1)
                picked = logits.gather(1, ids[rows_t, cols_t + 1].unsqueeze(1)).squeeze(1).tolist()
                for i, value in zip(owner, picked):
                    out[i] += value
        return out


def pairs_from_rows(rows: Sequence[dict[str, Any]], rng: random.Random, keep_share: float = 0.05
                    ) -> list[tuple[str, str]]:
    """(prompt, target) pairs: every fixable span of the rows (MLQE-PE spans only where a reader without the source
    could see them; other spans of the row stay in its text, as they do in real text), and "keep" examples, a few
    unflagged words whose target is themselves, so that the rewriter learns to leave good words alone."""
    from mtfix.text.tokens import tokenize

    out: list[tuple[str, str]] = []
    for row in rows:
        text, mlqe = row["text"], row["source"].startswith("mlqe")
        spans = [s for s in row["spans"] if s.get("fix") is not None and s["label"] != "untagged"
                 and text[s["start"]:s["end"]] != s["fix"] and (not mlqe or s.get("visible"))]
        for s in spans:
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


def guarded(text: str, span: Any, replacement: str, window: tuple[int, int]) -> bool:
    """The guards kept for the LM rewriter: options never proposed whatever their scores. Measured on the dev fit
    slice (scripts/eval_corrector.py fit, at --min-score 0.5), stubs (is_stub) and guesses at unreadable words
    (misreads) still took away only wrong edits; edits of codes (is_code), words in capitals replaced (drops_capitals)
    and changes of spelling convention (spelling_variant) stay where a model cannot know. The span decoder's
    loses_content and deletes_words took away more right edits of the rewriter than wrong ones (16 / 4, 3 / 0), so
    only deletions of a content word that repeats nothing beside it stay guarded (deletes_content); wipes_repeat
    and invents took away none."""
    from mtfix.correct import _around, drops_capitals, is_code, is_stub, loses_content, misreads, spelling_variant
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
    from mtfix.correct import lm_window

    lo, hi = lm_window(text, span, left, right)
    return text[lo:hi], span.start - lo, span.end - lo


class RewriteCorrector(Corrector):
    """The corrector on the language model: for each span, the rewriter's n-best and the candidate generator's
    proposals (spelling, case, spacing, pivot siblings, pronouns, articles), each scored by the rewriter (its
    log-probability against writing the span unchanged) and by the base LM over the span's sentence (against the
    original), ranked by the reranking stage with keeping the original always one of the choices."""

    def __init__(self, rewriter: Rewriter, rerank: Any = None, beams: int = 4, min_score: float | None = None,
                 swap_score: float | None = None, batch_size: int = 16, lm: Any = None, generator: Any = None
                 ) -> None:
        from mtfix.correct import Rerank

        self.rewriter, self.beams, self.batch_size = rewriter, beams, batch_size
        self.rerank = rerank or Rerank(softmax=True)
        self._lm, self._generator, self.encoder = lm, generator, None
        self.guards = True  # False: keep the options ``guarded`` rules out (to measure each rule on dev)
        self.min_score = self.rerank.min_score if min_score is None else min_score
        self.swap_score = swap_score if swap_score is not None else self.rerank.swap_score

    @classmethod
    def load(cls, path: str, lm: Any = None, **kwargs: Any) -> "RewriteCorrector":
        """The adapters in ``path`` with their reranking stage (rerank.json), on the model of ``lm`` (a
        LanguageModelScorer: the detector's), else on SmolLM2 loaded once for both the rewriter and the scorer."""
        from mtfix.correct import Rerank
        from mtfix.detect.lm import LanguageModelScorer

        if lm is None:
            lm = LanguageModelScorer()
        rewriter = Rewriter.load(path, lm.model, lm.tokenizer)
        return cls(rewriter, Rerank.load(Path(path) / "rerank.json"), lm=lm, **kwargs)

    def candidates(self, texts: Sequence[str], spans: Sequence[Sequence[Any]]) -> list[list[tuple[Any, list[Any]]]]:
        """For each span, its options against keeping the original, with both gains and their traits."""
        from mtfix.correct import Option, generated, lm_window
        from mtfix.text.tokens import tokenize

        jobs = [(i, span) for i, per_text in enumerate(spans) for span in per_text]
        items = [rewriter_item(texts[i], span) for i, span in jobs]
        tokens: dict[int, list[Any]] = {}  # each text tokenised once, whatever its number of spans
        nbest = self.rewriter.nbest(items, n=self.beams, batch_size=self.batch_size) if items else []
        options: list[dict[str, Any]] = []
        for (i, span), found in zip(jobs, nbest):
            original = texts[i][span.start:span.end]
            per: dict[str, Any] = {}
            for text, _ in found:
                if text != original and text.strip() != original.strip():
                    per[text] = Option(text, "rewrite", 0.0)
            if i not in tokens:
                tokens[i] = tokenize(texts[i])
            for text, kind in generated(self.generator, texts[i], tokens[i], span):
                if text not in per:
                    per[text] = Option(text, kind, 0.0)
            for o in per.values():
                o.words_delta = len(tokenize(o.replacement)) - len(tokenize(original))
            options.append(per)
        # every option and the original, teacher-forced: the rewriter's gain over writing the span unchanged
        scored = [(k, None) for k in range(len(jobs))] + [(k, o) for k, per in enumerate(options)
                                                          for o in per.values()]
        targets = [o.replacement if o else items[k][0][items[k][1]:items[k][2]] for k, o in scored]
        values = self.rewriter.logprob([items[k] for k, _ in scored], targets, self.batch_size) if scored else []
        keep = values[:len(jobs)]
        for (k, o), value in zip(scored[len(jobs):], values[len(jobs):]):
            o.s2s_gain = value - keep[k]
        out: list[list[tuple[Any, list[Any]]]] = [[] for _ in texts]
        windows: dict[tuple[int, int, int], tuple[int, int]] = {}
        for (i, span), per in zip(jobs, options):
            window = windows[(i, span.start, span.end)] = lm_window(texts[i], span)
            out[i].append((span, [o for o in per.values()
                                  if not self.guards or not guarded(texts[i], span, o.replacement, window)]))
        self._lm_gains(texts, out, windows)
        return out
