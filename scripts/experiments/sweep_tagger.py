"""How long the tagger trains: variants of `mtfix train detector` (passes, learning rate) fitted on its exact
training draw and compared on dev, with the tagger alone, at thresholds that keep dev clean news at 1, 3 and 10
flags per 1,000 words: word MCC on the MLQE-PE dev segments outside the fusion head's dev sample (3,378) and word
recall on synthetic dev (the first 2,000 segments).

On a GPU machine without the data set: write the draw and the dev sets here, carry the file (and the encoder),
train there (each variant starts from the pretrained encoder, seed 13, the draw's order of batches):

    python scripts/experiments/sweep_tagger.py --data runs/data/dataset --export runs/tagger-windows.pkl.gz
    python scripts/experiments/sweep_tagger.py --windows runs/tagger-windows.pkl.gz --device cuda \\
        --variants '[{"epochs": 3}, {"epochs": 1}, {"epochs": 3, "lr_encoder": 1e-4}, {"epochs": 5}]' \\
        --save-best runs/tagger-best
    python scripts/experiments/sweep_tagger.py --windows runs/tagger-windows.pkl.gz --evaluate models/detector

A larger draw is exported alike (`--mix`, the JSON of `mtfix train detector --mix`); the shipped tagger's draw is
that command's default since stop 20:

    python scripts/experiments/sweep_tagger.py --data runs/data/dataset --export runs/tagger-windows-m2.pkl.gz \
        --mix '{"clean": 18000, "mlqe-pe": 18000, "synthetic": 16000, "apertium": 3000}'

--save-best keeps the variant with the best MLQE-PE MCC at 3 flags per 1,000 (uncalibrated: refit its temperature
and threshold with `scripts/train_detector.py --recalibrate --out FOLDER`, which also needs a training.json).
"""
from __future__ import annotations

import argparse
import gzip
import json
import pickle
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

BUDGETS = (1.0, 3.0, 10.0)


def export(data: str, path: Path, mix: dict[str, int] | None = None) -> None:
    """The tagger's training windows (the draw of `mtfix train detector --mix MIX`, its default mix when None) and
    the dev sets."""
    import datasets
    from transformers import AutoTokenizer

    from mtfix.detect.train import (FusionTrainConfig, TrainConfig, family, fusion_dev_sample, is_news,
        labelled_windows, minilm_dir, sample_mix)

    config = TrainConfig(data=data, out="", **({"mix": mix} if mix else {}))
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    dd = datasets.load_from_disk(data)
    rng = random.Random(config.seed)
    rows = sample_mix(dd["train"], config.mix, rng)
    state = rng.getstate()  # train() goes on drawing its batches from here
    dev = dd["dev"]
    taken = {r["text"] for r in fusion_dev_sample(dev, FusionTrainConfig(data=data, tagger="", out=""))}
    sets = {"clean": [r for r in dev if is_news(r["source"])][:config.dev_segments],
            "unused": [r for r in dev if family(r["source"]) == "mlqe-pe" and r["text"] not in taken],
            "synthetic": [r for r in dev if family(r["source"]) == "synthetic"][:2000]}
    found = {"train": labelled_windows(rows, tokenizer, config.invisible_weight), "state": state, "mix": config.mix,
             "evals": {name: labelled_windows(rs, tokenizer, 1.0) for name, rs in sets.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        pickle.dump(found, f)
    print(f"wrote {path}: {len(rows):,} training segments, dev " + ", ".join(
        f"{name} {len(rs):,}" for name, rs in sets.items()), file=sys.stderr)


def evaluate(model, evals: dict) -> dict[str, float]:
    """MLQE-PE MCC and synthetic recall of the tagger alone at each clean-news budget."""
    from mtfix.detect.train import clean_threshold, predict_logits, word_mcc

    p = {}
    for name, windows in evals.items():
        logits, labels = predict_logits(model, windows, 256)
        p[name] = (logits.softmax(-1)[:, 1], labels.bool())
    found = {}
    for budget in BUDGETS:
        threshold = clean_threshold(p["clean"][0], budget)
        found[f"mcc@{budget:g}"] = word_mcc(p["unused"][0] >= threshold, p["unused"][1])
        probs, gold = p["synthetic"]
        found[f"recall@{budget:g}"] = float((probs >= threshold)[gold].float().mean())
    return found


def row(name: str, steps: str, minutes: str, m: dict[str, float]) -> str:
    return (f"| {name} | {steps} | {minutes} | " + " | ".join(f"{m[f'mcc@{b:g}']:.3f}" for b in BUDGETS) + " | "
            + " | ".join(f"{m[f'recall@{b:g}']:.3f}" for b in BUDGETS) + " |")


def main() -> int:
    from mtfix.detect.train import json_object

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="the DatasetDict folder of mtfix data build (with --export)")
    parser.add_argument("--export", type=Path, metavar="FILE", help="write the draw and dev sets to FILE and stop")
    parser.add_argument("--mix", type=json_object,
                        help="with --export: the draw of `mtfix train detector --mix MIX` (JSON; default: its default "
                             "mix)")
    parser.add_argument("--windows", type=Path, metavar="FILE", help="the file --export wrote")
    parser.add_argument("--variants", default='[{"epochs": 1}, {"epochs": 3}]',
                        help="JSON list of TrainConfig settings to try, e.g. [{\"epochs\": 3, \"lr_encoder\": 1e-4}]")
    parser.add_argument("--encoder", default="", help="pretrained encoder folder (default: the MiniLM package)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--save-best", type=Path, metavar="FOLDER", help="save the best variant (fp16) here")
    parser.add_argument("--evaluate", metavar="FOLDER", help="only score this trained tagger on the dev sets")
    args = parser.parse_args()
    from mtfix.detect.train import TrainConfig, device_problem, fit_tagger, minilm_dir

    if args.export:
        if not args.data:
            parser.error("--export needs --data")
        export(args.data, args.export, args.mix)
        return 0
    if not args.windows or not args.windows.exists():
        parser.error("give --windows FILE (written by --export)")
    if device_problem(args.device):
        parser.error(device_problem(args.device))
    try:
        variants = json.loads(args.variants)
        configs = [replace(TrainConfig(data="", out="", device=args.device), **v) for v in variants]
    except (ValueError, TypeError) as e:
        parser.error(f"--variants: {e}")
    from mtfix.detect.tagger import ArtifactTagger

    with gzip.open(args.windows, "rb") as f:
        found = pickle.load(f)
    lines = ["| tagger | steps | minutes | " + " | ".join(f"MLQE-PE dev MCC at {b:g} clean flags/1k" for b in BUDGETS)
             + " | " + " | ".join(f"synthetic dev recall at {b:g}" for b in BUDGETS) + " |",
             "|---|---|---|" + "---|" * 2 * len(BUDGETS)]
    if args.evaluate:
        model = ArtifactTagger.from_pretrained(args.evaluate, dtype=torch.float32).to(args.device)
        lines.append(row(args.evaluate, "", "", evaluate(model, found["evals"])))
        print("\n".join(lines))
        return 0
    best = None
    for variant, config in zip(variants, configs):
        torch.manual_seed(config.seed)
        rng = random.Random()
        rng.setstate(found["state"])
        model = ArtifactTagger.from_encoder(args.encoder or minilm_dir(), case_freq=True).float()
        started = time.time()
        steps = fit_tagger(model, found["train"], config, rng, lambda msg: None)
        minutes = (time.time() - started) / 60
        measures = evaluate(model.to(args.device), found["evals"])
        name = ", ".join(f"{k} {v}" for k, v in variant.items())
        lines.append(row(name, f"{steps:,}", f"{minutes:.1f}", measures))
        print(lines[-1], file=sys.stderr, flush=True)
        if args.save_best and (best is None or measures["mcc@3"] > best):
            best = measures["mcc@3"]
            model.half().save_pretrained(args.save_best)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
