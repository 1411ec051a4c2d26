"""Does the fused head find more when the language model reads the document's previous sentences first? Fused heads
(each with the language-model context it was fitted with: the head shipped before reads segments alone, the shipped
one, from train_fusion.py --context 2, reads them after the two sentences before) compared on the same rows, at each
head's own threshold and at the same clean budget.

    python scripts/experiments/context_head.py --collect runs/context-head.pkl \
        --heads OLD/fused models/detector/fused models/detector/fused:alone models/detector/fused:damaged
    python scripts/experiments/context_head.py --report runs/context-head.pkl [--out FILE]

(OLD/fused: the head shipped before, which reads every segment alone; `git show` its three files from history.)
--collect reads train-split rows that neither the tagger nor the fusion head saw (rewriter_check.py's draw: the
heads compared must be fitted on the same rows as the shipped head, as train_fusion.py --context with the shipped
head's mix and seed is) of four families, plus one dictionary pivot swap and one lm-plausible swap made in each of 250
single clean news sentences whose document is known; each head's word probabilities, read as that head was fitted
(the rows whose document is known after their previous sentences, where the head reads context). --report gives,
for each head, at its own threshold and at the threshold that flags --budget words per 1,000 of the draw's clean news:
clean-news flags per 1,000, MLQE-PE word MCC, recall of synthetic and apertium BAD words, and the share of swaps
found; the rows whose document is known and the rest apart. FOLDER:damaged reads the damaged rows (synthetic,
apertium, swaps) after previous sentences that carry synthetic artifacts themselves (--damage: the chance per
sentence), as in a round-tripped article; the clean rows keep their clean documents.
"""
from __future__ import annotations

import argparse
import dataclasses
import pickle
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
SWAPS = ("pivot", "lm-plausible")


def collect(args: argparse.Namespace) -> int:
    from rewriter_check import swap_rows, unseen_draw

    from mtfix.data.build import damaged
    from mtfix.detect.fuse import FusedDetector, load_fusion
    from mtfix.detect.tagger import TaggerDetector
    from mtfix.detect.train import family, is_news, rows_in_context, word_labels_of
    from mtfix.text.tokens import tokenize

    model = Path(args.model)
    rows, rng = unseen_draw(args.data, model, args.seed)
    heads = []
    for name in args.heads:  # FOLDER:alone: a head fitted with context, read with every row alone (--alone)
        folder, _, how = name.partition(":")
        head, config = load_fusion(Path(folder))
        heads.append((name, head, dataclasses.replace(config, context=0) if how == "alone" else config, how))
    first = FusedDetector(TaggerDetector.load(str(model)), heads[0][1], heads[0][2], lm_gate=0.0)
    known = rows_in_context(rows, 2, args.corpora) or []
    news = [r for r, c in zip(rows, known) if family(r["source"]) == "clean" and is_news(r["source"]) and c
            and "\n" not in r["text"]]
    rows += swap_rows(first, [r["text"] for r in news[:600]], rng)
    contexts = rows_in_context(rows, 2, args.corpora) or []
    # FOLDER:damaged: the damaged rows (synthetic, apertium, swaps) read after previous sentences that carry
    # synthetic artifacts too, as in a round-tripped article (clean rows keep their clean documents)
    broken = damaged(contexts, rows, args.damage, args.seed) if any(h[3] == "damaged" for h in heads) else []
    out = {"rows": [{"source": r["source"], "context": bool(c)} for r, c in zip(rows, contexts)], "heads": {},
           "y": [word_labels_of(r, tokenize(r["text"]), 0.0)[0] for r in rows]}
    readings: dict[tuple[Any, ...], list[Any]] = {}  # the evidence of every row, per way of reading it
    for path, head, config, how in heads:
        detector = FusedDetector(first.tagger, head, config, scorer=first.scorer, generator=first.generator,
                                 lm_gate=0.0)
        alone = ("alone", config.full, config.gate_nats)
        if alone not in readings:
            readings[alone] = read(detector, rows, None, path)
        way = alone if not config.context else ("context", config.full, config.gate_nats, config.context)
        if way not in readings:  # the rows whose document is unknown read alone either way
            readings[way] = read_changed(detector, rows, readings[alone], [""] * len(rows), contexts, path)
        if how == "damaged":  # only the rows whose context the damage changed are read again
            way, base = way + ("damaged",), way
            if way not in readings:
                readings[way] = read_changed(detector, rows, readings[base], contexts, broken, path)
        out["heads"][path] = {"p": detector.probabilities(readings[way]), "threshold": config.threshold,
                              "context": config.context}
    Path(args.collect).parent.mkdir(parents=True, exist_ok=True)
    with open(args.collect, "wb") as f:
        pickle.dump(out, f)
    return 0


def read_changed(detector: Any, rows: Sequence[dict[str, Any]], base: list[Any], before: Sequence[str],
                 after: Sequence[str], name: str) -> list[Any]:
    """``base`` (the evidence of ``rows`` read after ``before``) with the rows whose context ``after`` changes read
    again after it."""
    again = [i for i, (b, a) in enumerate(zip(before, after)) if b != a]
    out = list(base)
    for i, ev in zip(again, read(detector, [rows[i] for i in again], [after[i] for i in again], name)):
        out[i] = ev
    return out


def read(detector: Any, rows: Sequence[dict[str, Any]], contexts: Sequence[str] | None, name: str) -> list[Any]:
    """The detector's evidence of every row (after its context where ``contexts`` is given), with progress."""
    out, started = [], time.time()
    for b in range(0, len(rows), 64):
        part = [r["text"] for r in rows[b:b + 64]]
        out += detector.evidence(part, None if contexts is None else contexts[b:b + 64])
        print(f"{name}{'' if contexts is None else ' (in context)'}: {b + len(part):,}/{len(rows):,} rows, "
              f"{time.time() - started:.0f} s", file=sys.stderr)
    return out


def measure(collected: dict[str, Any], name: str, threshold: float | None, budget: float,
            rows: Sequence[int] | None = None) -> dict[str, float]:
    """Head ``name``'s measures on ``rows`` (indices; None: all): at ``threshold`` (None: the one that flags
    ``budget`` words per 1,000 of all the draw's clean news)."""
    from mtfix.detect.train import clean_threshold, family, is_news, word_mcc

    meta, probs, ys = collected["rows"], collected["heads"][name]["p"], collected["y"]
    if threshold is None:
        news = torch.tensor([p for r, ps in zip(meta, probs) if is_news(r["source"]) for p in ps])
        threshold = clean_threshold(news, budget)
    chosen = range(len(meta)) if rows is None else rows
    out: dict[str, float] = {"threshold": threshold}
    flags = [p >= threshold for i in chosen if is_news(meta[i]["source"]) for p in probs[i]]
    out["news per 1k"] = 1000 * sum(flags) / max(1, len(flags))
    mlqe = [i for i in chosen if family(meta[i]["source"]) == "mlqe-pe"]
    pred = torch.tensor([p >= threshold for i in mlqe for p in probs[i]], dtype=torch.bool)
    gold = torch.tensor([bool(y) for i in mlqe for y in ys[i]], dtype=torch.bool)
    out["MLQE-PE MCC"] = word_mcc(pred, gold) if len(gold) else float("nan")
    for fam in ("synthetic", "apertium"):
        hits = [p >= threshold for i in chosen if family(meta[i]["source"]) == fam
                for p, y in zip(probs[i], ys[i]) if y]
        out[fam] = sum(hits) / len(hits) if hits else float("nan")
    for kind in SWAPS:
        found = [any(p >= threshold and y for p, y in zip(probs[i], ys[i])) for i in chosen
                 if meta[i]["source"] == f"swap:{kind}"]
        out[kind] = sum(found) / len(found) if found else float("nan")
    return out


COLUMNS = ("news per 1k", "MLQE-PE MCC", "synthetic", "apertium", *SWAPS)


def report(args: argparse.Namespace) -> int:
    with open(args.report, "rb") as f:
        collected = pickle.load(f)
    meta = collected["rows"]
    subsets = {"all rows": None, "document known": [i for i, r in enumerate(meta) if r["context"]],
               "read alone": [i for i, r in enumerate(meta) if not r["context"]]}
    lines = ["### Fused heads read alone and after the previous sentences (unseen train-split rows)", "",
             "| rows | threshold | head (context) | threshold | " + " | ".join(COLUMNS) + " |",
             "|---|---|---|---|" + "---|" * len(COLUMNS)]
    for label, rows in subsets.items():
        for point in ("own", f"{args.budget:g} / 1k"):
            for name, head in collected["heads"].items():
                m = measure(collected, name, head["threshold"] if point == "own" else None, args.budget, rows)
                lines.append(f"| {label} | {point} | {name} ({head['context']}) | {m['threshold']:.3f} | "
                             + " | ".join(f"{m[c]:.3f}" for c in COLUMNS) + " |")
    counts = {k: sum(r["source"].startswith(k) or r["source"].split(":")[0] == k for r in meta)
              for k in ("clean", "synthetic", "mlqe-pe", "apertium", "swap")}
    lines += ["", "Rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items())
              + f"; {sum(r['context'] for r in meta):,} with their document's previous sentences."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="runs/data/dataset")
    parser.add_argument("--model", default=str(ROOT / "models" / "detector"),
                        help="the detector folder: its tagger, and its head's training.json for the draw")
    parser.add_argument("--heads", nargs="+", default=[str(ROOT / "models" / "detector" / "fused")],
                        help="fusion head folders to compare, each read with its own context setting (FOLDER:alone: "
                             "every row read alone)")
    parser.add_argument("--corpora", default="", help="the clean corpora (default: ../shared/data)")
    parser.add_argument("--budget", type=float, default=2.25, help="clean flags per 1,000 for the matched column")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--damage", type=float, default=1.0,
                        help="FOLDER:damaged: the chance that each previous sentence of a damaged row carries an "
                             "artifact")
    parser.add_argument("--collect", help="read the rows with each head and write the probabilities here")
    parser.add_argument("--report", help="the table from a --collect file")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if bool(args.collect) == bool(args.report):
        parser.error("give one of --collect and --report")
    return collect(args) if args.collect else report(args)


if __name__ == "__main__":
    raise SystemExit(main())
