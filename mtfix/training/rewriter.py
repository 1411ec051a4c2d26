"""Training the LM span rewriter's LoRA adapters on SmolLM2 (`mtfix train rewriter`)."""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from mtfix.training.common import json_object

USAGE = """Train the LM span rewriter: LoRA adapters on SmolLM2 (the same as `mtfix train rewriter`).

    mtfix data build -o runs/data
    python scripts/train_rewriter.py --data runs/data/dataset --out runs/rewriter --minutes 60

Draws the corrector's training rows (the same seeded mix, so its dev rows stay out), turns every fixable span into
a (prompt, fix) pair (MLQE-PE spans only where a reader without the source could see them; a share of "keep"
examples), and fits the adapters on the frozen bf16 base for --minutes on this machine's cores, the learning rate
decaying to zero at the budget. Writes the adapters (fp16), their peft config and rewriter.json, the run's record.
"""


def main(argv: list[str] | None = None) -> int:
    from mtfix.correct.rewriter import RewriterConfig

    defaults = RewriterConfig()
    parser = argparse.ArgumentParser(prog="mtfix train rewriter", description=USAGE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the DatasetDict folder written by mtfix data build")
    parser.add_argument("--out", required=True, help="where to save the adapters")
    parser.add_argument("--minutes", type=float, default=defaults.minutes, help="training time (default 60)")
    parser.add_argument("--max-examples", type=int, default=0, help="stop after this many examples (0: no limit)")
    parser.add_argument("--mix", type=json_object, default=defaults.mix, help="segments per source, as JSON")
    parser.add_argument("--rank", type=int, default=defaults.rank, help="LoRA rank (default 16)")
    parser.add_argument("--lr", type=float, default=defaults.lr, help="peak learning rate (default 3e-4)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--init", default="", help="adapters to go on training from (their rank is kept)")
    parser.add_argument("--multi-word", type=int, default=0, metavar="N",
                        help="add N multi-word damage examples (neighbouring corruptions, clause order) made from "
                             "clean training sentences")
    parser.add_argument("--detected", type=int, default=0, metavar="N",
                        help="run the shipped detector over N further synthetic and apertium training rows and add "
                             "its spans: the gold fixes inside each, or the words kept on a false flag")
    parser.add_argument("--swaps", type=int, default=0, metavar="N",
                        help="add N meaning-swap rows made from clean training news that shares no sentence with "
                             "the drawn rows: half a pivot swap (a dictionary sibling through German: leaders -> "
                             "guides), half an lm-plausible swap (a fluent word SmolLM2 would write there), each "
                             "to be rewritten as the original word")
    parser.add_argument("--sentence", action="store_true",
                        help="train a full-sentence rewriter instead (the whole segment marked, the whole fixed "
                             "segment written), to compare it with span rewriting; mtfix's corrector rewrites spans")
    args = parser.parse_args(argv)
    if not Path(args.data).is_dir():
        parser.error(f"{args.data} is not a data set folder (run mtfix data build first)")
    if args.sentence and (args.multi_word or args.detected or args.swaps):
        parser.error("--sentence trains on the drawn rows alone (no --multi-word, --detected or --swaps)")
    for name in ("multi_word", "detected", "swaps"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(args, name)}")

    import datasets
    import torch

    from mtfix.correct.rewriter import detector_pairs, pairs_from_rows, save, sentence_pairs, train
    from mtfix.data.build import multi_word_rows
    from mtfix.detect.lm import load_lm
    from mtfix.training.span_decoder import CorrectorTrainConfig, sampled_rows

    config = RewriterConfig(rank=args.rank, alpha=2 * args.rank, lr=args.lr, batch_size=args.batch_size,
                            minutes=args.minutes, max_examples=args.max_examples, seed=args.seed, mix=args.mix,
                            init=args.init, multi_word=args.multi_word, detected=args.detected, swaps=args.swaps,
                            task="sentence" if args.sentence else "span",
                            max_tokens=384 if args.sentence else defaults.max_tokens)
    dd = datasets.load_from_disk(args.data)
    _, _, rows, _ = sampled_rows(dd, CorrectorTrainConfig(data=args.data, out=args.out, mix=args.mix, seed=args.seed))
    if args.sentence:
        pairs = sentence_pairs(rows)
    else:
        pairs = pairs_from_rows(rows, random.Random(args.seed), config.keep_share)
    print(f"mtfix: {len(pairs):,} {config.task} examples from {len(rows):,} training rows", file=sys.stderr,
          flush=True)
    if args.multi_word:
        made = multi_word_rows(dd["train"], args.multi_word, args.seed)  # from training sentences only
        pairs += pairs_from_rows(made, random.Random(args.seed + 1), 0.0)
        print(f"mtfix: {len(pairs):,} with {len(made):,} multi-word rows", file=sys.stderr, flush=True)
    if args.detected:
        taken = {row["text"] for row in rows}
        more = detector_rows(dd["train"], args.detected, args.seed, taken)
        flagged = detected_spans([row["text"] for row in more])
        pairs += detector_pairs(more, flagged)
        print(f"mtfix: {len(pairs):,} with the detector's {sum(map(len, flagged)):,} spans on {len(more):,} rows",
              file=sys.stderr, flush=True)
    model, tokenizer = load_lm(torch.bfloat16)
    if args.swaps:
        from mtfix.data.build import next_words

        made = swap_rows(dd["train"], args.swaps, args.seed, [row["text"] for row in rows],
                         next_words(model, tokenizer))
        pairs += pairs_from_rows(made, random.Random(args.seed + 5), 0.0)
        print(f"mtfix: {len(pairs):,} with {len(made):,} meaning-swap rows", file=sys.stderr, flush=True)
    random.Random(args.seed + 2).shuffle(pairs)
    torch.manual_seed(args.seed)
    adapted = train(model, tokenizer, pairs, config, log=lambda msg: print(f"mtfix: {msg}", file=sys.stderr,
                                                                             flush=True))
    save(adapted, Path(args.out), config)
    print(f"mtfix: {config.steps} steps, {config.examples_seen:,} examples, {config.tokens_per_second} tokens/s, "
          f"{config.train_minutes} minutes; adapters in {args.out}", file=sys.stderr)
    return 0


def detector_rows(split, count: int, seed: int, taken: set[str]) -> list[dict]:
    """``count`` synthetic and apertium rows (seeded) outside ``taken``, for the detector's spans."""
    rng = random.Random(seed + 3)
    order = [i for i, source in enumerate(split["source"]) if source.startswith(("synthetic", "apertium"))]
    rng.shuffle(order)
    out = []
    for i in order:
        row = split[i]
        if row["text"] not in taken:
            out.append(row)
        if len(out) == count:
            break
    return out


def swap_rows(split, count: int, seed: int, taken: list[str], plausible, resources=None) -> list[dict]:
    """Up to ``count`` rows of clean training news that shares no sentence with ``taken``, each with one meaning
    swap whose fix is the original word, pivot and lm-plausible swaps in turn (training.evidence.plausible_rows;
    ``plausible``: the words the language model finds likely next, data.build.next_words; ``resources``: the
    corruptors' dictionary and word frequencies, data.build's by default)."""
    from mtfix.training.evidence import plausible_rows, unseen_train_news

    sentences = unseen_train_news(split, taken, count + count // 2 + 10, random.Random(seed + 4))
    return plausible_rows(sentences, plausible, count, seed + 5, ("pivot", "lm-plausible"), resources)


def detected_spans(texts: list[str]) -> list[list[tuple[int, int]]]:
    """The shipped default detector's spans (offsets)."""
    import mtfix

    fixer = mtfix.load(alone=True)  # data-set rows are unrelated: each read alone
    out = []
    for i in range(0, len(texts), 256):
        out += [[(s.start, s.end) for s in spans] for spans in fixer.detect(texts[i:i + 256])]
        print(f"mtfix: detected {i + len(texts[i:i + 256]):,} of {len(texts):,} rows", file=sys.stderr, flush=True)
    return out


if __name__ == "__main__":
    sys.exit(main())
