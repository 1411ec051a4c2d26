"""Training the span corrector on `mtfix data build` output: pieces, span examples, cached encoder states, loop,
calibration of the keep-or-edit score, shipping."""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from mtfix.correct.seq2seq import (
    CorrectorConfig,
    SpanCorrector,
    beam_search,
    scratch_encoder_config,
    sequence_logprob,
    teacher_batch,
)
from mtfix.correct.span_decoder import Pieces, marked_memory, sha1_of, span_input
from mtfix.detect.encode import SentenceInput
from mtfix.text.tokens import tokenize
from mtfix.training.calibration import fit_platt
from mtfix.training.common import device_problem, family, json_object, sample_mix


@dataclass
class CorrectorTrainConfig:
    data: str
    out: str
    tagger: str = ""                 # the detector folder whose encoder states the decoder reads ("" = shipped)
    encoder: str = "tagger"          # or "scratch": a small encoder over the pieces, trained with the decoder
    mix: dict[str, int] = field(default_factory=lambda: {"synthetic": 14000, "mlqe-pe": 9000, "apertium": 4000,
                                                         "clean": 3000})
    identity_share: float = 0.35     # per span example, this many "keep it" examples from unflagged words
    vocab_size: int = 8000
    layers: int = 3
    d_model: int = 384
    heads: int = 6
    ffn: int = 1024
    bf16: bool = False               # bfloat16 autocast for the training steps (CPUs with avx512_bf16, GPUs)
    device: str = "cpu"              # or "cuda": the encoder states, the decoder and its batches live there
    pieces: str = ""                 # an existing pieces.model to reuse ("" = train one on the references)
    rows: str = ""                   # rows written by export_rows, read instead of the data set ("" = the data set)
    dev_rows: int = 0                # dev segments per family for the calibration (0 = an eighth of the mix)
    batch_size: int = 64
    lr: float = 6e-4
    epochs: float = 3.0
    max_minutes: float = 0.0         # 0: no limit; else the learning rate decays to zero at this budget
    dev_examples: int = 1500
    seed: int = 13


@dataclass
class SpanExample:
    """Replace ``text[start:end]`` of segment ``segment`` by ``target`` (== the original for a keep example)."""

    segment: int
    start: int
    end: int
    target: str
    kind: str       # the span's label, or "keep"
    source: str


def span_examples(rows: Sequence[dict[str, Any]], rng: random.Random, identity_share: float
                  ) -> list[SpanExample]:
    """Every fixable span of the rows, and "keep" examples: 1-3 unflagged words whose target is themselves."""
    out: list[SpanExample] = []
    for i, row in enumerate(rows):
        text = row["text"]
        spans = [s for s in row["spans"] if s["fix"] is not None]
        for s in spans:
            if s["label"] != "untagged" and text[s["start"]:s["end"]] != s["fix"]:
                out.append(SpanExample(i, s["start"], s["end"], s["fix"], s["label"], row["source"]))
        tokens = [t for t in tokenize(text)
                  if not any(t.start < s["end"] and s["start"] < t.end or t.start == s["start"] for s in row["spans"])]
        keeps = (1 if rng.random() < identity_share else 0) * max(1, len(spans)) if spans else 1
        for _ in range(keeps if tokens else 0):
            j = rng.randrange(len(tokens))
            k = min(len(tokens), j + rng.choice((1, 1, 1, 2, 3)))
            while k > j + 1 and tokens[k - 1].start - tokens[j].end > 40:
                k -= 1
            out.append(SpanExample(i, tokens[j].start, tokens[k - 1].end,
                                   text[tokens[j].start:tokens[k - 1].end], "keep", row["source"]))
    return out


def train_pieces(rows: Iterator[str], out: Path, vocab_size: int) -> Pieces:
    """A cased sentencepiece vocabulary on the project's corpora (identity normalisation: every character kept,
    unknown ones as bytes), saved as out/pieces.model."""
    import sentencepiece as spm

    out.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=rows, model_prefix=str(out / "pieces"), vocab_size=vocab_size, model_type="unigram",
        character_coverage=0.9995, byte_fallback=True, normalization_rule_name="identity",
        remove_extra_whitespaces=False, add_dummy_prefix=False, pad_id=0, unk_id=1, bos_id=2, eos_id=3,
        user_defined_symbols=["<sep>"], input_sentence_size=400_000, shuffle_input_sentence=True,
        hard_vocab_limit=False,
        num_threads=2, minloglevel=2)
    return Pieces(str(out / "pieces.model"))


def sampled_rows(dd: Any, config: CorrectorTrainConfig, pieces_corpus: int = 300_000
                 ) -> tuple[random.Random, list[int], list[dict[str, Any]], list[dict[str, Any]]]:
    """The seeded draws of a training run, in order: the rows whose references train the pieces (what the
    decoder writes is clean English), the training rows, and the dev rows the calibration is fitted on.
    Evaluation scripts call it too, to keep those dev rows out of what they measure."""
    rng = random.Random(config.seed)
    corpus = rng.sample(range(len(dd["train"])), min(pieces_corpus, len(dd["train"])))
    train_rows = sample_mix(dd["train"], config.mix, rng)
    dev_mix = {k: max(1, min(config.dev_rows, v) if config.dev_rows else v // 8) for k, v in config.mix.items()}
    dev_rows = sample_mix(dd["dev"], dev_mix, rng)
    return rng, corpus, train_rows, dev_rows


_ROW_FIELDS = ("text", "source", "spans")


def export_rows(config: CorrectorTrainConfig, path: Path) -> tuple[int, int]:
    """Write the run's training and dev rows (text, source, spans) as xz-compressed JSON lines, so that a
    machine without the data set (a rented GPU) can train on exactly them with ``rows=path``."""
    import lzma

    import datasets

    dd = datasets.load_from_disk(config.data)
    _, _, train_rows, dev_rows = sampled_rows(dd, config)
    with lzma.open(path, "wt", encoding="utf-8") as f:
        for split, rows in (("train", train_rows), ("dev", dev_rows)):
            for row in rows:
                f.write(json.dumps({"split": split, **{k: row[k] for k in _ROW_FIELDS}}, ensure_ascii=False) + "\n")
    return len(train_rows), len(dev_rows)


def read_rows(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    import lzma

    train_rows: list[dict[str, Any]] = []
    dev_rows: list[dict[str, Any]] = []
    with lzma.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            (train_rows if row.pop("split") == "train" else dev_rows).append(row)
    return train_rows, dev_rows


@dataclass
class Prepared:
    """Span examples with their sentence inputs; for the tagger kind, the encoder states of each input."""

    examples: list[SpanExample]
    inputs: list[SentenceInput]
    which: list[tuple[int, list[int], int]]   # per example: input index, marked positions, mark id
    originals: list[list[int]]
    targets: list[list[int]]
    states: list[torch.Tensor] | None = None


def prepare(rows: Sequence[dict[str, Any]], examples: list[SpanExample], encoder: Any, pieces: Pieces,
            log: Callable[[str], None]) -> Prepared:
    """Sentence inputs for the segments, each example's marks, and (tagger kind) the cached encoder states."""
    inputs: list[SentenceInput] = []
    by_segment: dict[int, list[int]] = {}
    needed = sorted({e.segment for e in examples})
    for seg in needed:
        text = rows[seg]["text"]
        made = encoder.inputs(text, seg)
        by_segment[seg] = list(range(len(inputs), len(inputs) + len(made)))
        inputs += made
    which, originals, targets, kept = [], [], [], []
    for e in examples:
        text = rows[e.segment]["text"]
        found = span_input([inputs[k] for k in by_segment[e.segment]], text, e.start, e.end)
        if found is None:
            continue
        local, positions, mark = found
        which.append((by_segment[e.segment][local], positions, mark))
        originals.append(pieces.encode(text[e.start:e.end]))
        targets.append(pieces.encode(e.target))
        kept.append(e)
    prepared = Prepared(kept, inputs, which, originals, targets)
    if encoder.kind == "tagger":
        prepared.states = encoder.states(inputs, log=log)
    return prepared


def make_batches(n: int, size: int, lengths: Sequence[int], rng: random.Random) -> list[list[int]]:
    order = sorted(range(n), key=lambda i: lengths[i] + rng.random() * 8)
    out = [order[i:i + size] for i in range(0, n, size)]
    rng.shuffle(out)
    return out


def batch_memory(model: SpanCorrector, prepared: Prepared, idx: Sequence[int]
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Marked memory (spans, T, d) and its mask for examples ``idx``."""
    return marked_memory(model, prepared.inputs, prepared.states, [prepared.which[i] for i in idx])


def evaluate(model: SpanCorrector, prepared: Prepared, pieces: Pieces, beams: int = 4, batch_size: int = 64
             ) -> dict[str, Any]:
    """Dev loss, exact-fix rate of the 1-best per kind, and the (gain, right) pairs the calibration fits on."""
    model.eval()
    right: dict[str, list[int]] = {}
    gains, labels = [], []
    with torch.inference_mode():
        for b in range(0, len(prepared.examples), batch_size):
            idx = list(range(b, min(b + batch_size, len(prepared.examples))))
            memory, mask = batch_memory(model, prepared, idx)
            keep = sequence_logprob(model, memory, mask, [prepared.originals[i] for i in idx],
                                    [prepared.originals[i] for i in idx])
            nbest = beam_search(model, memory, mask, [prepared.originals[i] for i in idx], beams=beams)
            for r, i in enumerate(idx):
                e = prepared.examples[i]
                best = next((h for h in nbest[r] if h[0] != prepared.originals[i]), None)
                top = nbest[r][0][0] if nbest[r] else prepared.originals[i]
                right.setdefault(e.kind, []).append(int(pieces.decode(top) == e.target))
                if best is not None:
                    gains.append(best[1] - float(keep[r]))
                    labels.append(int(pieces.decode(best[0]) == e.target and e.kind != "keep"))
    model.train()
    exact = {k: sum(v) / len(v) for k, v in sorted(right.items())}
    return {"exact": exact, "n": {k: len(v) for k, v in sorted(right.items())},
            "gains": torch.tensor(gains), "labels": torch.tensor(labels)}


def train_corrector(config: CorrectorTrainConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train, calibrate and save a corrector; returns the training record (also written to training.json)."""
    from mtfix.correct.span_decoder import ScratchEncoder, TaggerEncoder

    if not config.rows:
        import datasets
    from mtfix.models import shipped_detector

    if config.rows and not config.pieces:
        raise ValueError("training from exported rows needs an existing pieces model (pieces=...)")
    torch.manual_seed(config.seed)
    started = time.time()
    out = Path(config.out)
    if config.rows:
        rng = random.Random(config.seed)
        train_rows, dev_rows = read_rows(Path(config.rows))
    else:
        dd = datasets.load_from_disk(config.data)
        rng, corpus, train_rows, dev_rows = sampled_rows(dd, config)
    if config.pieces:
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(config.pieces, out / "pieces.model")
        pieces = Pieces(str(out / "pieces.model"))
    else:
        log("corrector: training sentencepiece pieces")
        pieces = train_pieces((dd["train"][i]["reference"] for i in corpus), out, config.vocab_size)
    if config.device != "cpu":
        torch.set_default_device(config.device)  # batches, masks and beams are made where the model lives
    train_ex = span_examples(train_rows, rng, config.identity_share)
    dev_ex = span_examples(dev_rows, rng, config.identity_share)
    dev_ex = rng.sample(dev_ex, min(config.dev_examples, len(dev_ex)))
    log(f"corrector: {len(train_ex):,} training spans from {len(train_rows):,} segments, {len(dev_ex):,} dev")
    tagger_dir = Path(config.tagger) if config.tagger else shipped_detector()
    model_config = CorrectorConfig(vocab_size=pieces.size, layers=config.layers, encoder=config.encoder,
                                   sep_id=pieces.sep_id, d_model=config.d_model, heads=config.heads, ffn=config.ffn)
    if config.encoder == "tagger":
        assert tagger_dir is not None, "no detector to take the encoder states from"
        encoder: Any = TaggerEncoder.load(str(tagger_dir))
        encoder.tagger.to(config.device)
        model_config.tagger_sha1 = sha1_of(tagger_dir / "model.safetensors")
        model_config.encoder_hidden = encoder.hidden
    else:
        encoder = ScratchEncoder(pieces)
        model_config.scratch_encoder = scratch_encoder_config(pieces.size, config.d_model)
        model_config.encoder_hidden = config.d_model
    model = SpanCorrector(model_config)
    train = prepare(train_rows, train_ex, encoder, pieces, log)
    dev = prepare(dev_rows, dev_ex, encoder, pieces, log)
    log(f"corrector: inputs ready in {(time.time() - started) / 60:.1f} min")
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01)
    lengths = [len(train.inputs[k].input_ids) for k, _, _ in train.which]
    steps_per_epoch = math.ceil(len(train.examples) / config.batch_size)
    total = int(steps_per_epoch * config.epochs)
    train_start = time.time()
    budget = config.max_minutes * 60 - (train_start - started) if config.max_minutes else 0.0

    def progress(step: int) -> float:
        by_steps = step / max(1, total)
        return max(by_steps, (time.time() - train_start) / budget) if budget > 0 else by_steps

    step, seen, running = 0, 0, 0.0
    model.train()
    while progress(step) < 1.0:
        for idx in make_batches(len(train.examples), config.batch_size, lengths, rng):
            p = progress(step)
            if p >= 1.0:
                break
            for group in opt.param_groups:
                group["lr"] = config.lr * min(1.0, p / 0.05) * max(0.0, 1.0 - p)
            with torch.autocast(torch.device(config.device).type, dtype=torch.bfloat16, enabled=config.bf16):
                memory, mask = batch_memory(model, train, idx)
                ids, labels = teacher_batch(model_config, [train.originals[i] for i in idx],
                                            [train.targets[i] for i in idx])
                logits = model.decode(memory, mask, ids)
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.size(-1)), labels.reshape(-1),
                                                     ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
            step += 1
            seen += len(idx)
            if step % 100 == 0:
                log(f"corrector: step {step}/{total} spans {seen:,} loss {running:.3f} "
                    f"{(time.time() - train_start) / 60:.1f} min")
    minutes = (time.time() - started) / 60
    log(f"corrector: trained {step} steps in {minutes:.1f} min; evaluating on dev")
    result = evaluate(model, dev, pieces)
    if len(result["gains"]) and result["labels"].sum() > 0:
        temperature, bias = fit_platt(result["gains"], result["labels"])
        model_config.edit_temperature, model_config.edit_bias = temperature, bias
    record = {"config": asdict(config), "steps": step, "spans_seen": seen, "minutes": round(minutes, 1),
              "train_spans": len(train.examples), "dev_spans": len(dev.examples),
              "dev_exact": {k: round(v, 4) for k, v in result["exact"].items()}, "dev_n": result["n"],
              "edit_temperature": model_config.edit_temperature, "edit_bias": model_config.edit_bias,
              "sources": sorted({family(e.source) for e in train.examples}),
              "train_texts_sha1": hashlib.sha1("\n".join(r["text"] for r in train_rows).encode()).hexdigest()}
    save(model, out, record)
    log(f"corrector: dev exact-fix {json.dumps(record['dev_exact'])}; saved to {out}")
    return record


def save(model: SpanCorrector, out: Path, record: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(out)
    model.float()
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n")


USAGE = """Train the span corrector (the same as `mtfix train corrector`); the full run lives here, not in the tests.

    mtfix data build -o runs/data
    python scripts/train_corrector.py --data runs/data/dataset --out runs/corrector --minutes 35
    python scripts/train_corrector.py --data runs/data/dataset --out runs/corrector-scratch --encoder scratch

The default encoder is the shipped detector's MiniLM (frozen; its states are cached once, so the decoder trains
on them for several epochs); --encoder scratch trains a small encoder over the pieces with the decoder.

On a rented GPU without the data set: write the run's rows here, carry them, and train there on exactly them:

    mtfix train corrector --data runs/data/dataset --mix '{...}' --dev-rows 250 --export-rows runs/rows.jsonl.xz
    mtfix train corrector --rows runs/rows.jsonl.xz --pieces models/corrector/pieces.model --device cuda --bf16 \
        --batch-size 128 --minutes 6 --out runs/corrector-gpu
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mtfix train corrector", description=USAGE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = CorrectorTrainConfig(data="", out="")
    parser.add_argument("--data", default="", help="the DatasetDict folder written by mtfix data build")
    parser.add_argument("--out", default="", help="where to save the model (e.g. models/corrector)")
    parser.add_argument("--rows", default="", help="train on rows written by --export-rows instead of --data")
    parser.add_argument("--export-rows", metavar="FILE", default="",
                        help="write this run's training and dev rows to FILE (.jsonl.xz) and stop")
    parser.add_argument("--pieces", default="", help="reuse this sentencepiece model instead of training one")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--dev-rows", type=int, default=0,
                        help="dev segments per family for the calibration (default: an eighth of the mix)")
    parser.add_argument("--tagger", default="", help="the detector whose encoder it reads (default: models/detector)")
    parser.add_argument("--encoder", default="tagger", choices=["tagger", "scratch"])
    parser.add_argument("--mix", type=json_object, default=defaults.mix,
                        help="training segments per source family, JSON")
    parser.add_argument("--identity-share", type=float, default=defaults.identity_share,
                        help="keep-the-original examples per span example (default %(default)s)")
    parser.add_argument("--vocab-size", type=int, default=defaults.vocab_size)
    parser.add_argument("--layers", type=int, default=defaults.layers, help="decoder layers")
    parser.add_argument("--d-model", type=int, default=defaults.d_model, help="decoder width")
    parser.add_argument("--heads", type=int, default=defaults.heads)
    parser.add_argument("--ffn", type=int, default=defaults.ffn)
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (GPUs, CPUs with avx512_bf16)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--epochs", type=float, default=defaults.epochs)
    parser.add_argument("--minutes", type=float, default=0.0,
                        help="time budget, input preparation included; the learning rate decays to zero at its end")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    if device_problem(args.device):
        parser.error(device_problem(args.device))
    if not (args.data or args.rows):
        parser.error("give --data (the data set) or --rows (exported rows)")
    if not (args.out or args.export_rows):
        parser.error("give --out (where to save the model)")
    if args.rows and not args.pieces:
        parser.error("--rows needs --pieces (the pieces model the rows' run uses)")
    config = CorrectorTrainConfig(data=args.data, out=args.out, tagger=args.tagger, encoder=args.encoder,
                                  mix=args.mix, identity_share=args.identity_share,
                                  vocab_size=args.vocab_size, layers=args.layers, d_model=args.d_model,
                                  heads=args.heads, ffn=args.ffn, bf16=args.bf16, batch_size=args.batch_size,
                                  lr=args.lr, epochs=args.epochs, max_minutes=args.minutes, seed=args.seed,
                                  device=args.device, pieces=args.pieces, rows=args.rows, dev_rows=args.dev_rows)
    if args.export_rows:
        n_train, n_dev = export_rows(config, Path(args.export_rows))
        print(f"wrote {n_train:,} training and {n_dev:,} dev rows to {args.export_rows}", file=sys.stderr)
        return 0
    train_corrector(config, lambda msg: print(msg, file=sys.stderr, flush=True))
    return 0

