"""How the fusion head's training weights were chosen: on the held-out part of the dev evidence (never on test),
each weighting is fitted and scored at the threshold that keeps dev clean news at 3 flags per 1,000 words:
word MCC on the held-out MLQE-PE segments and word recall on the held-out synthetic ones, next to the tagger.

    python scripts/experiments/sweep_fusion.py --cache runs/fusion/evidence.pt
    python scripts/experiments/sweep_fusion.py --cache runs/fusion/evidence.pt --drop sentence  # less a group
    python scripts/experiments/sweep_fusion.py --cache runs/fusion/evidence.pt --with-train     # + train rows

--with-train adds the evidence on train rows the tagger never saw (CACHE.train.pt, written by
`mtfix train fusion ... --train-mix`) to the words fitted on; the held-out dev words stay the same.

The held-out dev words hold only about 300 MLQE-PE segments (MCC moves by 0.01-0.02 between draws).
--unused-dev FILE adds a column: word MCC on the MLQE-PE dev segments outside the head's dev sample (3,378
segments, neither fitted nor held out), at the same threshold; the evidence is collected into FILE the first
time (--data and --tagger needed then; about 4 minutes):

    python scripts/experiments/sweep_fusion.py --cache runs/fusion/evidence.pt --with-train --hidden 128 \\
        --unused-dev runs/fusion/unused-dev.pt --data runs/data/dataset --tagger models/detector

--budgets 1,3,10,30 adds the unused-dev MCC at those dev clean-news budgets (flags per 1,000), and the best MCC
over all thresholds with the clean-news rate it costs: how far the clean-news target and the MLQE-PE target pull
apart for each head. --seed-article lists, below the table, what each weighting's head (the first seed) flags in
seeds/article_backtranslated.txt at the same budget (a look at real round-trip text, not a measure to choose by;
its evidence is collected once into CACHE.seed.pt, --tagger needed then). --seeds 13,14,15,16 reports each
weighting's means over fitting seeds; --classes fused,casing adds the held-out recall of those synthetic classes
(--data needed); --members 4 fits each head as the shipped one is fitted, four nets averaged (seeds SEED to
SEED+3; with --seeds, give seeds at least 4 apart). --stack 32 fits each head stacked, as the shipped one is
(a second stage of that width reads the first stage's logits of each word's line; `mtfix train fusion --stack`);
--stack-weight '{"mlqe-pe": 1, "clean": 3}' gives that second stage its own family weights. --clean-flags sets
the budget the main columns are read at (default: the shipped one), on dev clean news, and with --train-news on
the train clean news the threshold is fitted on too (CACHE.news.pt). --head FOLDER scores a head that `mtfix
train fusion` saved, as it is, beside the grid's (--grid '[]' fits none).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

from mtfix.errors import InputError
from mtfix.detect.fuse import FEATURES, GROUPS
from mtfix.detect.train import (FusionTrainConfig, budget, clean_threshold, evidence_detector, evidence_groups,
    fit_head, fit_stacked, fusion_weights, held_out_measures, held_out_segments, join_evidence, join_news,
    json_object, second_stage_weights, stack_width, train_evidence_path, train_news_path, word_mcc)

SEED = Path(__file__).resolve().parents[2] / "seeds" / "article_backtranslated.txt"


def unused_dev(path: Path, data: str | None, tagger: str | None) -> dict:
    """Evidence on the MLQE-PE dev segments that train_fusion's dev sample leaves out (collected once)."""
    if path.exists():
        return torch.load(path)
    if not data or not tagger:
        raise SystemExit(f"{path} does not exist yet: give --data and --tagger to collect it")
    import datasets

    from mtfix.detect.train import collect_evidence, family, fusion_dev_sample

    dev = datasets.load_from_disk(data)["dev"]
    taken = {r["text"] for r in fusion_dev_sample(dev, FusionTrainConfig(data=data, tagger=tagger, out=""))}
    rows = [r for r in dev if family(r["source"]) == "mlqe-pe" and r["text"] not in taken]
    ev = collect_evidence(evidence_detector(tagger), rows, lambda msg: print(msg, file=sys.stderr, flush=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ev, path)
    return ev


def seed_lines() -> list[str]:
    return [line for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]


def seed_groups() -> torch.Tensor:
    """Each word of the seed article's line (a segment of its own), as a stacked head's groups."""
    from mtfix.text.tokens import tokenize

    return torch.tensor([k for k, line in enumerate(seed_lines()) for _ in tokenize(line)])


def seed_article(path: Path, tagger: str | None) -> tuple[list, torch.Tensor]:
    """The seed article's words and their evidence (collected once, with the tagger and the LM)."""
    if path.exists():
        found = torch.load(path, weights_only=False)
        return found["words"], found["x"]
    if not tagger:
        raise SystemExit(f"{path} does not exist yet: give --tagger to collect it")
    from mtfix.detect.fuse import word_features

    evidence = evidence_detector(tagger).evidence(seed_lines())
    words = [tok.text for scores, _ in evidence for tok in scores.tokens]
    x = torch.cat([word_features(scores, probs) for scores, probs in evidence if scores.tokens])
    torch.save({"words": words, "x": x}, path)
    return words, x


def budget_list(text: str) -> list[float]:
    return [budget(v) for v in text.split(",")]


def seed_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r} (e.g. 13,14,15)") from None


def budget_columns(probs: torch.Tensor, news: torch.Tensor, gold: torch.Tensor, budgets: list[float]) -> str:
    """MCC at each clean-news budget, then the best MCC over all thresholds and the clean-news rate it costs."""
    cells = [f"{word_mcc(probs >= clean_threshold(news, b), gold):.3f}" for b in budgets]
    best, at = max((word_mcc(probs >= t, gold), t) for t in torch.linspace(0.02, 0.98, 49).tolist())
    cells.append(f"{best:.3f} at {1000 * float((news >= at).float().mean()):.1f}")
    return " | ".join(cells) + " |"


# (invisible weight, MLQE-PE weight) pairs; the second may be a JSON object of family weights instead
GRID = [(0.5, 1.0), (1.0, 1.0), (1.0, 2.0), (1.0, 4.0), (1.0, 6.0), (1.0, 8.0)]


def family_weights(weight: float | dict[str, float]) -> dict[str, float]:
    """A grid entry's family weights: a number weighs MLQE-PE alone, an object weighs each family it names."""
    return dict(weight) if isinstance(weight, dict) else {"mlqe-pe": float(weight)}


def weighting_name(invisible: float, weights: dict[str, float]) -> str:
    return f"invisible {invisible:g}, " + ", ".join(f"{'MLQE-PE' if f == 'mlqe-pe' else f} x{w:g}"
                                                   for f, w in weights.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", default="runs/fusion/evidence.pt", help="written by mtfix train fusion")
    parser.add_argument("--grid", default=json.dumps(GRID),
                        help="[invisible weight, MLQE-PE weight] pairs; the second may be an object of family "
                             "weights, e.g. [[1, {\"mlqe-pe\": 3, \"clean\": 6}]]")
    parser.add_argument("--hidden", type=int, default=64, help="the head's hidden width (0: logistic regression)")
    parser.add_argument("--drop", action="append", default=[], choices=[*sorted(GROUPS), *FEATURES],
                        metavar="GROUP_OR_FEATURE",
                        help="fit the heads without this group of evidence (" + ", ".join(sorted(GROUPS))
                             + ") or this one feature (e.g. sent_words; repeatable)")
    parser.add_argument("--with-train", action="store_true",
                        help="fit on the train-split evidence too (CACHE.train.pt, from --train-mix)")
    parser.add_argument("--train-news", action="store_true",
                        help="read the clean-news budgets on the train news of CACHE.news.pt too (written by mtfix "
                             "train fusion --train-news), as the default threshold is fitted")
    parser.add_argument("--unused-dev", type=Path,
                        help="also score the MLQE-PE dev segments outside the head's dev sample (evidence file)")
    parser.add_argument("--data", help="the DatasetDict folder (to collect --unused-dev the first time)")
    parser.add_argument("--tagger", help="the tagger folder (to collect --unused-dev the first time)")
    parser.add_argument("--seeds", type=seed_list, default=None,
                        help="fit each weighting with these seeds (e.g. 13,14,15,16) and report the means: the "
                             "spread between seeds is about as large as the differences between weightings")
    parser.add_argument("--classes", type=lambda t: [c for c in t.split(",") if c], default=[],
                        help="also the held-out recall of these synthetic classes, e.g. fused,casing (needs --data: "
                             "the dev sample's sources); the recall over all classes can hide a class given up")
    parser.add_argument("--seed-article", action="store_true",
                        help="also list what each weighting's head flags in the seed article (a look, not a measure)")
    parser.add_argument("--members", type=int, default=1,
                        help="nets per head (seeds SEED, SEED+1, ...), their logits averaged, as mtfix train fusion "
                             "--members; with --seeds, give seeds at least this far apart")
    parser.add_argument("--stack", type=stack_width, default=None,
                        help="fit stacked heads, this wide in the second stage (0: logistic), as the shipped head is")
    parser.add_argument("--clean-flags", type=budget, default=FusionTrainConfig.clean_flags_per_1k,
                        help="the dev clean-news budget (flags per 1,000) the table's columns are read at, as "
                             "`mtfix train fusion --clean-flags` (default %(default)g)")
    parser.add_argument("--stack-weight", type=json_object, default=None,
                        help="with --stack: the second stage's family weights, as JSON (default: the grid entry's)")
    parser.add_argument("--head", type=Path, action="append", default=[], metavar="FOLDER",
                        help="also score this saved head (mtfix train fusion --out) as it is, above the grid's "
                             "(repeatable; --grid '[]' fits none)")
    parser.add_argument("--budgets", type=budget_list, default=[],
                        help="with --unused-dev: also its MCC at these clean-news budgets, e.g. 1,3,10,30")
    args = parser.parse_args()
    if args.budgets and not args.unused_dev:
        parser.error("--budgets needs --unused-dev")
    if args.stack_weight is not None and args.stack is None:
        parser.error("--stack-weight needs --stack")
    for folder in args.head:
        if not (folder / "config.json").exists():
            parser.error(f"--head: {folder} holds no fusion head (no config.json)")
    if args.classes and not args.data:
        parser.error("--classes needs --data (to know each dev segment's synthetic class)")
    if args.members < 1:
        parser.error(f"--members must be at least 1, not {args.members}")
    if args.seeds and args.members > 1 and any(b - a < args.members for a, b in zip(sorted(args.seeds),
                                                                                  sorted(args.seeds)[1:])):
        parser.error(f"with --members {args.members}, --seeds must lie at least {args.members} apart "
                     "(each head takes seeds SEED to SEED+MEMBERS-1)")
    if args.budgets and args.seeds and len(args.seeds) > 1:
        parser.error("--budgets goes with one seed (no --seeds, or one)")
    unused = unused_dev(args.unused_dev, args.data, args.tagger) if args.unused_dev else None
    seed_words, seed_x = seed_article(Path(args.cache).with_suffix(".seed.pt"), args.tagger) if args.seed_article \
        else ([], None)
    ev = torch.load(args.cache)
    base = FusionTrainConfig(data="", tagger="", out="", clean_flags_per_1k=args.clean_flags)
    held_segments = held_out_segments(len(ev["family"]), base)
    if args.with_train:
        ev = join_evidence(ev, torch.load(train_evidence_path(args.cache)))
    if args.train_news:
        if not train_news_path(args.cache).exists():
            parser.error(f"{train_news_path(args.cache)} does not exist: run mtfix train fusion --train-news first")
        ev = join_news(ev, torch.load(train_news_path(args.cache))["news"])
    dropped = {name for group in args.drop for name in GROUPS.get(group, (group,))}
    columns = [j for j, name in enumerate(FEATURES) if name not in dropped]
    data = ev["train"]
    x = data["x"][:, columns]
    groups = news_groups = unused_groups = None
    if args.stack is not None or args.head:  # each word's line, which the second stage reads by
        try:
            groups, news_groups = evidence_groups(data), evidence_groups(ev["news"])
            unused_groups = evidence_groups(unused) if unused is not None else None
        except InputError as e:
            parser.error(str(e))
    held = torch.tensor([int(s) in held_segments for s in data["segment"]])
    family = [ev["family"][int(s)] for s in data["segment"]]
    mlqe = held & torch.tensor([f == "mlqe-pe" for f in family])
    synthetic = held & torch.tensor([f == "synthetic" for f in family])
    gold = data["y"].bool()
    by_class = {}
    if args.classes:
        import datasets

        from mtfix.detect.train import fusion_dev_sample

        rows = fusion_dev_sample(datasets.load_from_disk(args.data)["dev"], base)
        sources = [rows[int(s)]["source"] if int(s) < len(rows) else "" for s in data["segment"]]
        by_class = {c: held & gold & torch.tensor([src == f"synthetic:{c}" for src in sources]) for c in args.classes}

    def measures(probs: torch.Tensor, news: torch.Tensor, unused_probs: torch.Tensor | None) -> list[float]:
        """The table's numbers for one head: held-out MLQE-PE MCC, synthetic recall and synthetic MCC (recall
        does not see flags on the OK words around an artifact; MCC does), the recall of each --classes class, and
        the unused-dev MCC, all at the dev clean-news budget."""
        mcc, recall = held_out_measures(probs, news, gold, mlqe, synthetic, base.clean_flags_per_1k)
        threshold = clean_threshold(news, base.clean_flags_per_1k)
        synthetic_mcc = word_mcc(probs[synthetic] >= threshold, gold[synthetic])
        found = [mcc, recall, synthetic_mcc,
                 *(float((probs[m] >= threshold).float().mean()) for m in by_class.values())]
        if unused_probs is not None:
            found.append(word_mcc(unused_probs >= threshold, unused["y"].bool()))
        return found

    def row(name: str, probs: torch.Tensor, news: torch.Tensor, unused_probs: torch.Tensor | None) -> str:
        line = f"| {name} | " + " | ".join(f"{v:.3f}" for v in measures(probs, news, unused_probs)) + " |"
        return line + (" " + budget_columns(unused_probs, news, unused["y"].bool(), args.budgets)
                       if args.budgets else "")

    lines = ["| weighting | held-out dev MLQE-PE MCC | held-out dev synthetic recall | held-out dev synthetic MCC |"
             + "".join(f" held-out {c} recall |" for c in args.classes)
             + (" unused dev MLQE-PE MCC |" if unused is not None else ""),
             "|---|---|---|---|" + "---|" * len(args.classes) + ("---|" if unused is not None else "")]
    if args.budgets:
        lines[0] += "".join(f" unused dev MCC at {b:g} clean flags/1k |" for b in args.budgets)
        lines[0] += " unused dev best MCC at (clean flags/1k) |"
        lines[1] += "---|" * (len(args.budgets) + 1)
    notes: list[str] = []
    column = FEATURES.index("tagger")
    lines.append(row("the tagger alone", data["x"][:, column], ev["news"]["x"][:, column],
                     unused["x"][:, column] if unused is not None else None))

    def scored(heads: list, cols: list[int], stacked: bool) -> list[tuple]:
        """Each head's P(BAD) on the evidence, the dev news and the unused dev segments."""
        g = (groups, news_groups, unused_groups) if stacked else (None, None, None)
        with torch.no_grad():
            return [(torch.sigmoid(head(data["x"][:, cols], g[0])), torch.sigmoid(head(ev["news"]["x"][:, cols], g[1])),
                     torch.sigmoid(head(unused["x"][:, cols], g[2])) if unused is not None else None)
                    for head in heads]

    def seed_note(name: str, head, cols: list[int], stacked: bool, news: torch.Tensor, config=None) -> str:
        """What the head flags in the seed article (``config``: a saved head's, calibrated and floored as saved)."""
        with torch.no_grad():
            logits = head(seed_x[:, cols], seed_groups() if stacked else None)
            probs = config.word_probability(logits, seed_x) if config is not None else torch.sigmoid(logits)
            flagged = probs >= clean_threshold(news, base.clean_flags_per_1k)
        found_words = [w for w, f in zip(seed_words, flagged.tolist()) if f]
        return f"- {name}: {len(found_words)} words flagged in the seed article: " + ", ".join(
            f'"{w}"' for w in found_words)

    for path in args.head:  # saved heads, scored as they are (their own features, stacked or not, calibrated,
        from mtfix.detect.fuse import load_fusion  # with their non-word floor)

        head, config = load_fusion(path)
        cols = [FEATURES.index(name) for name in config.features]
        g = (groups, news_groups, unused_groups) if config.stack is not None else (None, None, None)
        with torch.no_grad():
            output = tuple(config.word_probability(head(d["x"][:, cols], k), d["x"]) if d is not None else None
                           for d, k in zip((data, ev["news"], unused), g))
        lines.append(row(f"saved head {path}", *output))
        if seed_x is not None:
            notes.append(seed_note(f"saved head {path}", head, cols, config.stack is not None, output[1], config))
    for invisible, weight in json.loads(args.grid):
        config = FusionTrainConfig(data="", tagger="", out="", invisible_weight=invisible,
                                   family_weight=family_weights(weight))
        weights = fusion_weights(ev, config)
        name = (weighting_name(invisible, config.family_weight) + (", logistic" if not args.hidden else "")
                + "".join(f", without {g}" for g in args.drop) + (", with train rows" if args.with_train else "")
                + (f", {args.members} nets averaged" if args.members > 1 else "")
                + (f", stacked ({args.stack} hidden)" if args.stack is not None else "")
                + (f", second stage {weighting_name(invisible, args.stack_weight)}" if args.stack_weight else ""))
        if args.stack is None:
            heads = [fit_head(x[~held], data["y"][~held], weights[~held], args.hidden, config.epochs, seed,
                              args.members) for seed in args.seeds or [config.seed]]
        else:
            second = second_stage_weights(ev, replace(config, stack_weight=args.stack_weight))
            second = None if second is None else second[~held]
            heads = [fit_stacked(x[~held], data["y"][~held], weights[~held], data["segment"][~held], groups[~held],
                                 args.hidden, args.stack, config.epochs, seed, args.members, second)
                     for seed in args.seeds or [config.seed]]
        outputs = scored(heads, columns, args.stack is not None)
        if seed_x is not None:
            notes.append(seed_note(name, heads[0], columns, args.stack is not None, outputs[0][1]))
        if len(outputs) == 1:
            lines.append(row(name + (f", seed {args.seeds[0]}" if args.seeds else ""), *outputs[0]))
            continue
        found = [measures(*output) for output in outputs]
        means = [sum(column) / len(found) for column in zip(*found)]
        lines.append(f"| {name}, mean of seeds {','.join(map(str, args.seeds))} | "
                     + " | ".join(f"{m:.3f}" for m in means) + " |")
    print("\n".join(lines + ([""] + notes if notes else [])))


if __name__ == "__main__":
    main()
