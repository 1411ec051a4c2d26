"""Would a window candidate find the calqued names the detector misses? A name translated word by word or written
in lower case ("the Finance times", "the white house", "regional affairs") is one word or a pair that a capital
would make fluent; the candidate generator proposes one word at a time, and only ever lowers a capital. Here each
such window gets one candidate, its words capitalised, and SmolLM2 scores the whole segment (after the previous
sentences of its document, as the detector reads it) with the candidate against the original.

    python scripts/experiments/name_windows.py --data runs/data/dataset --clean 1000 --collect F --report F \
        [--out FILE]

Windows: a lower-case word (not a function word, not a sentence's first) after a capitalised word that is not a
sentence's first ("Finance times": the word alone capitalised), and a pair of such lower-case words ("white house":
both); scored where SmolLM2 finds a word of the window at least --screen nats surprising (4: the detector's screen
for its candidates' first-token contrast), with the language model's logprob_groups (the row's start read once).
Rows: dev calque and casing rows (the synthetic kinds a name touches) and --clean dev clean-news rows, each read
after its document's previous sentences where known. Reported, at 0.5, 1 and 2 window flags per 1,000 clean words:
the share of calque and casing rows a window with that gain touches; then the shipped detector alone at its
threshold, and the detector with the window flags added at a matched clean budget (the detector's threshold raised
until the two together flag as many clean words as the detector alone): does the window find what the head cannot,
at no cost in clean flags? Dev only: the detector's head chose its settings on dev, so only the comparison counts.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any, Sequence

import torch

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("synthetic:calque", "synthetic:casing")


def windows(text: str) -> list[tuple[int, int, str]]:
    """(start, end, replacement) for each name window of ``text``: its words capitalised."""
    from mtfix.text.tokens import tokenize
    from mtfix.text.words import STOP

    tokens = tokenize(text)
    ends = {".", "!", "?", ":", "“", '"'}

    def lower(i: int) -> bool:
        t = tokens[i].text
        return t.isalpha() and t.islower() and len(t) > 2 and t not in STOP and i > 0 and tokens[i - 1].text not in ends

    out = []
    for i in range(1, len(tokens)):
        if not lower(i):
            continue
        prev = tokens[i - 1]
        if prev.text.istitle() and prev.text.isalpha() and i > 1 and tokens[i - 2].text not in ends:
            out.append((tokens[i].start, tokens[i].end, tokens[i].text.title()))
        if i + 1 < len(tokens) and lower(i + 1) and text[tokens[i].end:tokens[i + 1].start] == " ":
            out.append((tokens[i].start, tokens[i + 1].end, f"{tokens[i].text.title()} {tokens[i + 1].text.title()}"))
    return out


def collect(args: argparse.Namespace) -> dict[str, Any]:
    import datasets

    from mtfix.detect.fuse import FusedDetector
    from mtfix.detect.train import is_news, rows_in_context, word_labels_of
    from mtfix.text.tokens import tokenize

    dev = datasets.load_from_disk(args.data)["dev"]
    picked = [i for i, s in enumerate(dev["source"]) if s in KINDS]
    news = [i for i, s in enumerate(dev["source"]) if is_news(s)]
    picked += sorted(random.Random(args.seed).sample(news, min(args.clean, len(news))))
    rows = [dev[i] for i in picked]
    contexts = rows_in_context(rows, 2) or [""] * len(rows)
    detector = FusedDetector.load(args.model, str(Path(args.model) / "fused"), lm_gate=0.0)
    out = []
    for b in range(0, len(rows), 32):
        part, before = rows[b:b + 32], contexts[b:b + 32]
        evidence = detector.evidence([r["text"] for r in part], before)
        probs = detector.probabilities(evidence)
        found = []
        for row, (scores, _) in zip(part, evidence):
            surprising = [(t.start, t.end) for t, nats in zip(scores.tokens, scores.surprisal) if nats >= args.screen]
            found.append([w for w in windows(row["text"]) if any(s < w[1] and w[0] < e for s, e in surprising)])
        # each row as the detector reads it (after its context, on a line of its own), then with each window
        # capitalised: one group a row, the shared start read once
        groups = [[f"{c}\n{t}" if c else t for t in [r["text"]] + [r["text"][:s] + w + r["text"][e:] for s, e, w in f]]
                  for r, c, f in zip(part, before, found)]
        totals = detector.scorer.logprob_groups(groups)
        for row, p, f, ll in zip(part, probs, found, totals):
            tokens = tokenize(row["text"])
            out.append({"source": row["source"], "p": p, "y": word_labels_of(row, tokens, 0.0)[0],
                        "spans": [(s["start"], s["end"]) for s in row["spans"]],
                        "words": [(t.start, t.end) for t in tokens],
                        "windows": [(s, e, gain - ll[0]) for (s, e, _), gain in zip(f, ll[1:])]})
        print(f"{min(b + 32, len(rows)):,}/{len(rows):,} rows", file=sys.stderr, flush=True)
    return {"rows": out, "threshold": detector.config.threshold}


def word_gains(row: dict[str, Any]) -> list[float]:
    """Per word of ``row``: the highest gain of a window over it (-inf: none)."""
    return [max([g for s, e, g in row["windows"] if s < we and ws < e], default=float("-inf"))
            for ws, we in row["words"]]


def report(collected: dict[str, Any]) -> str:
    from mtfix.detect.train import clean_threshold, is_news

    rows = collected["rows"]
    for r in rows:
        r["gain"] = word_gains(r)
    news = [r for r in rows if is_news(r["source"])]
    clean_words = sum(len(r["words"]) for r in news)
    gains = torch.tensor([g for r in news for g in r["gain"]])
    probs = torch.tensor([p for r in news for p in r["p"]])

    def found(kind: str, t: float, g: float) -> float:
        """The share of ``kind``'s rows with a gold word flagged by the head at ``t`` or a window at ``g``."""
        hits = [any(y and (p >= t or w >= g) for p, w, y in zip(r["p"], r["gain"], r["y"]))
                for r in rows if r["source"] == kind and any(r["y"])]
        return sum(hits) / max(1, len(hits))

    def clean_rate(t: float, g: float) -> float:
        return 1000 * float(((probs >= t) | (gains >= g)).float().sum()) / clean_words

    threshold, never = collected["threshold"], float("inf")
    lines = [f"{len(news):,} clean-news rows ({clean_words:,} words, {sum(len(r['windows']) for r in news):,} "
             "windows);" + "".join(f" {k}: {sum(r['source'] == k for r in rows)} rows" for k in KINDS), "",
             "| flags | clean flags per 1,000 | calque rows found | casing rows found |", "|---|---|---|---|"]
    for budget in (0.5, 1.0, 2.0):
        g = clean_threshold(gains, budget)
        lines.append(f"| windows alone, gain >= {g:.2f} nats | {clean_rate(never, g):.2f} | "
                     f"{found(KINDS[0], never, g):.3f} | {found(KINDS[1], never, g):.3f} |")
    base = clean_rate(threshold, never)
    lines.append(f"| shipped head at {threshold:.3f} | {base:.2f} | {found(KINDS[0], threshold, never):.3f} | "
                 f"{found(KINDS[1], threshold, never):.3f} |")
    for budget in (0.25, 0.5, 1.0):
        g = clean_threshold(gains, budget)
        # the head's threshold raised until head and windows together flag no more clean words than the head alone
        t = next((float(p) + 1e-6 for p in sorted({float(p) for p in probs if p >= threshold})
                  if clean_rate(float(p) + 1e-6, g) <= base), 1.01)
        t = threshold if clean_rate(threshold, g) <= base else t
        lines.append(f"| head at {t:.3f} + windows >= {g:.2f} nats | {clean_rate(t, g):.2f} | "
                     f"{found(KINDS[0], t, g):.3f} | {found(KINDS[1], t, g):.3f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import pickle

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="runs/data/dataset")
    parser.add_argument("--model", default=str(ROOT / "models" / "detector"), help="the detector folder")
    parser.add_argument("--clean", type=int, default=1500, help="dev clean-news rows")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--screen", type=float, default=4.0,
                        help="a window is scored where SmolLM2 finds one of its words this surprising (nats; the "
                             "screen of the detector's first-token contrast)")
    parser.add_argument("--collect", help="read the rows and write the scores here (a pickle)")
    parser.add_argument("--report", help="the tables from a --collect file")
    parser.add_argument("--out", help="write the tables here too")
    args = parser.parse_args(argv)
    if not args.collect and not args.report:
        parser.error("give --collect FILE, --report FILE or both")
    if args.collect:
        collected = collect(args)
        Path(args.collect).parent.mkdir(parents=True, exist_ok=True)
        with open(args.collect, "wb") as f:
            pickle.dump(collected, f)
    if args.report:
        with open(args.report, "rb") as f:
            table = report(pickle.load(f))
        print(table)
        if args.out:
            Path(args.out).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
