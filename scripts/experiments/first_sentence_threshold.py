"""Text read alone: one threshold for every word (what ships), or one for each text's first sentence with its later
sentences at the threshold fitted in context (built, measured, and taken out: it did not pay; docs/detector.md)?
Both are fitted on the head's clean news read alone (dev and train news, the pool that fixes the default threshold;
scripts/fit_alone_threshold.py's cache) at the same budget, then compared on dev rows of each round-trip family and
of MLQE-PE, every row read alone (as JSONL records are), with `mtfix score`.

    python scripts/experiments/first_sentence_threshold.py --data runs/data/dataset --rows 1000 \\
        --cache runs/alone-threshold/evidence.pt --out runs/first-sentence

The fusion head saw dev rows in fitting, so the figures run higher than test's; what counts is the two rules side by
side on the same rows. About 15 minutes on 2 cores (the rows read once; the news from the cache). The family
``articles`` is what the rows lack: dev documents (ABC blocks, State of the Union paragraphs; their first
--article-sentences sentences) as one record each, every sentence given one artifact of the data builder's
corruptors with probability 0.5 (--families articles for it alone).
"""
from __future__ import annotations

import argparse
import functools
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

FAMILIES = ("synthetic", "apertium", "mlqe-pe", "articles")
ARTICLE_SOURCES = ("clean:abc-rural", "clean:abc-science", "clean:state-union")


def score(gold: Path, pred: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "mtfix", "score", "--gold", str(gold), "--pred", str(pred), "--json",
                           "--bootstrap", "200"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def first_sentence_words(rows: list[dict]) -> Any:
    """Per word of ``rows`` (each row's tokens in turn, as the evidence holds them), whether it lies in the row's
    first sentence (fuse.sentence_ids): what a row read alone reads with nothing before it."""
    import torch

    from mtfix.detect.fuse import sentence_ids
    from mtfix.text.tokens import tokenize

    return torch.tensor([s == 0 for row in rows for s in sentence_ids(tokenize(row["text"]))], dtype=torch.bool)


def word_thresholds(tokens: list, threshold: float, first: float | None) -> list[float]:
    """Each word's threshold: ``first`` in the first sentence (where given), ``threshold`` elsewhere."""
    from mtfix.detect.fuse import sentence_ids

    return [first if first is not None and s == 0 else threshold for s in sentence_ids(tokens)]


def flagged_at(probs: list[float], thresholds: list[float]) -> list[float]:
    """1 for each word at or above its own threshold, else 0 (word_spans then flags at 0.5)."""
    return [float(p >= t) for p, t in zip(probs, thresholds)]


def article_rows(data: Path, count: int, sentences: int, seed: int) -> list[dict]:
    """Dev documents of at least three usable sentences as one row each (their first ``sentences``), each sentence
    corrupted with probability 0.5 (one artifact): rows as the data set holds them."""
    from mtfix.data.build import default_resources, documents, usable
    from mtfix.data.corrupt import corrupt

    docs = [d for d in documents(data) if d.split == "dev" and d.source in ARTICLE_SOURCES
            and sum(usable(x) for x in d.sentences[:sentences]) >= 3]
    rng, res = random.Random(seed), default_resources()
    rng.shuffle(docs)
    rows = []
    for doc in docs[:count]:
        text, spans = "", []
        for sentence in doc.sentences[:sentences]:
            made = corrupt(sentence, rng, res) if usable(sentence) and rng.random() < 0.5 else None
            shift = len(text) + (1 if text else 0)
            sentence, found = made if made else (sentence, [])
            spans += [{"start": x.start + shift, "end": x.end + shift, "label": x.label, "fix": x.fixes[0]}
                      for x in found]
            text = f"{text} {sentence}" if text else sentence
        rows.append({"text": text, "spans": spans, "reference": "", "source": doc.source})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the data set the head was fitted on (mtfix data build)")
    parser.add_argument("--rows", type=int, default=1000, help="dev rows per family (default 1000)")
    parser.add_argument("--cache", default="runs/alone-threshold/evidence.pt",
                        help="fit_alone_threshold.py's cache of the news read alone")
    parser.add_argument("--out", type=Path, default=Path("runs/first-sentence"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", default=",".join(FAMILIES), help=f"of {', '.join(FAMILIES)}")
    parser.add_argument("--articles", type=int, default=200, help="dev documents for the articles family")
    parser.add_argument("--article-sentences", type=int, default=8)
    parser.add_argument("--corpora", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data",
                        help="where the clean corpora lie (mtfix data build's --data-dir)")
    args = parser.parse_args(argv)

    import datasets
    import torch

    from mtfix.detect.fuse import FusedDetector
    from mtfix.detect.train import (FusionTrainConfig, clean_threshold, evidence_detector, news_alone_evidence,
                                    news_probabilities, threshold_news_rows)
    from mtfix.models import shipped_detector
    from mtfix.text.formats import Document, write_jsonl
    from mtfix.text.spans import Span, word_spans

    path = shipped_detector()
    detector = FusedDetector.load(str(path), str(path / "fused"), alone=True)
    head, fusion = detector.head, detector.config
    record = json.loads((path / "fused" / "training.json").read_text())["config"]
    config = FusionTrainConfig.from_record(record, data=args.data, cache=args.cache, tagger=str(path))
    news = news_probabilities(head, fusion, news_alone_evidence(
        config, print, functools.cache(lambda: evidence_detector(str(path)))))
    uniform = clean_threshold(news, config.clean_flags_per_1k)
    # the first sentences' threshold that keeps all of the news at the budget, later sentences at the in-context one
    in_first = first_sentence_words(threshold_news_rows(config))
    allowed = int(len(news) * config.clean_flags_per_1k / 1000) - int((news[~in_first] >= fusion.threshold).sum())
    first = float(news[in_first].sort(descending=True).values[max(allowed, 0)]) + 1e-6
    rules = {"one threshold": (uniform, None), "first sentence apart": (fusion.threshold, first)}
    lines = [f"Clean news read alone ({len(news):,} words, {int(in_first.sum()):,} in first sentences): one "
             f"threshold {uniform:.4f}; first sentences {first:.4f}, later ones {fusion.threshold:.4f}", ""]
    for name, (threshold, first_at) in rules.items():
        at = torch.full_like(news, threshold)
        if first_at is not None:
            at[in_first] = first_at
        flags = news >= at
        lines.append(f"- {name}: {1000 * float(flags.float().mean()):.2f} flags per 1,000 news words read alone "
                     f"(first sentences {1000 * float(flags[in_first].float().mean()):.2f}, later "
                     f"{1000 * float(flags[~in_first].float().mean()):.2f})")
    lines += ["", "| dev rows read alone | rows | words | " + " | ".join(f"{n}: word MCC, flagged words"
                                                                    for n in rules) + " |",
              "|---|---|---|" + "---|" * len(rules)]
    split = datasets.load_from_disk(args.data)["dev"]
    args.out.mkdir(parents=True, exist_ok=True)
    for family in args.families.split(","):
        if family == "articles":
            rows = article_rows(args.corpora, args.articles, args.article_sentences, args.seed)
        else:
            order = [i for i in range(len(split)) if split[i]["source"].split(":")[0] == family]
            random.Random(args.seed).shuffle(order)
            rows = [split[i] for i in order[:args.rows]]
        gold = args.out / f"{family}.gold.jsonl"
        with open(gold, "w", encoding="utf-8") as fh:
            write_jsonl((Document(r["text"], [Span(s["start"], s["end"], s["label"], 1.0, (s["fix"],))
                                              for s in r["spans"]], r["reference"], r["source"]).to_json()
                         for r in rows), fh)
        evidence = detector.evidence([r["text"] for r in rows])
        probs = detector.probabilities(evidence)
        cells = []
        for name, (threshold, first_at) in rules.items():
            pred = args.out / f"{family}.{name.replace(' ', '-')}.jsonl"
            docs = [Document(r["text"], word_spans(scores.tokens, flagged_at(p, word_thresholds(
                        scores.tokens, threshold, first_at)), 0.5))
                    for r, (scores, _), p in zip(rows, evidence, probs)]
            with open(pred, "w", encoding="utf-8") as fh:
                write_jsonl((d.to_json() for d in docs), fh)
            mcc = score(gold, pred)["detection"]["word_mcc"]
            flagged = sum(len(d.text[s.start:s.end].split()) for d in docs for s in d.spans)
            cells.append(f"{mcc['value']:.3f} [{mcc['low']:.3f}, {mcc['high']:.3f}], {flagged:,}")
        words = sum(len(scores.tokens) for scores, _ in evidence)
        lines.append(f"| {family} | {len(rows):,} | {words:,} | " + " | ".join(cells) + " |")
        print(lines[-1], file=sys.stderr)
    text = "\n".join(lines) + "\n"
    print(text)
    (args.out / "report.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
