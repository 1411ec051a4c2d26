"""Experiment (docs/decisions.md): the server flags each line of a request at the threshold of that line read as
a document of its own, while it reports the request's MT probability from all its lines. Should a request's lines
follow the request instead? Each fitting (or --test: held-out) document of `mtfix train document` (8 lines, from
the cached readings) taken as a request of 8 lines: word recall and precision of the labelled round trips and
clean news flags per 1,000, each line at the threshold of its own MT probability against that of the whole
document's; the shipped head and follow point.

    python scripts/exp_request_document.py [--test]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from mtfix.cli.data import SHARED_DATA
from mtfix.detect.document import Tally, load_follow, load_heads
from mtfix.models import MODELS
from mtfix.points import read_points
from mtfix.score import word_labels
from mtfix.text.spans import Span
from mtfix.text.tokens import is_word, tokenize
from mtfix.training.document import NEWS, build_docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", default="runs/document/read.jsonl")
    parser.add_argument("--test", action="store_true")
    args = parser.parse_args()
    folder = MODELS / "detector"
    head, follow = load_heads(folder)["fused"], load_follow(folder)
    default = read_points(folder)["fused_threshold"]
    read = {}
    for line in Path(args.cache).read_text().splitlines():
        row = json.loads(line)
        read[row["id"]] = row
    role = "test" if args.test else "fit"
    docs = [d for d in build_docs(SHARED_DATA, 13, 40, 8) if d.role == role and d.id in read]
    for name in ("each line its own", "the whole request"):
        per: dict[str, list[int]] = {}
        words = flags = 0
        for doc in docs:
            labelled = doc.spans is not None
            if not labelled and doc.source not in NEWS:
                continue
            tallies = [Tally.from_json(t) for t in read[doc.id]["fused"]]
            whole = head.probability(sum(tallies, Tally()))
            for k, line in enumerate(doc.lines):
                p = head.probability(tallies[k]) if name == "each line its own" else whole
                t = follow.threshold(p, default)
                tokens = tokenize(line)
                gold = [Span(a, b, "gold", 1.0) for a, b in doc.spans[k]] if labelled else []
                for tok, x, bad in zip(tokens, read[doc.id]["probs"][k], word_labels(tokens, gold)):
                    if not is_word(tok):
                        continue
                    if doc.source in NEWS:
                        words += 1
                        flags += x >= t
                    elif doc.family != "clean":
                        hit = per.setdefault(doc.family, [0, 0, 0])
                        hit[0] += x >= t and bad
                        hit[1] += x >= t
                        hit[2] += bad
        out = {"clean news flags per 1k": round(1000 * flags / max(words, 1), 2)}
        out.update({f: {"recall": round(tp / max(g, 1), 3), "precision": round(tp / max(n, 1), 3)}
                    for f, (tp, n, g) in sorted(per.items())})
        print(role, name, json.dumps(out))


if __name__ == "__main__":
    main()
