"""Would reading the previous sentences help the detector? SmolLM2's surprisal of artifacts and of clean words, each
sentence read alone and after the sentences before it in its document, on dev documents (ABC blocks and State of
the Union paragraphs); and how often clean documents write one name two ways (the "white house" beside "the White
House" evidence).

    python scripts/experiments/document_context.py --data ../shared/data --sentences 500 [--detector] [--out FILE]

Each dev sentence with at least one sentence before it in its document gets one artifact, the kinds of KINDS in turn
(the corruptors of `mtfix data build`). Per kind and reading, the share of artifacts with a word at least as
surprising as the surprisal that 2% of the clean words of the same sentences reach (read the same way; each
sentence's first word left out, as alone any first word is surprising), and the area under the ROC curve of the
artifact's highest word surprisal against every clean word's. --detector: the same for the shipped fused detector as
it is (not refitted), each reading's threshold set for 2.25 flags per 1,000 of the clean sentences' words. The name
count: in every State of the Union address (all splits; nothing is fitted here), the phrases of two or more
capitalised words that appear mid-sentence, and how many of them the same address also writes in lower case
mid-sentence.
"""
from __future__ import annotations

import argparse
import random
import re
import sys
import zipfile
from pathlib import Path
from typing import Callable, Sequence

import torch

KINDS = ("pivot", "lm-plausible", "article", "preposition", "pronoun", "casing", "calque", "repetition", "dropped",
         "verb-order")
CLEAN_SHARE = 0.02
NAME = re.compile(r"(?<=[a-z,;] )((?:[A-Z][a-z]+ )+[A-Z][a-z]+)")  # two or more capitalised words after a lower word


def context_sentences(data: Path, sentences: int, seed: int) -> list[tuple[str, str]]:
    """(previous sentences of the document, at most two; the sentence) for dev sentences, seeded order."""
    from mtfix.data.build import documents, usable

    out = []
    for doc in documents(data):
        if doc.split != "dev" or doc.source not in ("clean:abc-rural", "clean:abc-science", "clean:state-union"):
            continue
        for k in range(1, len(doc.sentences)):
            if usable(doc.sentences[k]):
                out.append((" ".join(doc.sentences[max(0, k - 2):k]), doc.sentences[k]))
    random.Random(seed).shuffle(out)
    return out[:sentences]


def surprisals(scorer, texts: Sequence[str], contexts: Sequence[str]) -> list[list[float]]:
    """Each text's word surprisals, read after its context (an empty context: alone)."""
    joined = [f"{c} {t}" if c else t for c, t in zip(contexts, texts)]
    out = []
    for c, scores in zip(contexts, scorer.score(joined)):
        skip = len(c) + 1 if c else 0
        out.append([s for tok, s in zip(scores.tokens, scores.surprisal) if tok.start >= skip])
    return out


def head_probabilities(detector, texts: Sequence[str], contexts: Sequence[str]) -> list[list[float]]:
    """The shipped fused detector's word probabilities of each text, read after its context on a line of its own
    (the head's line evidence stays the sentence's; the language model reads across the line break)."""
    from mtfix.text.tokens import tokenize

    joined = [f"{c}\n{t}" if c else t for c, t in zip(contexts, texts)]
    out = []
    for c, text, probs in zip(contexts, joined, detector.word_probabilities(joined)):
        skip = len(c) + 1 if c else 0
        out.append([p for tok, p in zip(tokenize(text), probs) if tok.start >= skip])
    return out


def peak(text: str, start: int, end: int, values: Sequence[float]) -> float:
    """The highest value over an artifact's words; for a deletion, the word after the gap."""
    from mtfix.text.tokens import tokenize

    words = list(zip(tokenize(text), values))
    inside = [v for tok, v in words if tok.start < end and start < tok.end]
    after = [v for tok, v in words if tok.start >= start][:1]
    return max(inside or after or [0.0])


def both_readings(read: Callable[[Sequence[str], Sequence[str]], list[list[float]]], texts: Sequence[str],
                  contexts: Sequence[str]) -> dict[bool, list[list[float]]]:
    """``read``'s word values of each text alone (False) and after its context (True)."""
    return {False: read(texts, [""] * len(texts)), True: read(texts, contexts)}


def kind_peaks(made: dict[str, list[tuple[str, str, int, int]]],
               read: Callable[[Sequence[str], Sequence[str]], list[list[float]]]) -> dict[str, dict[bool, list[float]]]:
    """Each kind's artifacts' peak values (``peak``), read alone and in context."""
    out = {}
    for kind, rows in made.items():
        if rows:
            per = both_readings(read, [t for _, t, _, _ in rows], [c for c, _, _, _ in rows])
            out[kind] = {reading: [peak(t, a, b, v) for (_, t, a, b), v in zip(rows, values)]
                         for reading, values in per.items()}
            print(f"{kind}: {len(rows)}", file=sys.stderr)
    return out


def share_found(peaks: Sequence[float], bar: float) -> float:
    """The share of artifacts whose peak reaches ``bar``."""
    return sum(p >= bar for p in peaks) / len(peaks)


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """P(a positive scores above a negative), ties counting half."""
    ranked = sorted([(v, 1) for v in positives] + [(v, 0) for v in negatives])
    wins, seen_negative, i = 0.0, 0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        tied_pos = sum(p for _, p in ranked[i:j])
        tied_neg = (j - i) - tied_pos
        wins += tied_pos * (seen_negative + tied_neg / 2)
        seen_negative += tied_neg
        i = j
    return wins / max(1, len(positives) * len(negatives))


def name_variants(data: Path) -> tuple[int, int, list[str]]:
    """Over the State of the Union addresses: mid-sentence capitalised phrases (distinct per address), how many
    the same address also writes in lower case mid-sentence, and a few of those."""
    phrases = variants = 0
    examples: list[str] = []
    with zipfile.ZipFile(data / "corpora" / "state_union.zip") as zf:
        for member in sorted(zf.namelist()):
            if not member.endswith(".txt"):
                continue
            text = zf.read(member).decode("latin-1")
            names = set(NAME.findall(text))
            phrases += len(names)
            for name in sorted(names):  # a set's order changes from run to run
                if re.search(r"(?<=[a-z,;] )" + re.escape(name.lower()) + r"\b", text):
                    variants += 1
                    if len(examples) < 12:
                        examples.append(name)
    return phrases, variants, examples


def detector_table(made: dict[str, list[tuple[str, str, int, int]]], pairs: Sequence[tuple[str, str]],
                   budget: float = 2.25) -> list[str]:
    """The shipped fused detector (not refitted) alone and in context: each reading's threshold set on the clean
    sentences' own words for ``budget`` flags per 1,000, and the share of each kind's artifacts found there."""
    from mtfix.detect.fuse import FusedDetector
    from mtfix.detect.train import clean_threshold
    from mtfix.models import shipped_detector

    path = shipped_detector()
    detector = FusedDetector.load(str(path), str(path / "fused"))

    def read(texts: Sequence[str], contexts: Sequence[str]) -> list[list[float]]:
        return head_probabilities(detector, texts, contexts)

    clean = {reading: [p for per in values for p in per]
             for reading, values in both_readings(read, [t for _, t in pairs], [c for c, _ in pairs]).items()}
    bars = {reading: clean_threshold(torch.tensor(v), budget) for reading, v in clean.items()}
    shipped = {reading: 1000 * sum(p >= detector.threshold for p in v) / len(v) for reading, v in clean.items()}
    lines = ["", f"The shipped fused detector, not refitted, at {budget:g} flags per 1,000 of these clean sentences' "
             f"words (its threshold {bars[False]:.3f} alone, {bars[True]:.3f} in context; at its shipped threshold it "
             f"flags {shipped[False]:.2f} alone, {shipped[True]:.2f} in context):", "",
             "| kind | found alone | found in context |", "|---|---|---|"]
    for kind, peaks in kind_peaks(made, read).items():
        lines.append(f"| {kind} | {share_found(peaks[False], bars[False]):.2f} | "
                     f"{share_found(peaks[True], bars[True]):.2f} |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--sentences", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--detector", action="store_true",
                        help="also the shipped fused detector, alone and after the context, at 2.25 clean flags "
                             "per 1,000")
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    from mtfix.data.build import default_resources, next_words
    from mtfix.data.corrupt import corrupt
    from mtfix.detect.lm import LanguageModelScorer
    from mtfix.detect.train import clean_threshold

    data = Path(args.data)
    pairs = context_sentences(data, args.sentences, args.seed)
    scorer = LanguageModelScorer()
    resources = default_resources()
    resources.plausible = next_words(scorer.model, scorer.tokenizer)
    rng = random.Random(args.seed)
    made: dict[str, list[tuple[str, str, int, int]]] = {k: [] for k in KINDS}
    for n, (context, sentence) in enumerate(pairs):
        for k in range(len(KINDS)):  # this sentence's kind, else the next one that applies
            kind = KINDS[(n + k) % len(KINDS)]
            found = corrupt(sentence, rng, resources, only=[kind])
            if found is not None:
                text, spans = found
                made[kind].append((context, text, spans[0].start, spans[0].end))
                break
    lines = [f"### SmolLM2 surprisal alone and after the previous sentences ({len(pairs)} dev sentences)", "",
             "| kind | artifacts | found alone | found in context | AUC alone | AUC in context |",
             "|---|---|---|---|---|---|"]

    def read(texts: Sequence[str], contexts: Sequence[str]) -> list[list[float]]:
        return surprisals(scorer, texts, contexts)

    # each sentence's first word left out of the clean words: read alone, any first word is surprising, which the
    # detector's head knows (its "initial" evidence); the gain measured is the context's, not the start's
    clean = {reading: [v for per in values for v in per[1:]]
             for reading, values in both_readings(read, [t for _, t in pairs], [c for c, _ in pairs]).items()}
    bar = {reading: clean_threshold(torch.tensor(v), 1000 * CLEAN_SHARE) for reading, v in clean.items()}
    for kind, peaks in kind_peaks(made, read).items():
        lines.append(f"| {kind} | {len(made[kind])} | {share_found(peaks[False], bar[False]):.2f} | "
                     f"{share_found(peaks[True], bar[True]):.2f} | {auc(peaks[False], clean[False]):.3f} | "
                     f"{auc(peaks[True], clean[True]):.3f} |")
    if args.detector:
        lines += detector_table(made, pairs)
    lines += ["", f"The bar: the surprisal {CLEAN_SHARE:.0%} of clean words reach, {bar[False]:.1f} nats alone, "
              f"{bar[True]:.1f} in context ({len(clean[False]):,} clean words)."]
    phrases, variants, examples = name_variants(data)
    lines += ["", f"State of the Union: {phrases:,} capitalised phrases mid-sentence (distinct per address); "
              f"{variants:,} also written in lower case mid-sentence in the same address, e.g. "
              + ", ".join(examples) + "."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
