"""Training the fusion head that joins the tagger with language-model evidence (`mtfix train fusion`): fit,
choose on held-out dev words, calibrate, fix the thresholds, save."""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

import torch

from mtfix.training.calibration import average_precision, clean_threshold, ece, fit_platt, word_mcc
from mtfix.training.common import budget, family, json_object, stack_width
from mtfix.training.evidence import (
    FusionTrainConfig,
    collect_evidence,
    evidence_detector,
    evidence_groups,
    evidence_key,
    fusion_dev_sample,
    fusion_news_rows,
    held_out_segments,
    join_evidence,
    join_news,
    news_alone_evidence,
    plausible_evidence,
    retag_evidence,
    retaggable,
    row_contexts,
    tagger_threshold,
    train_evidence,
    train_news_evidence,
)


def fusion_weights(evidence: dict[str, Any], config: "FusionTrainConfig") -> torch.Tensor:
    """Per-word training weights: invisible MLQE-PE BAD words weigh ``invisible_weight``, and each source family
    its ``family_weight``."""
    data = evidence["train"]
    by_segment = torch.tensor([config.family_weight.get(f, 1.0) for f in evidence["family"]])
    invisible = torch.where(data["invisible"], config.invisible_weight, 1.0)
    return invisible * by_segment[data["segment"]]


def second_stage_weights(evidence: dict[str, Any], config: "FusionTrainConfig") -> torch.Tensor | None:
    """The second stage's per-word weights: as fusion_weights, with ``config.stack_weight`` as the family weights;
    None (the first stage's weights) where it is None."""
    if config.stack_weight is None:
        return None
    return fusion_weights(evidence, replace(config, family_weight=config.stack_weight))


def fit_head(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, hidden: int, epochs: int, seed: int,
             members: int = 1) -> Any:
    """A fusion head fitted with weighted binary cross-entropy (full-data AdamW, minibatches of 512); with
    ``members`` > 1, that many nets fitted alike with seeds ``seed``, ``seed + 1``, ..., their logits averaged."""
    from mtfix.detect.fuse import FusionHead

    if members > 1:
        return FusionHead.average([fit_head(x, y, w, hidden, epochs, seed + k) for k in range(members)])
    torch.manual_seed(seed)
    head = FusionHead(x.size(1), hidden)
    head.mean.copy_(x.mean(0))
    head.std.copy_(x.std(0).clamp(min=1e-3))
    opt = torch.optim.AdamW(head.parameters(), lr=3e-3, weight_decay=1e-3)
    head.train()
    per_epoch = math.ceil(len(y) / 512)
    for _ in range(max(epochs, math.ceil(500 / per_epoch))):  # at least 500 steps, however little data
        order = torch.randperm(len(y))
        for b in range(0, len(y), 512):
            idx = order[b:b + 512]
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(head(x[idx]), y[idx], reduction="none")
                    * w[idx]).sum() / w[idx].sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head.eval()


def fit_stacked(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, segment: torch.Tensor, groups: torch.Tensor,
                hidden: int, stack: int, epochs: int, seed: int, members: int = 1,
                second_w: torch.Tensor | None = None) -> Any:
    """A stacked fusion head: the first stage as fit_head fits it; the second (``stack`` hidden units) reads the
    evidence with the first stage's logits of each word's line (fuse.line_context), fitted on logits the first
    stage gave words it was not fitted on: two first stages, each fitted on the segments of one parity and read on
    the other's, so that the second stage learns from logits like those of unseen text. ``groups``: each row's
    line (evidence_groups); the rows of a segment lie together. ``second_w``: the second stage's word weights
    (default ``w``)."""
    from mtfix.detect.fuse import line_context

    even = segment % 2 == 0
    out_of_fold = torch.zeros(len(y))
    for half in (even, ~even):
        first = fit_head(x[half], y[half], w[half], hidden, epochs, seed, members)
        with torch.no_grad():
            out_of_fold[~half] = first(x[~half])
    head = fit_head(x, y, w, hidden, epochs, seed, members)
    head.second = fit_head(torch.cat([x, line_context(out_of_fold, groups)], 1), y,
                           w if second_w is None else second_w, stack, epochs, seed, members)
    return head.eval()


def held_out_measures(probs: torch.Tensor, news: torch.Tensor, gold: torch.Tensor, mlqe: torch.Tensor,
                      synthetic: torch.Tensor, per_1k: float) -> tuple[float, float]:
    """What the issue asks of a detector, on held-out dev words at the threshold that keeps clean news at
    ``per_1k`` flags per 1,000: word MCC on MLQE-PE words (``mlqe`` mask) and recall of synthetic BAD words."""
    flagged = probs >= clean_threshold(news, per_1k)
    return word_mcc(flagged[mlqe], gold[mlqe]), float(flagged[synthetic & gold].float().mean())


def news_probabilities(head: Any, fusion: Any, news: dict[str, torch.Tensor]) -> torch.Tensor:
    """What a fitted head (with its FusionConfig ``fusion``) says of each clean-news word of ``news``
    (collect_evidence's): the calibrated P(BAD) with the non-word floor, as the detector flags at."""
    from mtfix.detect.fuse import select

    with torch.inference_mode():
        logits = head(select(news["x"], fusion.features), evidence_groups(news))
    return fusion.word_probability(logits, news["x"])


def alone_threshold(head: Any, fusion: Any, config: FusionTrainConfig, log: Callable[[str], None],
                    detector: Callable[[], Any]) -> tuple[float, torch.Tensor]:
    """The threshold for text read alone of a fitted head that reads context (its FusionConfig ``fusion``): the one
    that keeps its clean news read alone (news_alone_evidence) at config.clean_flags_per_1k; and those words'
    probabilities."""
    probs = news_probabilities(head, fusion, news_alone_evidence(config, log, detector))
    threshold = clean_threshold(probs, config.clean_flags_per_1k)
    log(f"{len(probs):,} clean-news words read alone: {1000 * float((probs >= fusion.threshold).float().mean()):.2f} "
        f"flags per 1,000 at the threshold fitted in context ({fusion.threshold:.4f}); "
        f"{config.clean_flags_per_1k:g} per 1,000 at {threshold:.4f}, the threshold for text read alone")
    return threshold, probs


def train_fusion(config: FusionTrainConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Collect evidence on dev (the tagger never trained on it), fit candidate heads, keep the best on held-out
    dev, calibrate its temperature and threshold, save it."""
    import functools

    import datasets

    from mtfix.detect.fuse import FEATURES, FULL_FEATURES, GROUPS, FusionConfig, nonword_floor, save_fusion, select
    from mtfix.detect.lm import FullContrast
    from mtfix.detect.tagger import TaggerDetector

    unknown = [g for g in config.drop if g not in GROUPS]
    if unknown:
        from mtfix.errors import InputError

        raise InputError(f"no evidence group {', '.join(unknown)}; choose among {', '.join(GROUPS)}")

    started = time.time()
    cache = Path(config.cache)
    detector = functools.cache(lambda: evidence_detector(config.tagger))  # loaded once, and only when needed
    tagger = functools.cache(lambda: TaggerDetector.load(config.tagger))  # alone, for --retag (no language model)

    key = evidence_key(config)
    ev = torch.load(cache) if cache.exists() else None
    if ev is not None and ev.get("key") == key and "line" in ev["train"]:
        log(f"evidence from {cache}")
    else:
        dev = datasets.load_from_disk(config.data)["dev"]
        rows = fusion_dev_sample(dev, config)
        news = fusion_news_rows(dev, rows, config.clean_news)
        if not news:
            from mtfix.errors import InputError

            raise InputError(f"{config.data} has no dev clean news left to fix the threshold on")
        if retaggable(ev, key, config):
            log(f"evidence from {cache}, its tagger columns recomputed with {config.tagger}")
            ev = {**ev, "train": retag_evidence(ev["train"], [r["text"] for r in rows], tagger()),
                  "news": retag_evidence(ev["news"], [r["text"] for r in news], tagger()), "key": key}
        else:
            ev = {"train": collect_evidence(detector(), rows, log, contexts=row_contexts(config, rows)),
                  "news": collect_evidence(detector(), news, log, contexts=row_contexts(config, news)),
                  "family": [family(r["source"]) for r in rows], "key": key}
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(ev, cache)
    held_segments = held_out_segments(len(ev["family"]), config)  # dev segments only, numbered first
    if config.train_mix:
        ev = join_evidence(ev, train_evidence(config, key, log, detector, tagger))
    if config.plausible:
        ev = join_evidence(ev, plausible_evidence(config, key, log, detector))
    dev_news_words = len(ev["news"]["y"])
    more_news = train_news_evidence(config, key, log, detector, tagger) if config.train_news else None
    if more_news is not None:
        ev = join_news(ev, more_news)
    features = tuple(f for f in FEATURES if not any(f in GROUPS[g] for g in config.drop))
    data = {**ev["train"], "x": select(ev["train"]["x"], features)}
    news_x = select(ev["news"]["x"], features)
    weights = fusion_weights(ev, config)
    held = torch.tensor([int(s) in held_segments for s in data["segment"]])
    fit = ~held
    family_of = [ev["family"][int(k)] for k in data["segment"]]
    mlqe = held & torch.tensor([f == "mlqe-pe" for f in family_of])
    synthetic = held & torch.tensor([f == "synthetic" for f in family_of])
    groups, news_groups = evidence_groups(data), evidence_groups(ev["news"])
    stacked = "" if config.stack is None else f", stacked ({config.stack} hidden in the second stage)"
    candidates = []
    for hidden in config.hidden:
        log(f"fitting head hidden={hidden}{stacked}: {config.members} net{'s' if config.members > 1 else ''}, "
            f"{config.epochs} epochs over {int(fit.sum()):,} words")
        if config.stack is None:
            head = fit_head(data["x"][fit], data["y"][fit], weights[fit], hidden, config.epochs, config.seed,
                            config.members)
        else:
            second = second_stage_weights(ev, config)
            second = None if second is None else second[fit]
            head = fit_stacked(data["x"][fit], data["y"][fit], weights[fit], data["segment"][fit], groups[fit],
                               hidden, config.stack, config.epochs, config.seed, config.members, second)
        with torch.inference_mode():
            logits = head(data["x"][held], groups[held])
            mcc, recall = held_out_measures(torch.sigmoid(head(data["x"], groups)),
                                            torch.sigmoid(head(news_x, news_groups)),
                                            data["y"].bool(), mlqe, synthetic, config.clean_flags_per_1k)
        ap = average_precision(logits, data["y"][held])
        nll = float(torch.nn.functional.binary_cross_entropy_with_logits(logits, data["y"][held]))
        log(f"head hidden={hidden} ({config.members} net{'s' if config.members > 1 else ''}): held-out dev "
            f"MLQE-PE MCC {mcc:.4f}, synthetic recall {recall:.4f} (at {config.clean_flags_per_1k} clean-news "
            f"flags per 1,000), average precision {ap:.4f}, log loss {nll:.4f}")
        candidates.append((mcc, recall, ap, hidden, head, nll))
    tagger_ap = average_precision(ev["train"]["x"][held][:, FEATURES.index("tagger")], data["y"][held])
    log(f"the tagger alone: held-out dev average precision {tagger_ap:.4f}")
    # kept: the head that does best what the issue measures (MLQE-PE MCC, then synthetic recall, at the
    # clean-news budget); average precision over all words rewards ranking that budget never reaches
    mcc, recall, ap, hidden, head, nll = max(candidates, key=lambda c: (round(c[0], 3), c[1]))
    with torch.no_grad():  # (not inference mode: the calibration fit takes gradients through these)
        held_logits = head(data["x"][held], groups[held])
        news_logits = head(news_x, news_groups)
    labels = data["y"][held].long()
    before = ece(torch.sigmoid(held_logits), labels)
    temperature, bias = fit_platt(held_logits, labels)
    after = ece(torch.sigmoid(held_logits / temperature + bias), labels)
    floor = tagger_threshold(config.tagger) if config.nonword_floor else None
    threshold = clean_threshold(nonword_floor(torch.sigmoid(news_logits / temperature + bias), ev["news"]["x"], floor),
                                config.clean_flags_per_1k)
    record = {"config": asdict(config), "heads": {str(h): {"mlqe_mcc": m, "synthetic_recall": r,
                                                         "average_precision": a, "log_loss": n}
                                                  for m, r, a, h, _, n in candidates},
              "tagger_average_precision": tagger_ap, "chosen_hidden": hidden, "held_out_mlqe_mcc": mcc,
              "held_out_synthetic_recall": recall, "temperature": temperature, "bias": bias,
              "ece_before": before, "ece_after": after,
              "threshold": threshold, "nonword_floor": floor, "fit_words": int(fit.sum()),
              "held_words": int(held.sum()),
              "news_words": len(ev["news"]["y"]), "dev_news_words": dev_news_words,
              "minutes": (time.time() - started) / 60}
    full = asdict(FullContrast()) if set(FULL_FEATURES) & set(features) else None
    fusion = FusionConfig(features, hidden, temperature, threshold, bias=bias, members=config.members,
                          stack=config.stack, nonword_floor=floor, full_contrast=full, context=config.context)
    if config.context:  # the same budget on the same news read alone: the threshold for text read alone
        fusion.alone_threshold, alone = alone_threshold(head, fusion, config, log, detector)
        record["alone_threshold"], record["alone_news_words"] = fusion.alone_threshold, len(alone)
    save_fusion(head, fusion, Path(config.out), record)
    log(f"fusion head (hidden {hidden}{stacked}): temperature {temperature:.3f}, bias {bias:.3f}, ECE {before:.4f} -> "
        f"{after:.4f}, threshold {threshold:.4f} for {config.clean_flags_per_1k} flags per 1,000 of "
        f"{len(ev['news']['y']):,} clean-news words ({dev_news_words:,} of them dev), non-word floor "
        f"{'none' if floor is None else f'{floor:.3f}'}; "
        f"saved {config.out}")
    return record


USAGE = """Train the fusion head that joins the tagger with language-model evidence (the same as `mtfix train fusion`).

Collects per-word evidence (tagger P(BAD), SmolLM2 surprisal, entropy, rank, neighbours, candidate contrast,
case and lexicon features) on the dev split and on train rows (--train-mix), neither of which the tagger trained
on; fits a small MLP and a logistic regression, each stacked (a second stage reads the first stage's logits of
the word's line), keeps the better on held-out dev words, calibrates it there, and saves it next to the tagger:

    python scripts/train_fusion.py --data runs/data/dataset --tagger models/detector --out models/detector/fused
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mtfix train fusion", description=USAGE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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

