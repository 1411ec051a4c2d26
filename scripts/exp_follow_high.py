"""Experiment (docs/decisions.md): the word threshold follows the document downwards only (0.280, then 0.2 from an
MT probability of 0.8). Would a higher threshold below the cut bring clean documents to the issue's 1.5 flags per
1,000 words while translated documents keep theirs? From `mtfix train document`'s cached readings (its documents,
the shipped head and follow point): per threshold below the cut, clean news flags per 1,000 words and word recall /
precision per labelled family, on the fitting documents and (--test) on the held-out ones.

    python -m mtfix train document --cache runs/document/read.jsonl     # the readings, once
    python scripts/exp_follow_high.py [--test]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

HIGH = (0.28, 0.30, 0.32, 0.34, 0.36, 0.38, 0.40, 0.45)


def main() -> None:
    from mtfix.cli.data import SHARED_DATA
    from mtfix.detect.document import load_follow, load_heads
    from mtfix.detect.fuse import FusedDetector
    from mtfix.models import shipped_detector
    from mtfix.training.document import build_docs, follow_figures, read_docs, word_rows

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", default="runs/document/read.jsonl")
    parser.add_argument("--test", action="store_true", help="also the held-out documents (once)")
    args = parser.parse_args()
    folder = shipped_detector()
    head, follow = load_heads(folder)["fused"], load_follow(folder)
    docs = build_docs(Path(SHARED_DATA))
    read = read_docs(FusedDetector.load(str(folder), str(folder / "fused")), docs, Path(args.cache), print)
    roles = ["fit", "test"] if args.test else ["fit"]
    for role in roles:
        rows = word_rows([d for d in docs if d.role == role], read, head)
        under = {}
        for doc, p, *_ in rows:
            c = under.setdefault(doc.family, [0, 0])
            c[0] += p < follow.cut
            c[1] += 1
        print(role, "documents under the cut:", {k: f"{a}/{b}" for k, (a, b) in sorted(under.items())})
        for high in HIGH:
            def policy(p: float, high: float = high) -> float:
                return follow.low if p >= follow.cut else high

            figures = follow_figures(rows, policy)
            science = follow_figures([r for r in rows if r[0].family != "clean"
                                      or r[0].source == "clean:abc-science"], policy)["clean flags per 1k"]
            rates = {}  # the unlabelled families: flags per 1,000 words, what they lose under the cut
            for family in ("mlqe-pe", "mqm"):
                mine = [(probs, policy(p)) for doc, p, probs, _ in rows if doc.family == family]
                words = sum(len(probs) for probs, _ in mine)
                rates[family] = round(1000 * sum(x >= t for probs, t in mine for x in probs) / max(words, 1), 1)
            print(role, f"{high:g}", json.dumps({**figures, "abc-science flags per 1k": science,
                                                 "flags per 1k": rates}), flush=True)


if __name__ == "__main__":
    main()
