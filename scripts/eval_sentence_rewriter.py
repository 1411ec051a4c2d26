"""Span rewriting against full-sentence rewriting by the same model, trained alike, on dev rows (never test).

    python scripts/train_rewriter.py --data runs/data/dataset --out runs/cmp-span --minutes 30
    python scripts/train_rewriter.py --data runs/data/dataset --out runs/cmp-sentence --minutes 30 --sentence
    python scripts/eval_sentence_rewriter.py --data runs/data/dataset --span runs/cmp-span \\
        --sentence runs/cmp-sentence [--per-kind 15 --apertium 60 --clean 60]

Draws dev rows (seeded): --per-kind rows of each synthetic kind, --apertium apertium round trips, each row's spans
all fixable (so its fixed text is defined), and --clean clean news sentences. The span rewriter is given each gold
span and writes its replacement (beam 4); the row is fixed when every span's first choice is its fix. The sentence
rewriter is given the whole row marked and writes it again; the row is fixed when its first choice is the fixed
text. For the sentence rewriter also: rows not fixed where it changed words outside every gold span, and clean
sentences it changed (the span rewriter never sees a clean sentence whole: the detector decides what it reads). Prints a
Markdown table per kind and the seconds each took per row.
"""
from __future__ import annotations

import argparse
import difflib
import random
import sys
import time
from collections import defaultdict


def drawn_rows(dev, per_kind: int, apertium: int, clean: int, seed: int) -> list[tuple[str, dict]]:
    """(kind, row) for the drawn rows, in a seeded order: synthetic and apertium rows whose every span is one a
    rewriter is trained to fix, and single clean news sentences (kind "clean")."""
    from mtfix.correct.rewriter import trainable_spans

    rng = random.Random(seed)
    order = list(range(len(dev)))
    rng.shuffle(order)
    want: dict[str, int] = defaultdict(int)
    out = []
    for i in order:
        source = dev[i]["source"]
        if source.startswith("synthetic"):
            kind, budget = source.split(":", 1)[1], per_kind
        elif source.startswith("apertium"):
            kind, budget = "apertium", apertium
        elif source.startswith("clean:") and not source.endswith((":window", "post-edit-dev", "wikipedia")):
            kind, budget = "clean", clean
        else:
            continue
        if want[kind] >= budget:
            continue
        row = dev[i]
        spans = trainable_spans(row)
        if (kind == "clean") == bool(row["spans"]) or len(spans) != len(row["spans"]):
            continue
        want[kind] += 1
        out.append((kind, row))
    return out


def outside(text: str, written: str, spans: list[dict]) -> bool:
    """Whether ``written`` changes ``text`` anywhere outside the gold spans (by characters; an insertion at a
    span's edge counts as inside it)."""
    matcher = difflib.SequenceMatcher(None, text, written, autojunk=False)
    for op, a, b, _, _ in matcher.get_opcodes():
        if op != "equal" and not any(s["start"] <= a and b <= s["end"] for s in spans):
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--span", required=True, help="the span rewriter's adapters")
    parser.add_argument("--sentence", required=True, help="the sentence rewriter's adapters (train_rewriter "
                                                          "--sentence)")
    parser.add_argument("--per-kind", type=int, default=15)
    parser.add_argument("--apertium", type=int, default=60)
    parser.add_argument("--clean", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--n", type=int, default=4, help="beam width (default 4)")
    args = parser.parse_args(argv)

    import datasets

    from mtfix.correct.rewriter import Rewriter, sentence_target, trainable_spans

    dev = datasets.load_from_disk(args.data)["dev"]
    rows = drawn_rows(dev, args.per_kind, args.apertium, args.clean, args.seed)
    print(f"{len(rows)} dev rows", file=sys.stderr)
    fixed = [sentence_target(row) for _, row in rows]

    rewriter = Rewriter.load(args.span)
    items, owner = [], []
    for r, (_, row) in enumerate(rows):
        for s in trainable_spans(row):
            items.append((row["text"], s["start"], s["end"]))
            owner.append((r, s["fix"]))
    started = time.time()
    options = rewriter.nbest(items, n=args.n)
    span_s = time.time() - started
    span_first = [True] * len(rows)
    span_any = [True] * len(rows)
    for (r, fix), opts in zip(owner, options):
        written = [t for t, _ in opts]
        span_first[r] &= bool(written) and written[0] == fix
        span_any[r] &= fix in written

    rewriter = Rewriter.load(args.sentence)
    started = time.time()
    whole = rewriter.nbest([(row["text"], 0, len(row["text"])) for _, row in rows], n=args.n)
    sentence_s = time.time() - started

    table: dict[str, list[int]] = defaultdict(lambda: [0] * 6)
    for (kind, row), target, span_1, span_n, opts in zip(rows, fixed, span_first, span_any, whole):
        written = [t.strip() for t, _ in opts]
        t = table[kind]
        t[0] += 1
        t[1] += int(span_1)
        t[2] += int(span_n)
        right = bool(written) and written[0] == target.strip()
        t[3] += int(right)
        t[4] += int(target.strip() in written)
        # a row fixed right never counts here (either copy of a repeated word may go, whichever the span is)
        t[5] += int(bool(written) and not right and outside(row["text"], written[0], row["spans"]))
    print("| kind | rows | span: fixed (1-best) | span: each fix in its 4-best | sentence: fixed (1-best) | "
          "sentence: in its 4-best | sentence: not fixed, words outside the spans changed |")
    print("|---|---|---|---|---|---|---|")
    damaged = [0] * 6
    for kind in sorted(table):
        t = table[kind]
        if kind == "clean":
            continue
        damaged = [a + b for a, b in zip(damaged, t)]
        print(f"| {kind} | {' | '.join(map(str, t[:5]))} | {t[5]} |")
    print(f"| **damaged rows** | {damaged[0]} | **{damaged[1]}** | **{damaged[2]}** | **{damaged[3]}** | "
          f"**{damaged[4]}** | **{damaged[5]}** |")
    if "clean" in table:
        t = table["clean"]
        print(f"\nclean news sentences: {t[0]}; the sentence rewriter changed {t[0] - t[3]} of them")
    n_rows = len(rows)
    print(f"\nseconds per row, beam {args.n}: span rewriter {span_s / max(1, damaged[0]):.2f} "
          f"({len(items)} spans, {span_s / max(1, len(items)):.2f} per span), sentence rewriter "
          f"{sentence_s / max(1, n_rows):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
