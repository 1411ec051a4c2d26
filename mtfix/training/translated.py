"""`mtfix train translated`: the head that scores the words of a document that reads as translated.

The fused head was fitted on single lines of every family, most of their words clean. Where the detector's
threshold follows the document and the document reads as translated (its MT probability at the follow cut or
above), most lines hold artifacts and the detector tries the follow point's pivot siblings. This trainer reads
the fitting documents of `mtfix train document` (8 lines; the train and dev splits) that the folder's document head
calls translated, as the detector reads them there; fine-tunes a copy of the fused head on their words (synthetic
and apertium round trips with their artifacts marked, and the clean documents among them, every word clean);
calibrates it on them (Platt); and keeps the threshold with the best mean word F1 of the two round-trip families.
It measures the head on the test documents against the fused head at the follow point's drop, and with --write
saves it as FOLDER/translated (the detector scores a translated document's words with it) and its threshold as
follow_translated in points.json (in a translated document, in the place of the drop, follow_low).
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

LABELLED = ("synthetic", "apertium")  # the families whose words are marked: the threshold's mean F1 is over them
THRESHOLDS = tuple(round(0.05 + 0.025 * k, 3) for k in range(31))  # 0.05 to 0.8


@dataclass
class Words:
    """The evidence of one document's tokens as the fused head reads it, and which tokens are words and artifacts."""

    x: torch.Tensor       # (tokens, len(FEATURES))
    groups: torch.Tensor  # each token's line, numbered from 0 within the document
    word: torch.Tensor    # bool per token: a word (what is scored)
    gold: torch.Tensor    # bool per token: inside a marked artifact


def read_words(detector: Any, docs: Sequence[Any], siblings: int | None, cache: Path,
               log: Callable[[str], None] = print) -> dict[str, Words]:
    """Each document read as the detector reads where its threshold follows the document (its lines in order, each
    after the lines before it, trying ``siblings`` pivot siblings); cached in ``cache`` (kept per number of
    siblings: a document read with another number is read again)."""
    from mtfix.detect.fuse import line_groups, word_features
    from mtfix.score import word_labels
    from mtfix.text.spans import Span
    from mtfix.text.tokens import is_word

    held = torch.load(cache) if cache.exists() else {}
    done: dict[str, Words] = {k: Words(**v) for k, v in held.get(str(siblings), {}).items()}
    todo = [d for d in docs if d.id not in done]
    started, words = time.time(), 0
    for n, doc in enumerate(todo, 1):
        evidence = detector.evidence(doc.lines, detector.contexts(doc.lines, ""), siblings)
        xs, groups, word, gold, offset = [], [], [], [], 0
        for k, (scores, tagger) in enumerate(evidence):
            xs.append(word_features(scores, tagger))
            lines = line_groups(scores) + offset
            groups.append(lines)
            offset = int(lines.max()) + 1 if len(lines) else offset
            spans = [Span(a, b, "gold", 1.0) for a, b in doc.spans[k]] if doc.spans else []
            word += [is_word(t) for t in scores.tokens]
            gold += word_labels(scores.tokens, spans)
        done[doc.id] = Words(torch.cat(xs), torch.cat(groups), torch.tensor(word, dtype=torch.bool),
                             torch.tensor(gold, dtype=torch.bool))
        words += sum(word)
        if n % 10 == 0 or n == len(todo):
            held[str(siblings)] = {k: vars(v) for k, v in done.items()}
            cache.parent.mkdir(parents=True, exist_ok=True)
            torch.save(held, cache)
            log(f"read {n}/{len(todo)} documents, {words:,} words, {words / max(time.time() - started, 1e-9):.0f} "
                "words/s")
    return done


def join(found: Sequence[Words]) -> Words:
    """Several documents' words as one batch, their lines numbered apart."""
    groups, offset = [], 0
    for w in found:
        groups.append(w.groups + offset)
        offset += int(w.groups.max()) + 1 if len(w.groups) else 0
    return Words(torch.cat([w.x for w in found]), torch.cat(groups), torch.cat([w.word for w in found]),
                 torch.cat([w.gold for w in found]))


def logits(head: Any, config: Any, words: Words) -> torch.Tensor:
    """The head's logit of each word of ``words``."""
    from mtfix.detect.fuse import select

    with torch.no_grad():
        return head(select(words.x, config.features), words.groups)[words.word]


def token_scores(head: Any, config: Any, words: Words) -> torch.Tensor:
    """What the detector says of each token with this head and config (calibration and non-word floor applied)."""
    from mtfix.detect.fuse import select

    with torch.no_grad():
        return config.word_probability(head(select(words.x, config.features), words.groups), words.x)


def probabilities(head: Any, config: Any, words: Words) -> torch.Tensor:
    """What the detector says of each word (token_scores, the words alone)."""
    return token_scores(head, config, words)[words.word]


def fine_tune(head: Any, config: Any, words: Words, lr: float, epochs: int, seed: int) -> Any:
    """A copy of ``head`` trained further on ``words`` (every word of the batch at each step, binary cross-entropy
    against the gold marks), both stages."""
    from mtfix.detect.fuse import select

    torch.manual_seed(seed)
    tuned = copy.deepcopy(head).train()
    optimiser = torch.optim.Adam(tuned.parameters(), lr=lr)
    x, target = select(words.x, config.features), words.gold[words.word].float()
    for _ in range(epochs):
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(tuned(x, words.groups)[words.word], target)
        loss.backward()
        optimiser.step()
    return tuned.eval()


def figures(probs: torch.Tensor, gold: torch.Tensor, families: Sequence[str], threshold: float) -> dict[str, Any]:
    """Word recall, precision and F1 in each labelled family, flags per 1,000 words of the clean documents, and the
    labelled families' mean F1, with words flagged from ``threshold``."""
    out: dict[str, Any] = {}
    f1s = []
    for family in sorted(set(families)):
        mask = torch.tensor([f == family for f in families])
        flagged, bad = probs[mask] >= threshold, gold[mask]
        if family not in LABELLED:
            out[family] = {"words": int(mask.sum()), "flags per 1k": round(1000 * float(flagged.float().mean()), 1)}
            continue
        hit = int((flagged & bad).sum())
        recall, precision = hit / max(int(bad.sum()), 1), hit / max(int(flagged.sum()), 1)
        f1s.append(2 * recall * precision / max(recall + precision, 1e-9))
        out[family] = {"recall": round(recall, 3), "precision": round(precision, 3), "f1": round(f1s[-1], 3)}
    out["mean f1"] = round(sum(f1s) / max(len(f1s), 1), 4)
    return out


def best_threshold(probs: torch.Tensor, gold: torch.Tensor, families: Sequence[str]) -> float:
    """The threshold (of THRESHOLDS) with the best mean F1 of the labelled families (of ties, the highest)."""
    return max(THRESHOLDS, key=lambda t: (figures(probs, gold, families, t)["mean f1"], t))


def token_probabilities(head: Any, config: Any, words: Words) -> list[list[float]]:
    """Per line of the document, every token's P(BAD) with this head (as mtfix train document's readings keep the
    fused head's)."""
    probs = token_scores(head, config, words)
    return [[round(p, 4) for p in probs[words.groups == g].tolist()] for g in range(int(words.groups.max()) + 1)]


def flagged_as_detector(docs: Sequence[Any], read: dict[str, Any], document: Any, follow: Any, fused: Any,
                        found: dict[str, Words], head: Any, config: Any, threshold: float,
                        score_dir: Path | None = None) -> dict[str, Any]:
    """Every test document flagged as the detector flags it where its threshold follows the document (the fused
    head's words at the follow point's threshold), and with a translated document's words scored by ``head`` from
    ``threshold``: word recall and precision of the round trips, flags per 1,000 words of clean news (all of it,
    and ABC science, the source the document head never saw). With ``score_dir``, the gold and both ways'
    predictions for mtfix score (FAMILY-follow and FAMILY-translated.pred.jsonl)."""
    from mtfix.training.document import follow_figures, word_rows, write_scoring

    test = [d for d in docs if d.role == "test"]
    before = word_rows(test, read, document)
    rescored = {doc.id: {**read[doc.id], "probs": token_probabilities(head, config, found[doc.id])}
                for doc, p, *_ in before if doc.id in found and follow.translated(p)}
    after = word_rows(test, {**read, **rescored}, document)  # the same MT probabilities: the fused head's tallies

    def flags(p: float) -> float:
        return threshold if follow.translated(p) else follow.threshold(p, fused.threshold)

    def followed(p: float) -> float:
        return follow.threshold(p, fused.threshold)

    if score_dir is not None:
        write_scoring(before, read, {"follow": followed}, score_dir)
        write_scoring(after, {**read, **rescored}, {"translated": flags}, score_dir)
    science = [k for k, row in enumerate(before) if row[0].family != "clean" or row[0].source == "clean:abc-science"]
    return {"fused head": follow_figures(before, followed), "with this head": follow_figures(after, flags),
            "abc-science: fused head": follow_figures([before[k] for k in science], followed)["clean flags per 1k"],
            "abc-science: with this head": follow_figures([after[k] for k in science], flags)["clean flags per 1k"]}


def word_families(docs: Sequence[Any], found: dict[str, Words]) -> list[str]:
    return [doc.family for doc in docs for _ in range(int(found[doc.id].word.sum()))]


def save_translated(head: Any, config: Any, folder: Path, record: dict[str, Any]) -> Path:
    """The head as FOLDER/translated, as fuse.save_fusion saves a head of its own, without the fused head's
    operating points it was copied with (its threshold is the folder's follow_translated)."""
    from mtfix.detect.fuse import TRANSLATED, save_fusion

    path = folder / TRANSLATED
    save_fusion(head, replace(config, threshold=None, lm_gate=None, review_threshold=None, alone_threshold=None,
                              alone_review_threshold=None), path, record)
    return path


USAGE = __doc__.split("\n\n", 1)[1] + """
    mtfix train translated --cache runs/document/read.jsonl --write
"""


def main(argv: list[str] | None = None) -> int:
    from mtfix.training.document import document_options

    parser = argparse.ArgumentParser(prog="mtfix train translated", description=USAGE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    document_options(parser, "the detector folder (with its document head and follow point) the head serves and is "
                             "written to", "mtfix train document's readings (which documents read as translated; a "
                                           "rerun reads only what is missing); the words' evidence is kept beside it")
    parser.add_argument("--lr", type=float, default=1e-3, help="the fine-tuning's learning rate (default 1e-3)")
    parser.add_argument("--epochs", type=int, default=30, help="passes over the words (default 30)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--write", action="store_true", help="write the head (FOLDER/translated) and its threshold "
                                                             "(follow_translated in points.json)")
    parser.add_argument("--report", help="also write the measurements here (JSON)")
    parser.add_argument("--score-dir", help="also write the held-out round trips and ABC science documents as gold, "
                                            "and the words flagged with and without this head as predictions, for "
                                            "mtfix score")
    args = parser.parse_args(argv)
    if args.lr <= 0 or args.epochs < 1 or args.per_family < 1 or args.lines < 1:
        parser.error("--lr, --epochs, --per-family and --lines must be above 0")

    from mtfix.detect.document import load_follow, load_heads
    from mtfix.detect.fuse import FusedDetector
    from mtfix.models import shipped_detector
    from mtfix.points import write_points
    from mtfix.training.calibration import fit_platt
    from mtfix.training.document import build_docs, read_docs, word_rows

    def log(msg: str) -> None:
        print(f"mtfix: {msg}", file=sys.stderr, flush=True)

    folder = Path(args.model) if args.model else shipped_detector()
    if folder is None:
        log("no detector folder: give --model")
        return 2
    document, follow = load_heads(folder).get("fused"), load_follow(folder)
    if document is None or follow is None:
        log(f"{folder} has no document head and follow point: run mtfix train document --write first")
        return 2
    started = time.time()
    docs = [d for d in build_docs(Path(args.data_dir), args.seed, args.per_family, args.lines)
            if d.family in (*LABELLED, "clean") and (d.spans is not None or d.family == "clean")]
    detector = FusedDetector.load(str(folder), str(folder / "fused"))
    cache = Path(args.cache)
    read = read_docs(detector, docs, cache, log, follow.siblings)
    translated = [doc for doc, p, *_ in word_rows(docs, read, document) if follow.translated(p)]
    log("read as translated: " + ", ".join(
        f"{role} {f} {sum(d.family == f and d.role == role for d in translated)}"
        for role in ("fit", "test") for f in (*LABELLED, "clean")))
    found = read_words(detector, translated, follow.siblings, cache.with_name(cache.stem + ".words.pt"), log)
    fit = [d for d in translated if d.role == "fit"]
    test = [d for d in translated if d.role == "test"]
    if not any(d.family in LABELLED for d in fit) or not test:
        log("too few documents read as translated to fit and measure a head on")
        return 2
    fit_words, test_words = join([found[d.id] for d in fit]), join([found[d.id] for d in test])
    fit_families, test_families = word_families(fit, found), word_families(test, found)
    fit_gold, test_gold = fit_words.gold[fit_words.word], test_words.gold[test_words.word]

    tuned = fine_tune(detector.head, detector.config, fit_words, args.lr, args.epochs, args.seed)
    temperature, bias = fit_platt(logits(tuned, detector.config, fit_words), fit_gold)
    config = replace(detector.config, temperature=temperature, bias=bias)
    fitted = probabilities(tuned, config, fit_words)
    threshold = best_threshold(fitted, fit_gold, fit_families)
    shipped_fit = probabilities(detector.head, detector.config, fit_words)
    shipped_test = probabilities(detector.head, detector.config, test_words)
    record = {"documents": {role: {f: sum(d.family == f for d in chosen) for f in (*LABELLED, "clean")}
                            for role, chosen in (("fit", fit), ("test", test))},
              "words": {"fit": len(fit_gold), "test": len(test_gold)}, "lr": args.lr, "epochs": args.epochs,
              "seed": args.seed, "per_family": args.per_family, "lines": args.lines, "siblings": follow.siblings,
              "temperature": temperature, "bias": bias, "threshold": threshold,
              "fit": {"fused head at the drop": figures(shipped_fit, fit_gold, fit_families, follow.low),
                      "this head": figures(fitted, fit_gold, fit_families, threshold)},
              "test": {"fused head at the drop": figures(shipped_test, test_gold, test_families, follow.low),
                       "this head": figures(probabilities(tuned, config, test_words), test_gold, test_families,
                                            threshold)},
              "held out, as the detector flags": flagged_as_detector(
                  docs, read, document, follow, detector.config, found, tuned, config, threshold,
                  Path(args.score_dir) if args.score_dir else None),
              "minutes": round((time.time() - started) / 60, 1)}
    log(f"threshold {threshold}; test, the fused head at {follow.low} -> this head: "
        f"{json.dumps(record['test']['fused head at the drop'])} -> {json.dumps(record['test']['this head'])}")
    log(f"every test document as the detector flags it: {json.dumps(record['held out, as the detector flags'])}")
    if args.report:
        Path(args.report).write_text(json.dumps(record, indent=1) + "\n")
    if args.write:
        path = save_translated(tuned, config, folder, record)
        write_points(folder, follow_translated=threshold)
        log(f"wrote {path} and follow_translated {threshold} in {folder / 'points.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
