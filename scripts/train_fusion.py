"""Train the fusion head that joins the tagger with language-model evidence (the same as `mtfix train fusion`).

Collects per-word evidence (tagger P(BAD), SmolLM2 surprisal, entropy, rank, neighbours, candidate contrast,
case and lexicon features) on the dev split and on train rows (--train-mix), neither of which the tagger trained
on; fits a small MLP and a logistic regression, each stacked (a second stage reads the first stage's logits of
the word's line), keeps the better on held-out dev words, calibrates it there, and saves it next to the tagger:

    python scripts/train_fusion.py --data runs/data/dataset --tagger models/detector --out models/detector/fused
"""
from __future__ import annotations

import argparse
import json
import sys

from mtfix.detect.train import FusionTrainConfig, budget, json_object, stack_width, train_fusion


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the DatasetDict folder written by mtfix data build")
    parser.add_argument("--tagger", required=True, help="the trained tagger (e.g. models/detector)")
    parser.add_argument("--out", required=True, help="where to save the head (e.g. models/detector/fused)")
    defaults = FusionTrainConfig(data="", tagger="", out="")
    parser.add_argument("--mix", type=json_object, default=defaults.mix, help="dev segments per source family, as JSON")
    parser.add_argument("--train-mix", type=json_object, default=defaults.train_mix,
                        help="more segments to fit on per family, as JSON, from the train split: only rows the "
                             "tagger never trained on ({} for none)")
    parser.add_argument("--clean-news", type=int, default=defaults.clean_news,
                        help="dev clean-news segments that fix the default threshold")
    parser.add_argument("--train-news", type=int, default=defaults.train_news,
                        help="train-split clean-news segments that fix the threshold beside dev's, none sharing a "
                             "sentence with a row the tagger or the head trained on: more news, less drift on unseen "
                             f"news (0: dev's alone; default {defaults.train_news})")
    parser.add_argument("--clean-flags", type=budget, default=defaults.clean_flags_per_1k,
                        help="flags per 1,000 clean-news words (dev's and --train-news's) that the default threshold "
                             f"allows, and the budget heads are compared at (default {defaults.clean_flags_per_1k:g})")
    parser.add_argument("--invisible-weight", type=float, default=defaults.invisible_weight,
                        help="weight of MLQE-PE BAD words that a monolingual reader cannot see")
    parser.add_argument("--family-weight", type=json_object, default=defaults.family_weight,
                        help="weight of each source family's words, as JSON (others weigh 1)")
    parser.add_argument("--hidden", default=",".join(map(str, defaults.hidden)),
                        help="head sizes to compare (0: logistic regression)")
    parser.add_argument("--cache", default=defaults.cache, help="evidence cache (reused while inputs match)")
    parser.add_argument("--retag", action="store_true",
                        help="the cache was collected with another tagger on the same rows: recompute only the "
                             "tagger's columns (minutes, not the language model's hour)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--members", type=int, default=defaults.members,
                        help=f"nets per head, fitted with seeds SEED, SEED+1, ...; their logits are averaged "
                             f"(default {defaults.members})")
    parser.add_argument("--stack", type=stack_width, default=defaults.stack,
                        help="the hidden width of the head's second stage, which reads the first stage's logits of "
                             "each word's line (0: logistic; none: one stage only; default "
                             f"{defaults.stack})")
    parser.add_argument("--stack-weight", type=json_object, default=None,
                        help="the second stage's family weights, as JSON (others weigh 1; default "
                             f"'{json.dumps(defaults.stack_weight)}')")
    parser.add_argument("--no-nonword-floor", dest="nonword_floor", action="store_false",
                        help="no non-word floor: by default a lower-case word the lexicon does not know keeps the "
                             "tagger's P(BAD) where that reaches the tagger's own threshold (what --fast flags)")
    parser.add_argument("--drop", default="",
                        help="evidence groups the head does not read, comma-separated (e.g. full: the head of the "
                             "same evidence without the whole-window contrast)")
    parser.add_argument("--context", type=int, default=defaults.context,
                        help="the previous sentences of its document the language model reads before each row, where "
                             "the document is known (0: every row alone); the head then reads segments that way")
    parser.add_argument("--corpora", default=defaults.corpora,
                        help="the clean corpora the data set was built from, for --context (default: ../shared/data)")
    parser.add_argument("--damage", type=float, default=defaults.damage,
                        help="with --context: the chance that each previous sentence of a damaged row (synthetic, "
                             "apertium) carries a synthetic artifact too, as in a round-tripped article (0: the "
                             "clean document's sentences)")
    parser.add_argument("--plausible", type=int, default=defaults.plausible,
                        help="also fit on this many lm-plausible swaps (a fluent wrong word drawn from what SmolLM2 "
                             "finds likely there), made in train clean-news rows no other row shares a sentence with "
                             f"(default {defaults.plausible})")
    args = parser.parse_args(argv)
    if args.plausible < 0:
        parser.error(f"--plausible must be 0 or more, not {args.plausible}")
    if args.context < 0:
        parser.error(f"--context must be 0 or more, not {args.context}")
    if not 0 <= args.damage <= 1:
        parser.error(f"--damage must be between 0 and 1, not {args.damage}")
    if args.damage and not args.context:
        parser.error("--damage needs --context (it damages the previous sentences read before a row)")
    if args.stack_weight is not None and args.stack is None:
        parser.error("--stack-weight needs a stacked head (--stack none was given)")
    if args.stack_weight is None and args.stack is not None:
        args.stack_weight = defaults.stack_weight
    if args.train_news < 0:
        parser.error(f"--train-news must be 0 or more, not {args.train_news}")
    if args.members < 1:
        parser.error(f"--members must be at least 1, not {args.members}")
    config = FusionTrainConfig(data=args.data, tagger=args.tagger, out=args.out, mix=args.mix,
                               train_mix=args.train_mix, clean_news=args.clean_news, train_news=args.train_news,
                               clean_flags_per_1k=args.clean_flags,
                               invisible_weight=args.invisible_weight,
                               family_weight=args.family_weight,
                               hidden=tuple(int(h) for h in args.hidden.split(",")), cache=args.cache, seed=args.seed,
                               members=args.members, retag=args.retag, stack=args.stack,
                               stack_weight=args.stack_weight, nonword_floor=args.nonword_floor,
                               drop=tuple(g for g in args.drop.split(",") if g), context=args.context,
                               corpora=args.corpora, damage=args.damage, plausible=args.plausible)
    train_fusion(config, lambda msg: print(msg, file=sys.stderr, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
