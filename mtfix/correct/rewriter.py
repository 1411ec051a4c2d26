"""The LM span rewriter: SmolLM2 with LoRA adapters (peft) that reads a segment with one span marked and writes the
span's replacement (empty: delete it; at a zero-width span: what to insert). Its n-best, by beam search with each
option's log-probability, is one service meant for both stages: the corrector's options and the detector's
contrast candidates.

Training (`mtfix train rewriter`, scripts/train_rewriter.py) tunes only the adapters on top of the frozen base
model the detector already loads, so what ships is the adapters alone.
"""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

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
    mix: dict[str, int] = field(default_factory=lambda: {"synthetic": 14000, "mlqe-pe": 9000, "apertium": 4000,
                                                         "clean": 3000})
    keep_share: float = 0.15        # share of "keep" examples (the target is the span itself)
    warmup: int = 50                # steps of linear warm-up
    steps: int = 0
    examples_seen: int = 0
    tokens_per_second: float = 0.0
    train_minutes: float = 0.0


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
    (out / "rewriter.json").write_text(json.dumps(asdict(config), indent=2) + "\n")


class Rewriter:
    """The adapted model, loaded on top of a base SmolLM2; ``nbest`` gives each span's replacements."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.model.eval()

    @classmethod
    def load(cls, path: str, base: Any = None, tokenizer: Any = None) -> "Rewriter":
        from peft import PeftModel

        if base is None:
            from mtfix.detect.lm import load_lm

            base, tokenizer = load_lm(torch.bfloat16)
        return cls(PeftModel.from_pretrained(base, path), tokenizer)

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
            with torch.inference_mode():
                generated = self.model.generate(
                    input_ids=ids, attention_mask=mask, num_beams=n, num_return_sequences=n, do_sample=False,
                    max_new_tokens=max_new_tokens, length_penalty=0.0, early_stopping=True, eos_token_id=eos,
                    pad_token_id=eos, return_dict_in_generate=True, output_scores=True)
            scores = generated.sequences_scores.tolist()
            for r in range(len(chunk)):
                options: dict[str, float] = {}
                for k in range(n):
                    seq = generated.sequences[r * n + k, width:].tolist()
                    if eos in seq:
                        seq = seq[:seq.index(eos)]
                    text = tok.decode(seq, skip_special_tokens=True).strip()
                    score = scores[r * n + k]
                    if text not in options and not math.isnan(score):
                        options[text] = score
                out.append(sorted(options.items(), key=lambda kv: -kv[1]))
        return out


def pairs_from_rows(rows: Sequence[dict[str, Any]], rng: random.Random, keep_share: float = 0.15
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
            out.append((prompt(text, s["start"], s["end"]), s["fix"]))
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
