"""Experiment (docs/decisions.md): would the rewriter's reranker separate right meaning swaps from wrong ones with
features of their own (a meaning swap's LM gain, rewriter gain, LM rank among the span's options, apart from the
other options'), fitted on a slice with more pivot swaps than the shipped dev fit slice?

From `scripts/eval_corrector.py crossval --cache` (the scored options of a slice; `--split train`: rows neither
model trained on): two-fold cross-validation (folds by the text's md5, as crossval's), per variant: edits right /
wrong per gold span of pivot swaps and of the other classes, and edits on spans to keep, at each bar (min-score
and swap bar at once, as in a document that reads as translated).

    python scripts/exp_rerank_swaps.py --cache runs/rr/train.pt --data runs/data/dataset --split train \
        --per-family '{"synthetic": 300, "mlqe-pe": 100, "apertium": 150}'
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

BARS = (0.35, 0.4, 0.45, 0.5)
EXTRA = ("swap", "swap_lm", "swap_s2s", "swap_best", "swap_margin", "swap_similar")


def extra_traits(original: str, options: list) -> None:
    """The meaning-swap features: each of the option's own evidence, only where the option is a meaning swap."""
    from mtfix.correct.guards import is_swap

    for o in options:
        s = float(is_swap(original, o.replacement))
        o.traits.update({"swap": s, "swap_lm": s * o.traits["lm_log"], "swap_s2s": s * o.corrector_gain,
                         "swap_best": s * o.traits["lm_best"], "swap_margin": s * o.traits["lm_margin"],
                         "swap_similar": s * o.traits["similar"]})


def main() -> None:
    import eval_corrector as ec

    from mtfix.correct import base, rerank
    from mtfix.correct.base import Rerank
    from mtfix.correct.guards import lm_window, span_traits
    from mtfix.correct.rewriter import RewriteCorrector, guarded
    from mtfix.models import MODELS
    from mtfix.training.common import family

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--per-family", type=ec.per_family_arg, required=True)
    parser.add_argument("--out", type=Path, help="write the fitted variants' rerank.json files here")
    args = parser.parse_args()

    rows = ec.dev_slices(args.data, str(MODELS / "rewriter"), args.per_family, args.split)["fit"]
    golds, _ = ec.probes(rows)
    found = torch.load(args.cache, weights_only=False)
    assert len(found) == len(golds), "the cache was made from another slice"
    for gold, per_text in zip(golds, found):
        for k, (span, options) in enumerate(per_text):
            window = lm_window(gold.text, span)
            options = [o for o in options if not guarded(gold.text, span, o.replacement, window)]
            span_traits(gold.text, span, options, window)
            extra_traits(gold.text[span.start:span.end], options)
            per_text[k] = (span, options)
    targets = rerank.choice_targets(golds, found)
    kinds = sorted({o.kind for per_text in found for _, options in per_text for o in options})
    fold = [int(hashlib.md5(g.text.encode()).hexdigest(), 16) % 2 for g in golds]
    corrector = RewriteCorrector.load(str(MODELS / "rewriter"), min_score=0.5)
    shipped = corrector.rerank
    spans = sum(len(p) for p in found)
    pivots = sum(s.label == "pivot" for p in found for s, _ in p)
    print(f"{len(golds)} rows, {spans} spans, {pivots} pivot swaps", file=sys.stderr)

    def tally(rr: Rerank, rows_at: list[int], counts: dict) -> None:
        corrector.rerank = rr
        for i in rows_at:
            fam = family(rows[i]["source"])
            for (span, options), want in zip(found[i], targets[i]):
                ranked = corrector.choose(options)
                group = "keep" if span.label == "keep" else "pivot" if span.label == "pivot" else fam
                for bar in BARS:
                    c = counts.setdefault((bar, group), [0, 0, 0])
                    c[2] += 1
                    if not ranked or ranked[0][1] < bar:
                        continue
                    c[0 if span.label != "keep" and want and ranked[0][0] is options[want - 1] else 1] += 1

    variants = {"shipped (not refitted)": None, "refit, shipped traits": (), "refit + meaning-swap traits": EXTRA}
    report = {}
    for name, extra in variants.items():
        counts: dict = {}
        if extra is None:
            tally(shipped, list(range(len(golds))), counts)
        else:
            traits = base.TRAITS + tuple(extra)
            rerank.TRAITS = traits
            for k in (0, 1):
                train = [i for i in range(len(golds)) if fold[i] != k]
                rr = rerank.fit_rerank([golds[i] for i in train], [found[i] for i in train], kinds)
                tally(rr, [i for i in range(len(golds)) if fold[i] == k], counts)
            rerank.TRAITS = base.TRAITS
            if args.out:
                rerank.TRAITS = traits
                rr = rerank.fit_rerank(golds, found, kinds)
                rerank.TRAITS = base.TRAITS
                args.out.mkdir(parents=True, exist_ok=True)
                (args.out / f"refit-{len(extra)}.json").write_text(json.dumps(rr.__dict__, indent=2))
        report[name] = {f"{bar:g} {group}": c for (bar, group), c in sorted(counts.items())}
        print(f"## {name}")
        groups = sorted({g for _, g in counts})
        print("| bar | " + " | ".join(f"{g}: right / wrong of" for g in groups) + " |")
        print("|---|" + "---|" * len(groups))
        for bar in BARS:
            print(f"| {bar:g} | " + " | ".join("{} / {} of {}".format(*counts[(bar, g)]) for g in groups) + " |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
