"""Experiment (docs/decisions.md): the detector tries the three most frequent pivot siblings of a surprising word
(for "started": "used, left, posted"; "launched" never). Would trying them all (up to 40, the corrector's
number), so that the best in context sets the candidates' contrast, find more with the head as fitted? The
fitting documents of `mtfix train document` (synthetic and apertium round trips with labels, clean news), read by
the shipped detector each way, each document at the threshold that follows its MT probability (from that
reading; the rise below the cut swept); word recall and precision, clean news flags per 1,000, seconds.

    python scripts/exp_siblings_in_context.py [--test]
"""
from __future__ import annotations

import json
import sys
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
    test = "--test" in sys.argv[1:]
    folder = MODELS / "detector"
    detector = FusedDetector.load(str(folder), str(folder / "fused"))
    head, follow = load_heads(folder)["fused"], load_follow(folder)
    docs = [d for d in build_docs(SHARED_DATA, 13, 40, 8) if d.role == ("test" if test else "fit") and
            ((d.family in ("synthetic", "apertium") and d.spans) or d.source in NEWS)]
    generator = detector.generator
    frequent = generator.siblings
    for name, limit in (("three most frequent", None), ("all, up to 40", 40)):
        generator.siblings = (lambda word, limit=None, most=limit:
                              frequent(word, limit if limit is not None else most))
        rows = []  # (document, MT probability, [(P(BAD), artifact)] of its words)
        started = time.time()
        for doc in docs:
            evidence = detector.evidence(doc.lines, detector.contexts(doc.lines, ""))
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
        for high in (follow.high, 0.38, 0.40, 0.42, 0.44, 0.46):
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
            print(name, f"under the cut from {high:g}", json.dumps(out), flush=True)
    generator.siblings = frequent


if __name__ == "__main__":
    main()
