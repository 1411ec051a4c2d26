"""The detector's review point: for one article under a person's eyes, where a reviewer trades false flags for
recall differently from a batch job. Fitted on dev clean news, measured on dev round-trip data beside the corpus
default; with --split test, measured once on held-out data (nothing is fitted then).

    python scripts/fit_review_point.py --data runs/data/dataset --budget 10 --write models/detector
    python scripts/fit_review_point.py --data runs/data/dataset --split test [--clean-rows 1500 --rows 1500]
    python scripts/fit_review_point.py --data runs/data/dataset --alone [--write models/detector]

The review point reads every segment with the language model (LM gate 0; a head fitted with context reads each row
after its document's previous sentences) and flags words at the threshold that keeps --budget words per 1,000 of
dev clean news flagged (fitted here on dev's ABC and State of the Union rows, the news the default threshold was
fitted on; MLQE-PE post-edits and Wikipedia are not clean news). The report: clean news flags per 1,000 words by
source, and the share of gold spans touched per class on synthetic and apertium rows, at
the corpus default (the shipped threshold and LM gate) and at the review point.

With --alone every row is read alone, as a JSONL record or --alone input is: a head that reads context then has a
review point of its own for that (the "alone_review" point, beside the corpus default's "alone" from
scripts/fit_alone_threshold.py), fitted and measured the same way.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

NEWS = ("clean:abc-", "clean:state-union")  # the clean news the default threshold was fitted on (not post-edits)


def rows_of(split, family: str, n: int, seed: int) -> list[dict]:
    if family == "clean":
        order = [i for i in range(len(split)) if split[i]["source"].startswith(NEWS)]
    else:
        order = [i for i in range(len(split)) if split[i]["source"].split(":")[0] == family]
    random.Random(seed).shuffle(order)
    return [split[i] for i in order[:n]]


def flagged(probs: list[float], threshold: float) -> list[bool]:
    return [p >= threshold for p in probs]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    parser.add_argument("--budget", type=float, default=10.0, help="clean flags per 1,000 words (default 10)")
    parser.add_argument("--clean-rows", type=int, default=1500)
    parser.add_argument("--rows", type=int, default=1000, help="synthetic and apertium rows each")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--write", metavar="FOLDER",
                        help="dev: write the fitted review threshold into this detector folder's points.json")
    parser.add_argument("--alone", action="store_true",
                        help="read every row alone (JSONL records, --alone): the review point for text read alone")
    parser.add_argument("--model", help="the detector folder (tagger, head in fused/; default: the shipped one)")
    parser.add_argument("--out", help="write the report here (Markdown)")
    args = parser.parse_args()

    from datasets import load_from_disk

    from mtfix.detect.fuse import FusedDetector
    from mtfix.models import shipped_detector
    from mtfix.text.tokens import tokenize
    from mtfix.training.evidence import rows_in_context

    split = load_from_disk(args.data)[args.split]
    path = Path(args.model) if args.model else shipped_detector()
    detector = FusedDetector.load(str(path), str(path / "fused"), lm_gate=0.0, alone=args.alone)
    alone = args.alone and bool(detector.config.context)  # a head that reads no context reads everything alone
    corpus_threshold, corpus_gate = detector.config.default_threshold(alone), detector.config.lm_gate
    review = detector.config.alone_review_threshold if alone else detector.config.review_threshold

    def probabilities(rows: list[dict]) -> tuple[list[list[float]], list[list[float]]]:
        """Every segment read by the LM (the review point; after its document's previous sentences where the head
        reads context), and the tagger's P for the corpus default's gate."""
        contexts = rows_in_context(rows, detector.context)
        evidence = detector.evidence([r["text"] for r in rows], contexts)
        return detector.probabilities(evidence), [tagger for _, tagger in evidence]

    def corpus(probs: list[float], tagger: list[float]) -> list[bool]:
        from mtfix.detect.fuse import lm_gated

        use = tagger if lm_gated(tagger, min(corpus_gate, corpus_threshold)) else probs
        return flagged(use, corpus_threshold)

    started = time.time()
    clean = rows_of(split, "clean", args.clean_rows, args.seed)
    c_probs, c_tagger = probabilities(clean)
    print(f"clean: {len(clean)} rows ({time.time() - started:.0f} s)", file=sys.stderr)
    if args.split == "dev":
        words = sorted((p for probs in c_probs for p in probs), reverse=True)
        allowed = int(len(words) * args.budget / 1000)
        review = words[allowed] + 1e-6 if allowed < len(words) else 0.0
        if args.write:
            from mtfix.points import write_points

            write_points(args.write, **{"alone_review" if alone else "review": review})
    if review is None:
        raise SystemExit(f"no review threshold{' for text read alone' if alone else ''}: fit one on dev first "
                         f"({'--alone ' if alone else ''}--write)")
    reading = ", every row read alone" if alone else ""
    lines = [f"### Review point ({args.split}{reading}): threshold {review:.4f} (fitted on dev clean news at "
             f"{args.budget:g} flags per 1,000 words), every segment read by the LM; corpus default: threshold "
             f"{corpus_threshold:.4f}, LM gate {corpus_gate:g}", "",
             "| clean news source | words | corpus default: flags per 1,000 | review point |", "|---|---|---|---|"]
    by_source: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row, probs, tagger in zip(clean, c_probs, c_tagger):
        entry = by_source[row["source"]]
        entry[0] += len(probs)
        entry[1] += sum(corpus(probs, tagger))
        entry[2] += sum(flagged(probs, review))
    total = [sum(v[k] for v in by_source.values()) for k in range(3)]
    for source, (n, a, b) in sorted(by_source.items()) + [("all", total)]:
        lines.append(f"| {source} | {n:,} | {1000 * a / max(n, 1):.2f} | {1000 * b / max(n, 1):.2f} |")
    lines += ["", "| class | gold spans | corpus default: touched | review point: touched |", "|---|---|---|---|"]
    touched: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for fam in ("synthetic", "apertium"):
        rows = [r for r in rows_of(split, fam, args.rows, args.seed) if r["spans"]]
        probs_all, tagger_all = probabilities(rows)
        for row, probs, tagger in zip(rows, probs_all, tagger_all):
            tokens = tokenize(row["text"])
            at_corpus, at_review = corpus(probs, tagger), flagged(probs, review)
            for span in row["spans"]:
                if span["label"] == "untagged":
                    continue
                lo, hi = span["start"], max(span["end"], span["start"] + 1)
                near = [j for j, t in enumerate(tokens) if t.start < hi and lo < t.end] or \
                    [j for j, t in enumerate(tokens) if t.end == lo or t.start == span["end"]]
                name = f"{fam}: {span['label']}" if fam == "synthetic" else "apertium (all)"
                entry = touched[name]
                entry[0] += 1
                entry[1] += any(at_corpus[j] for j in near)
                entry[2] += any(at_review[j] for j in near)
        print(f"{fam}: {len(rows)} rows ({time.time() - started:.0f} s)", file=sys.stderr)
    for name, (n, a, b) in sorted(touched.items()):
        lines.append(f"| {name} | {n} | {a / n:.2f} | {b / n:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
