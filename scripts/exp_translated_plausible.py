"""Experiment (docs/decisions.md): would the translated head find fluent wrong words (lm-plausible swaps: words
SmolLM2 itself proposes) if it were also fine-tuned on them? The fitting documents of `mtfix train translated`
(those that read as translated), plus a copy of each synthetic one whose undamaged lines get one lm-plausible swap
each; fine-tuned, calibrated and thresholded as the trainer does; measured on the same test documents, and written
as a copy of the detector folder for `scripts/eval_sense_swaps.py --model`.

    python scripts/exp_translated_plausible.py --out runs/translated-plausible [--save /tmp/det-plausible]
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
from dataclasses import replace
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/translated-plausible"))
    parser.add_argument("--save", help="a copy of the detector folder with this head")
    parser.add_argument("--cache", default="runs/document/read40.jsonl")
    args = parser.parse_args()
    torch.set_num_threads(2)

    from mtfix.cli.data import SHARED_DATA
    from mtfix.data.build import default_resources, next_words
    from mtfix.data.corrupt import corrupt
    from mtfix.detect.document import load_follow, load_heads
    from mtfix.detect.fuse import FusedDetector
    from mtfix.models import MODELS
    from mtfix.training.calibration import fit_platt
    from mtfix.training.document import build_docs, read_docs, word_rows
    from mtfix.training.translated import (
        LABELLED,
        best_threshold,
        figures,
        fine_tune,
        join,
        logits,
        probabilities,
        read_words,
        save_translated,
        word_families,
    )

    folder = MODELS / "detector"
    document, follow = load_heads(folder)["fused"], load_follow(folder)
    docs = [d for d in build_docs(SHARED_DATA, 13, 40, 8)
            if d.family in (*LABELLED, "clean") and (d.spans is not None or d.family == "clean")]
    detector = FusedDetector.load(str(folder), str(folder / "fused"))
    cache = Path(args.cache)
    read = read_docs(detector, docs, cache, print, follow.siblings)
    translated = [doc for doc, p, *_ in word_rows(docs, read, document) if follow.translated(p)]
    found = read_words(detector, translated, follow.siblings, cache.with_name(cache.stem + ".words.pt"), print)
    fit = [d for d in translated if d.role == "fit"]
    test = [d for d in translated if d.role == "test"]

    resources = default_resources()
    resources.plausible = next_words(detector.scorer.model, detector.scorer.tokenizer)
    rng = random.Random(13)
    variants = []
    for doc in fit:
        if doc.family != "synthetic":
            continue
        lines, spans = [], []
        for line, marked in zip(doc.lines, doc.spans):
            made = corrupt(line, rng, resources, only=["lm-plausible"]) if not marked else None
            lines.append(made[0] if made is not None else line)
            spans.append([(s.start, s.end) for s in made[1]] if made is not None else marked)
        variants.append(replace(doc, id=f"{doc.id}:plausible", lines=lines, spans=spans))
    args.out.mkdir(parents=True, exist_ok=True)
    found.update(read_words(detector, variants, follow.siblings, args.out / "words.pt", print))
    report = {"variants": len(variants), "swaps": sum(len(s) for v in variants for s in v.spans)
              - sum(len(s) for d in fit if d.family == "synthetic" for s in d.spans)}
    test_words = join([found[d.id] for d in test])
    test_gold, test_families = test_words.gold[test_words.word], word_families(test, found)
    for name, chosen in (("fit documents (the shipped recipe)", fit), ("fit documents and their variants",
                                                                        fit + variants)):
        words = join([found[d.id] for d in chosen])
        gold = words.gold[words.word]
        tuned = fine_tune(detector.head, detector.config, words, 1e-3, 30, 13)
        temperature, bias = fit_platt(logits(tuned, detector.config, words), gold)
        config = replace(detector.config, temperature=temperature, bias=bias)
        plain = join([found[d.id] for d in fit])  # the threshold on the fit documents as they are
        threshold = best_threshold(probabilities(tuned, config, plain), plain.gold[plain.word],
                                   word_families(fit, found))
        report[name] = {"threshold": threshold, "test": figures(probabilities(tuned, config, test_words), test_gold,
                                                                 test_families, threshold)}
        print(json.dumps({name: report[name]}), flush=True)
    if args.save:
        shutil.copytree(folder, args.save, dirs_exist_ok=True)
        save_translated(tuned, config, Path(args.save), report)
        points = json.loads((Path(args.save) / "points.json").read_text())
        (Path(args.save) / "points.json").write_text(json.dumps({**points, "follow_translated": threshold}, indent=1))
    (args.out / "report.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
