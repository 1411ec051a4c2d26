"""Experiment (docs/decisions.md): in a document that reads as translated, would the whole-window contrast's screen
at 4 nats instead of 10 (every word at least 4 nats surprising gets its candidates and the LM's own choice scored
in the whole window) find more, with the head as fitted (on the 10-nat evidence)? The fitting round-trip documents
of `mtfix train document` (synthetic and apertium, 8 lines, from the train and dev splits) read by the shipped
fused detector at either screen; word recall and precision at the threshold of a translated document (the
detector's follow_low), over the documents that read as translated, and the seconds each reading took.

    python scripts/exp_screen_translated.py [--documents 40]
"""
from __future__ import annotations

import argparse
import json
import time

from mtfix.cli.data import SHARED_DATA
from mtfix.detect.document import Tally, load_follow, load_heads, tally
from mtfix.detect.fuse import FusedDetector
from mtfix.models import MODELS
from mtfix.score import word_labels
from mtfix.text.spans import Span
from mtfix.text.tokens import is_word
from mtfix.training.document import build_docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=40, help="documents per family")
    parser.add_argument("--families", default="synthetic,apertium,mlqe-pe")
    args = parser.parse_args()
    folder = MODELS / "detector"
    detector = FusedDetector.load(str(folder), str(folder / "fused"))
    head, follow = load_heads(folder)["fused"], load_follow(folder)
    families = args.families.split(",")
    # the round trips whose words are labelled (their gold spans), the one-way MT unlabelled (flags per 1,000 words)
    docs = [d for d in build_docs(SHARED_DATA, 13, 40, 8) if d.role == "fit" and d.family in families
            and (d.spans or d.family in ("mlqe-pe", "mqm"))]
    fitted = dict(detector.config.full_contrast or {})
    report: dict = {}
    for family in families:
        chosen = [d for d in docs if d.family == family][:args.documents]
        read_as_translated: set[str] = set()  # from the reading at the fitted screen: the same documents for both
        for nats in (10.0, 4.0):
            detector.config.full_contrast = {**fitted, "screen_nats": nats}
            counts, seconds, translated, words = [0, 0, 0], 0.0, 0, 0
            for doc in chosen:
                started = time.time()
                evidence = detector.evidence(doc.lines, detector.contexts(doc.lines, ""))
                probs = detector.probabilities(evidence)
                seconds += time.time() - started
                if nats == 10.0:
                    total = sum((tally(s.tokens, p, t, s.surprisal, s.entropy) for (s, t), p in zip(evidence, probs)),
                                start=Tally())
                    if follow.translated(head.probability(total)):
                        read_as_translated.add(doc.id)
                if doc.id not in read_as_translated:
                    continue  # the lower screen would be paid only in a translated document
                translated += 1
                for k, ((scores, _), p) in enumerate(zip(evidence, probs)):
                    gold = [Span(a, b, "gold", 1.0) for a, b in doc.spans[k]] if doc.spans else []
                    for tok, x, bad in zip(scores.tokens, p, word_labels(scores.tokens, gold)):
                        if is_word(tok):
                            words += 1
                            flagged = x >= follow.low
                            counts[0] += flagged and bad
                            counts[1] += flagged
                            counts[2] += bad
            report[f"{family} {nats:g}"] = {"translated documents": translated,
                                            "recall": round(counts[0] / max(counts[2], 1), 3),
                                            "precision": round(counts[0] / max(counts[1], 1), 3),
                                            "flags per 1k": round(1000 * counts[1] / max(words, 1), 1),
                                            "seconds": round(seconds, 1)}
            print(json.dumps({f"{family} {nats:g}": report[f"{family} {nats:g}"]}), flush=True)
    detector.config.full_contrast = fitted or None


if __name__ == "__main__":
    main()
