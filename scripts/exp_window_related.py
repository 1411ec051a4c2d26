"""Experiment (docs/decisions.md): the whole-window contrast (lm.FullContrast) scores one related candidate, the
one with the best first-token contrast, and the language model's own likeliest word. With every pivot sibling
tried where the threshold follows the document, would scoring the window for more of them (``related``) and more
of the model's own words (``choices``) find more, with the head as fitted? The fitting (or --test: held-out)
documents of `mtfix train document` read live as the detector reads where the threshold follows, each at the
threshold that follows it (the rise below the cut swept); word recall and precision, clean news flags per 1,000.

    python scripts/exp_window_related.py [--test] [--settings 1:1,3:1,3:3]
"""
from __future__ import annotations

import argparse
import json
import time

from mtfix.cli.data import SHARED_DATA
from mtfix.detect.document import Follow, Tally, load_follow, load_heads, tally
from mtfix.detect.fuse import FusedDetector
from mtfix.models import MODELS
from mtfix.score import word_labels
from mtfix.text.spans import Span
from mtfix.text.tokens import is_word
from mtfix.training.document import NEWS, build_docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test", action="store_true")
    parser.add_argument("--settings", default="3:1,3:3", help="related:choices pairs, comma-separated")
    args = parser.parse_args()
    folder = MODELS / "detector"
    detector = FusedDetector.load(str(folder), str(folder / "fused"))
    head, follow = load_heads(folder)["fused"], load_follow(folder)
    docs = [d for d in build_docs(SHARED_DATA, 13, 40, 8) if d.role == ("test" if args.test else "fit") and
            ((d.family in ("synthetic", "apertium") and d.spans) or d.source in NEWS)]
    fitted = detector.config.full_contrast or {}
    for setting in args.settings.split(","):
        related, choices = (int(x) for x in setting.split(":"))
        detector.config.full_contrast = {**fitted, "related": related, "choices": choices}
        rows, started = [], time.time()
        for doc in docs:
            evidence = detector.evidence(doc.lines, detector.contexts(doc.lines, ""), follow.siblings)
            probs = detector.probabilities(evidence)
            total = sum((tally(s.tokens, p, t, s.surprisal, s.entropy) for (s, t), p in zip(evidence, probs)),
                        start=Tally())
            marked = []
            for k, ((scores, _), p) in enumerate(zip(evidence, probs)):
                gold = [Span(a, b, "gold", 1.0) for a, b in doc.spans[k]] if doc.spans else []
                marked += [(x, bad) for tok, x, bad in zip(scores.tokens, p, word_labels(scores.tokens, gold))
                           if is_word(tok)]
            rows.append((doc, head.probability(total), marked))
        seconds = round(time.time() - started)
        for high in (follow.high, 0.42, 0.44, 0.46, 0.48, 0.50):
            rise = Follow(follow.cut, follow.low, high)
            per: dict[str, list[int]] = {}
            words = flags = 0
            for doc, p, marked in rows:
                t = rise.threshold(p, detector.threshold)
                if doc.source in NEWS:
                    words += len(marked)
                    flags += sum(x >= t for x, _ in marked)
                    continue
                hit = per.setdefault(doc.family, [0, 0, 0])
                hit[0] += sum(x >= t and bad for x, bad in marked)
                hit[1] += sum(x >= t for x, _ in marked)
                hit[2] += sum(bad for _, bad in marked)
            out = {"clean news flags per 1k": round(1000 * flags / max(words, 1), 2), "seconds": seconds}
            out.update({f: {"recall": round(tp / max(g, 1), 3), "precision": round(tp / max(n, 1), 3)}
                        for f, (tp, n, g) in sorted(per.items())})
            print(f"related {related}, choices {choices}, under the cut from {high:g}", json.dumps(out), flush=True)
    detector.config.full_contrast = fitted or None


if __name__ == "__main__":
    main()
