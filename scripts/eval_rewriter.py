"""The LM span rewriter against the shipped corrector, given gold spans of dev (never test).

    python scripts/eval_rewriter.py --data runs/data/dataset --rewriter runs/rewriter [--per-kind 25 --apertium 100]

Draws --per-kind gold spans of each synthetic kind and --apertium spans of apertium round trips from the dev
split (seeded), and for each asks: is the fix the rewriter's first choice, is it in its 4-best; is it the shipped
corrector's first option (no bar: the corrector's own ranking, keeping the original aside), in its top 4; and is
it in the union of both 4-bests. Prints a Markdown table per kind and the time each took per span.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict


def gold_spans(dev, per_kind: int, apertium: int, seed: int) -> list[tuple[str, str, int, int, str]]:
    """(kind, text, start, end, fix) for the drawn spans: one span per row, rows in a seeded order."""
    rng = random.Random(seed)
    order = list(range(len(dev)))
    rng.shuffle(order)
    want: dict[str, int] = defaultdict(int)
    out = []
    for i in order:
        row = dev[i]
        source = row["source"]
        if source.startswith("synthetic"):
            budget = per_kind
        elif source.startswith("apertium"):
            budget = apertium
        else:
            continue
        spans = [s for s in row["spans"] if s["fix"] is not None and row["text"][s["start"]:s["end"]] != s["fix"]]
        if not spans:
            continue
        span = rng.choice(spans)
        kind = span["label"] if source.startswith("synthetic") else "apertium"
        if want[kind] >= budget:
            continue
        want[kind] += 1
        out.append((kind, row["text"], span["start"], span["end"], span["fix"]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--rewriter", required=True, help="the adapters' folder")
    parser.add_argument("--per-kind", type=int, default=25)
    parser.add_argument("--apertium", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--n", type=int, default=4, help="n-best size (default 4)")
    parser.add_argument("--multi-word", type=int, default=0, metavar="N",
                        help="also N multi-word damage spans (neighbouring corruptions, clause order), made from the "
                             "dev split's clean sentences (the data set holds none)")
    parser.add_argument("--no-shipped", action="store_true", help="the rewriter alone (skip the span decoder)")
    args = parser.parse_args(argv)

    import datasets

    import mtfix
    from mtfix.correct.rewriter import Rewriter
    from mtfix.models import shipped_corrector
    from mtfix.text.spans import Span

    dev = datasets.load_from_disk(args.data)["dev"]
    items = gold_spans(dev, args.per_kind, args.apertium, args.seed)
    if args.multi_word:
        from mtfix.data.build import multi_word_rows
        from mtfix.data.corrupt import MULTI_WORD

        for row in multi_word_rows(dev, args.multi_word, args.seed):
            items += [(s["label"], row["text"], s["start"], s["end"], s["fix"]) for s in row["spans"]
                      if s["label"] in MULTI_WORD]
    print(f"{len(items)} gold dev spans", file=sys.stderr)
    started = time.time()
    rewriter = Rewriter.load(args.rewriter)
    ours = rewriter.nbest([(t, s, e) for _, t, s, e, _ in items], n=args.n)
    rewriter_s = (time.time() - started) / len(items)
    if not args.no_shipped:
        corrector = mtfix.load(fast=True, corrector=str(shipped_corrector())).corrector  # the span decoder
    started = time.time()
    theirs: list[list[str]] = []
    for _, text, start, end, _ in [] if args.no_shipped else items:
        (per_text,) = corrector.candidates([text], [[Span(start, end)]]) or [[]]
        options = per_text[0][1] if per_text else []
        theirs.append([o.replacement for o, _ in corrector.choose(options)] if options else [])
    corrector_s = (time.time() - started) / len(items)  # 0 with --no-shipped
    table: dict[str, list[int]] = defaultdict(lambda: [0] * 6)
    for (kind, _, _, _, fix), mine, shipped in zip(items, ours, theirs or [[]] * len(items)):
        mine_texts = [t for t, _ in mine]
        row = table[kind]
        row[0] += 1
        row[1] += int(bool(mine_texts) and mine_texts[0] == fix)
        row[2] += int(fix in mine_texts[:args.n])
        row[3] += int(bool(shipped) and shipped[0] == fix)
        row[4] += int(fix in shipped[:args.n])
        row[5] += int(fix in mine_texts[:args.n] or fix in shipped[:args.n])
    total = [sum(r[k] for r in table.values()) for k in range(6)]
    print(f"| kind | spans | rewriter 1-best | rewriter {args.n}-best | shipped 1-best | shipped top {args.n} | "
          "either |")
    print("|---|---|---|---|---|---|---|")
    for kind in sorted(table):
        r = table[kind]
        print(f"| {kind} | {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} |")
    print(f"| **all** | {total[0]} | **{total[1]}** | **{total[2]}** | **{total[3]}** | **{total[4]}** | "
          f"**{total[5]}** |")
    print(f"\nseconds per span: rewriter beam {args.n} {rewriter_s:.2f}, shipped corrector {corrector_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
