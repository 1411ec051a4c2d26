"""Experiment (docs/decisions.md): the candidate a span's evidence names (the one with the best first-token
contrast: the terminal view's hint, the server's replacement where the corrector has none). With every pivot
sibling tried (up to 40, where the threshold follows the document) against the three most frequent: for dictionary
pivot swaps made in clean sentences of a split (as scripts/eval_sense_swaps.py makes them), how often is the
original word among the candidates, and how often is it the one named; among the swaps flagged at the threshold of
a translated document (the follow point's low), the same.

    python scripts/exp_named_candidate.py --data runs/data/dataset [--split dev] [--sentences 300]
"""
from __future__ import annotations

import argparse
import json
import random


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--sentences", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--kinds", default="pivot", help="the artifact kinds made, comma-separated (casing: the fix "
                                                         "compared with its case; the others without)")
    args = parser.parse_args()

    from datasets import load_from_disk

    from mtfix.detect.document import load_follow
    from mtfix.detect.fuse import FusedDetector
    from mtfix.models import shipped_detector
    from mtfix.training.evidence import rows_in_context

    split = load_from_disk(args.data)[args.split]
    order = [i for i in range(len(split)) if split[i]["source"].startswith("clean")]
    random.Random(args.seed).shuffle(order)
    path = shipped_detector()
    detector = FusedDetector.load(str(path), str(path / "fused"), lm_gate=0.0)
    follow = load_follow(path)
    contexts = dict(zip(order, rows_in_context([split[i] for i in order], detector.context) or []))
    for kind in args.kinds.split(","):
        measure(detector, follow, split, order, contexts, kind, args)


def measure(detector, follow, split, order, contexts, kind, args) -> None:  # type: ignore[no-untyped-def]
    from mtfix.data.build import default_resources
    from mtfix.data.corrupt import corrupt
    from mtfix.text.tokens import tokenize

    rng, resources, rows = random.Random(args.seed), default_resources(), []
    for i in order:
        if len(rows) >= args.sentences:
            break
        found = corrupt(split[i]["text"], rng, resources, only=[kind])
        if found is not None:
            text, (span,) = found
            rows.append((text, span, contexts.get(i, "")))
    same = (lambda a, b: a == b) if kind == "casing" else (lambda a, b: a.lower() == b.lower())
    texts, ctx = [t for t, *_ in rows], [c for *_, c in rows]
    for name, siblings in (("three most frequent", None), (f"up to {follow.siblings}", follow.siblings)):
        evidence = detector.evidence(texts, ctx, siblings)
        probs = detector.probabilities(evidence)
        counts = {"swaps": 0, "fix among candidates": 0, "fix named": 0, "flagged": 0, "flagged, fix named": 0,
                  "flagged, a candidate named": 0}
        for (text, span, _), (scores, _), p in zip(rows, evidence, probs):
            fix = span.fixes[0]
            inside = [j for j, t in enumerate(tokenize(text)) if t.start < span.end and span.start < t.end]
            cands = [cv for j in inside for cv in (scores.contrast[j] if scores.contrast else [])]
            named = max(cands, key=lambda cv: cv[1])[0].replacement if cands and max(
                v for _, v in cands) > 0 else None
            right = named is not None and same(named, fix)
            flagged = any(p[j] >= follow.low for j in inside)
            counts["swaps"] += 1
            counts["fix among candidates"] += any(same(c.replacement, fix) for c, _ in cands)
            counts["fix named"] += right
            counts["flagged"] += flagged
            counts["flagged, fix named"] += flagged and right
            counts["flagged, a candidate named"] += flagged and named is not None
        print(kind, name, json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()
