"""Would the corrector's rewriter make the detector better? Its log-probability of keeping a word unchanged, read for
every word the shipped head finds at all suspicious, as a third stage over the head, compared with the head alone
at the same clean-news budget.

    python scripts/experiments/rewriter_check.py --data runs/data/dataset --collect runs/rewriter-check.pkl
    python scripts/experiments/rewriter_check.py --report runs/rewriter-check.pkl [--out FILE]

--collect reads train-split rows that neither the tagger nor the fusion head saw (their draws reproduced from the
models' training.json; dev is all but used up by the head) of four families, plus one dictionary pivot swap and one
lm-plausible swap (eval_sense_swaps.py's kinds) made in each of 250 single clean sentences; the head's calibrated P
for every word, and the rewriter's log P(keep) for each word at --screen or above. --report fits the third stage
(logistic regression on the head's logit, log P(keep) and their product) on the rows of one parity, sets the
threshold on that half's clean news for 2.25 and 10 flags per 1,000, and reads the other half; then the other way
round. Both runs of the table are printed (each half once fitted, once read).
"""
from __future__ import annotations

import argparse
import json
import math
import pickle
import random
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import torch

ROOT = Path(__file__).resolve().parents[2]
WANT = {"synthetic": 600, "apertium": 200, "mlqe-pe": 250, "clean": 1200}
SWAPS = ("pivot", "lm-plausible")
BUDGETS = (2.25, 10.0)


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def features(p: float, keep: float) -> list[float]:
    """The third stage's inputs for one screened word: the head's logit, the rewriter's log P(keep) and their
    product (the rewriter's say weighed by how sure the head already is)."""
    return [logit(p), keep, max(keep, -8.0) * logit(p) / 5]


def unseen_rows(split: Any, config: Any, rng: random.Random) -> list[dict[str, Any]]:
    """Rows of ``split`` (train) that neither the tagger nor the fusion head read, WANT of each family (clean:
    news only)."""
    from mtfix.detect.train import family, head_seen_texts, is_news, plausible_sentences, sentence_keys, train_news_rows

    seen = head_seen_texts(split, config)
    taken = set(seen) | {r["text"] for r in train_news_rows(split, config, seen)}
    # a head fitted on lm-plausible swaps (--plausible) saw those sentences: no row here shares one with them
    swapped = sentence_keys(r["text"] for r in plausible_sentences(split, config)) if config.plausible else set()
    order = [i for i, text in enumerate(split["text"])
             if text not in taken and not (swapped and sentence_keys([text]) & swapped)]
    rng.shuffle(order)
    rows, count = [], {k: 0 for k in WANT}
    for i in order:
        row = split[i]
        fam = family(row["source"])
        if fam not in WANT or count[fam] >= WANT[fam] or (fam == "clean" and not is_news(row["source"])):
            continue
        rows.append(row)
        count[fam] += 1
        if count == WANT:
            break
    return rows


def unseen_draw(data: str, model: Path, seed: int) -> tuple[list[dict[str, Any]], random.Random]:
    """The rows of ``unseen_rows`` for the detector folder ``model`` (its head's training.json says what it saw),
    and the seeded generator the draw went on with (the swaps are made with it next)."""
    from datasets import load_from_disk

    from mtfix.detect.train import FusionTrainConfig

    record = json.loads((model / "fused" / "training.json").read_text())["config"]
    rng = random.Random(seed)
    return unseen_rows(load_from_disk(data)["train"], FusionTrainConfig.from_record(record), rng), rng


def swap_rows(detector: Any, sentences: Sequence[str], rng: random.Random, per_kind: int = 250
              ) -> list[dict[str, Any]]:
    """One swap of each kind per clean sentence, as rows with the swapped word as a gold span (and the sentence as
    their reference)."""
    from mtfix.data.build import default_resources, next_words
    from mtfix.data.corrupt import corrupt

    resources = default_resources()
    resources.plausible = next_words(detector.scorer.model, detector.scorer.tokenizer)
    out = []
    for kind in SWAPS:
        made = 0
        for sentence in sentences:
            if made >= per_kind:
                break
            found = corrupt(sentence, rng, resources, only=[kind])
            if found is not None:
                text, (span,) = found
                out.append({"text": text, "source": f"swap:{kind}", "reference": sentence, "spans": [
                    {"start": span.start, "end": span.end, "label": kind, "fix": "", "visible": True}]})
                made += 1
    return out


def collect(args: argparse.Namespace) -> int:
    from mtfix.correct.rewriter import Rewriter, rewriter_item
    from mtfix.detect.fuse import FusedDetector
    from mtfix.detect.train import family, word_labels_of
    from mtfix.text.spans import Span
    from mtfix.text.tokens import is_word

    model = Path(args.model)
    rows, rng = unseen_draw(args.data, model, args.seed)
    detector = FusedDetector.load(str(model), str(model / "fused"), lm_gate=0.0)
    clean = [r["text"] for r in rows if family(r["source"]) == "clean"][:500]
    sentences = [text for text in clean if "\n" not in text]  # single sentences and windows on one line
    rows += swap_rows(detector, sentences, rng)
    rewriter = Rewriter.load(args.rewriter, detector.scorer.model, detector.scorer.tokenizer)
    out, started = [], time.time()
    for b in range(0, len(rows), 64):
        part = rows[b:b + 64]
        evidence = detector.evidence([r["text"] for r in part])
        jobs = []
        for row, (scores, _), probs in zip(part, evidence, detector.probabilities(evidence)):
            labels, weights = word_labels_of(row, scores.tokens, 0.0)
            rec = {"source": row["source"], "p": list(probs), "y": labels, "w": weights, "keep": {}}
            out.append(rec)
            jobs += [(rec, j, rewriter_item(row["text"], Span(t.start, t.end, "word", 1.0)))
                     for j, t in enumerate(scores.tokens) if probs[j] >= args.screen and is_word(t)]
        if jobs:
            keeps = rewriter.logprob([item for _, _, item in jobs], [i[0][i[1]:i[2]] for _, _, i in jobs])
            for (rec, j, _), keep in zip(jobs, keeps):
                rec["keep"][j] = keep
        print(f"{b + len(part):,}/{len(rows):,} rows, {time.time() - started:.0f} s", file=sys.stderr)
    Path(args.collect).parent.mkdir(parents=True, exist_ok=True)
    with open(args.collect, "wb") as f:
        pickle.dump({"screen": args.screen, "rows": out}, f)
    return 0


def fit(records: Sequence[dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor]:
    """The third stage fitted on the screened words of ``records`` (swap rows left out; clean rows weigh 3x, as
    the head's second stage weighs them)."""
    from mtfix.detect.train import family

    x, y, w = [], [], []
    for r in records:
        if r["source"].startswith("swap:"):
            continue
        for j, keep in r["keep"].items():
            x.append(features(r["p"][j], keep))
            y.append(float(r["y"][j]))
            w.append((3.0 if family(r["source"]) == "clean" else 1.0) * r["w"][j])
    xs, ys, ws = torch.tensor(x), torch.tensor(y), torch.tensor(w)
    weights, bias = torch.zeros(xs.size(1), requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([weights, bias], max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(xs @ weights + bias, ys, reduction="none")
                * ws).sum() / ws.sum() + 1e-3 * (weights ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return weights.detach(), bias.detach()


def probabilities(record: dict[str, Any], stage: tuple[torch.Tensor, torch.Tensor] | None) -> list[float]:
    """A row's word probabilities: the head's, with the third stage's where the rewriter read the word."""
    probs = list(record["p"])
    if stage is not None:
        weights, bias = stage
        for j, keep in record["keep"].items():
            probs[j] = float(torch.sigmoid(torch.tensor(features(probs[j], keep)) @ weights + bias))
    return probs


def measure(fitted: Sequence[dict[str, Any]], read: Sequence[dict[str, Any]],
            stage: tuple[torch.Tensor, torch.Tensor] | None, budget: float) -> dict[str, float]:
    """The threshold for ``budget`` clean flags per 1,000 set on ``fitted``'s news, then on ``read``: its news
    flags per 1,000, MLQE-PE word MCC, recall of synthetic and apertium BAD words, the share of swaps found."""
    from mtfix.detect.train import clean_threshold, family, is_news, word_mcc

    news = torch.tensor([p for r in fitted if is_news(r["source"]) for p in probabilities(r, stage)])
    threshold = clean_threshold(news, budget)
    scored = [(r, probabilities(r, stage)) for r in read]  # each row's probabilities once, for every measure
    out: dict[str, float] = {"threshold": threshold}
    flagged = [p >= threshold for r, probs in scored if is_news(r["source"]) for p in probs]
    out["news per 1k"] = 1000 * sum(flagged) / max(1, len(flagged))
    mlqe = [(r, probs) for r, probs in scored if family(r["source"]) == "mlqe-pe"]
    pred = torch.tensor([p >= threshold for _, probs in mlqe for p in probs], dtype=torch.bool)
    gold = torch.tensor([bool(y) for r, _ in mlqe for y in r["y"]], dtype=torch.bool)
    out["MLQE-PE MCC"] = word_mcc(pred, gold)
    for fam in ("synthetic", "apertium"):
        hits = [p >= threshold for r, probs in scored if family(r["source"]) == fam
                for p, y in zip(probs, r["y"]) if y]
        out[fam] = sum(hits) / max(1, len(hits))
    for kind in SWAPS:
        rows = [(r, probs) for r, probs in scored if r["source"] == f"swap:{kind}"]
        out[kind] = sum(any(p >= threshold and y for p, y in zip(probs, r["y"]))
                        for r, probs in rows) / max(1, len(rows))
    return out


def report(args: argparse.Namespace) -> int:
    from mtfix.detect.train import family

    with open(args.report, "rb") as f:
        collected = pickle.load(f)
    records = collected["rows"]
    halves = [[r for i, r in enumerate(records) if i % 2 == h] for h in (0, 1)]
    columns = ("news per 1k", "MLQE-PE MCC", "synthetic", "apertium", *SWAPS)
    lines = [f"### The rewriter's P(keep) as a third stage (words at head P >= {collected['screen']:g})", "",
             "| read half | budget | detector | threshold | " + " | ".join(columns) + " |",
             "|---|---|---|---|" + "---|" * len(columns)]
    for h in (0, 1):
        fitted, read = halves[1 - h], halves[h]
        stage = fit(fitted)
        for budget in BUDGETS:
            for name, s in (("head", None), ("head + rewriter", stage)):
                m = measure(fitted, read, s, budget)
                lines.append(f"| {h} | {budget:g} | {name} | {m['threshold']:.3f} | "
                             + " | ".join(f"{m[c]:.3f}" for c in columns) + " |")
    lines.append("")
    for fam in ("clean", "synthetic", "mlqe-pe", "apertium"):
        rows = [r for r in records if family(r["source"]) == fam]
        words = sum(len(r["p"]) for r in rows)
        lines.append(f"- {fam}: {sum(len(r['keep']) for r in rows) / max(1, words):.3f} of {words:,} words "
                     "screened (read by the rewriter)")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="runs/data/dataset")
    parser.add_argument("--model", default=str(ROOT / "models" / "detector"), help="the detector folder")
    parser.add_argument("--rewriter", default=str(ROOT / "models" / "rewriter"), help="the rewriter's adapters")
    parser.add_argument("--screen", type=float, default=0.03, help="the head's P from which the rewriter reads a word")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--collect", help="read the rows and write the head's and the rewriter's scores here")
    parser.add_argument("--report", help="the table from a --collect file")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if bool(args.collect) == bool(args.report):
        parser.error("give one of --collect and --report")
    return collect(args) if args.collect else report(args)


if __name__ == "__main__":
    raise SystemExit(main())
