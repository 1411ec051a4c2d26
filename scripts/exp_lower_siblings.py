"""Experiment (docs/decisions.md): a word with a capital mid-sentence ("But she says Additional sanctions") gets a
case candidate ("additional") and pivot siblings with its capital ("Rider"); with up to 40 siblings tried, one of
them often reads better after the left context than the case fix, and the span names it. Would siblings in lower
case for such a word (where the threshold follows the document) name the fix more often without flagging more
clean news? The fitting documents of `mtfix train document` read live by the shipped detector as it reads where
the threshold follows, each at the threshold that follows it: word recall and precision, clean news flags per
1,000, and the named candidate of capital artifacts against their fix.

    python scripts/exp_lower_siblings.py
"""
from __future__ import annotations

import json
import time

from mtfix.cli.data import SHARED_DATA
from mtfix.detect.candidates import Candidate
from mtfix.detect.document import Tally, load_follow, load_heads, tally
from mtfix.detect.fuse import FusedDetector
from mtfix.models import MODELS
from mtfix.score import word_labels
from mtfix.text.spans import Span
from mtfix.text.tokens import is_word
from mtfix.training.document import NEWS, build_docs


def main() -> None:
    folder = MODELS / "detector"
    detector = FusedDetector.load(str(folder), str(folder / "fused"))
    head, follow = load_heads(folder)["fused"], load_follow(folder)
    docs = [d for d in build_docs(SHARED_DATA, 13, 40, 8) if d.role == "fit" and
            ((d.family in ("synthetic", "apertium") and d.spans) or d.source in NEWS)]
    generator = detector.generator
    shipped = generator.for_word

    def lowered(text, tokens, i, siblings=None):  # type: ignore[no-untyped-def]
        found = shipped(text, tokens, i, siblings)
        if siblings is None or not any(c.kind == "case" for c in found):
            return found
        low = tokens[i].text.lower()
        kept = [c for c in found if c.kind != "pivot"]
        return kept + [Candidate(c.start, c.end, c.replacement.lower(), "pivot") for c in found
                       if c.kind == "pivot" and c.replacement.lower() != low and
                       all(k.replacement != c.replacement.lower() for k in kept)]

    for name, fn in (("siblings with the word's capital (shipped)", shipped), ("siblings in lower case", lowered)):
        generator.for_word = fn
        started, per, words, flags, named = time.time(), {}, 0, 0, {"capital artifacts flagged": 0, "case fix named": 0}
        for doc in docs:
            evidence = detector.evidence(doc.lines, detector.contexts(doc.lines, ""), follow.siblings)
            probs = detector.probabilities(evidence)
            total = sum((tally(s.tokens, p, t, s.surprisal, s.entropy) for (s, t), p in zip(evidence, probs)),
                        start=Tally())
            t = follow.threshold(head.probability(total), detector.threshold)
            for k, ((scores, _), p) in enumerate(zip(evidence, probs)):
                gold = [Span(a, b, "gold", 1.0) for a, b in doc.spans[k]] if doc.spans else []
                for j, (tok, x, bad) in enumerate(zip(scores.tokens, p, word_labels(scores.tokens, gold))):
                    if not is_word(tok):
                        continue
                    if doc.source in NEWS:
                        words += 1
                        flags += x >= t
                        continue
                    hit = per.setdefault(doc.family, [0, 0, 0])
                    hit[0] += x >= t and bad
                    hit[1] += x >= t
                    hit[2] += bad
                    cands = scores.contrast[j] if scores.contrast else []
                    if bad and x >= t and any(c.kind == "case" for c, _ in cands):
                        named["capital artifacts flagged"] += 1
                        named["case fix named"] += max(cands, key=lambda cv: cv[1])[0].kind == "case"
        out = {"clean news flags per 1k": round(1000 * flags / max(words, 1), 2), **named,
               "seconds": round(time.time() - started)}
        out.update({f: {"recall": round(tp / max(g, 1), 3), "precision": round(tp / max(n, 1), 3)}
                    for f, (tp, n, g) in sorted(per.items())})
        print(name, json.dumps(out), flush=True)
    generator.for_word = shipped


if __name__ == "__main__":
    main()
