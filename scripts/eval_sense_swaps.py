"""How many wrong-sense words the detector finds: dictionary pivot swaps and fluent wrong words a language model
proposes (the lm-plausible kind, which no dictionary lists), made on the fly in the same clean sentences of a
split, at the corpus default, at the thresholds of a document that reads as translated (where it drops: the
detector's follow point) and of one that does not (where it rises), each read as the detector reads where its
threshold follows the document (the follow point's pivot siblings; in a translated document the words scored by the
detector folder's translated head where it holds one), and at the review point.

    python scripts/eval_sense_swaps.py --data runs/data/dataset --split dev --sentences 400 [--out FILE]

Each clean sentence of the split (seeded order) gets one swap of each kind, in two copies; a swap is found when
the detector flags a word of it. The screen columns: swaps with a word the language model finds at least gate_nats
(4) surprising, the words for which the detector computes its candidates' first-token contrast; and, for a head that
reads it, swaps with a word that passed the whole-window contrast's screen (lm.FullContrast). The words drawn for
lm-plausible come from SmolLM2, the model the detector reads, which is the hard case: a word that model itself finds
likely. --model compares another detector folder (its review point where it has one). A head fitted with context
reads each sentence after the previous sentences of its document.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    parser.add_argument("--sentences", type=int, default=400)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--model", help="the detector folder (tagger, head in fused/; default: the shipped one)")
    parser.add_argument("--out")
    args = parser.parse_args()

    from datasets import load_from_disk

    from mtfix.data.build import default_resources, next_words
    from mtfix.data.corrupt import corrupt
    from mtfix.detect import review_point
    from mtfix.detect.document import load_follow
    from mtfix.detect.fuse import FusedDetector, lm_gated, load_translated
    from mtfix.errors import NotBuiltError
    from mtfix.models import shipped_detector
    from mtfix.text.tokens import tokenize
    from mtfix.training.evidence import rows_in_context

    split = load_from_disk(args.data)[args.split]
    order = [i for i in range(len(split)) if split[i]["source"].startswith("clean")]
    random.Random(args.seed).shuffle(order)
    path = Path(args.model) if args.model else shipped_detector()
    detector = FusedDetector.load(str(path), str(path / "fused"), lm_gate=0.0)
    full = detector.config.full
    resources = default_resources()
    resources.plausible = next_words(detector.scorer.model, detector.scorer.tokenizer)
    made: dict[str, list[tuple[str, int, int, str]]] = {"pivot": [], "lm-plausible": []}
    rng = random.Random(args.seed)
    contexts: dict[int, str] = {}  # each sentence's document context, where the head reads one
    if detector.context:
        contexts = dict(zip(order, rows_in_context([split[i] for i in order], detector.context) or []))
    for i in order:
        if min(len(v) for v in made.values()) >= args.sentences:
            break
        sentence = split[i]["text"]
        context = contexts.get(i, "")
        for kind in made:
            if len(made[kind]) >= args.sentences:
                continue
            found = corrupt(sentence, rng, resources, only=[kind])
            if found is not None:
                text, (span,) = found
                made[kind].append((text, span.start, span.end, context))
    corpus_threshold, corpus_gate = detector.config.threshold, detector.config.lm_gate
    follow = load_follow(path)  # the threshold in a document that reads as translated, where it drops
    translated = follow.threshold(1.0, corpus_threshold) if follow is not None else None
    untranslated = follow.threshold(0.0, corpus_threshold) if follow is not None else None
    # the head that scores a translated document's words, and its threshold, where the folder holds one
    translated_head = load_translated(path) if follow is not None else None
    if translated_head is not None:
        translated = translated_head[1].threshold
    try:
        review, _ = review_point(str(path))
    except NotBuiltError:  # a head without a review point yet: that column reads n/a
        review = None
    screen = f"≥ {full.screen_nats:g} nats: whole-window contrast" if full else "whole-window contrast (none)"
    lines = [f"### Wrong-sense swaps found ({args.split}, {args.sentences} sentences a kind): share of swaps with a "
             "flagged word", "",
             f"| kind | swaps | screen ≥ {detector.config.gate_nats:g} nats: candidates' contrast | screen {screen} "
             "| corpus default | in a translated document | in another | review point | example |",
             "|---|---|---|---|---|---|---|---|---|"]
    started = time.time()
    for kind, rows in made.items():
        texts, context = [t for t, *_ in rows], [c for *_, c in rows] if detector.context else None
        evidence = detector.evidence(texts, context)
        probs = detector.probabilities(evidence)
        # where the threshold follows the document the detector tries the follow point's number of pivot siblings
        read = (detector.evidence(texts, context, follow.siblings)
                if follow is not None and follow.siblings is not None else evidence)
        followed = detector.probabilities(read) if read is not evidence else probs
        in_translated = detector.probabilities(read, translated_head) if translated_head is not None else followed
        hits = [0, 0, 0, 0, 0, 0]
        for (text, start, end, _), (scores, tagger), p, fp, tp in zip(rows, evidence, probs, followed, in_translated):
            tokens = tokenize(text)
            inside = [j for j, t in enumerate(tokens) if t.start < end and start < t.end]
            corpus = tagger if lm_gated(tagger, min(corpus_gate, corpus_threshold)) else p
            hits[0] += any(corpus[j] >= corpus_threshold for j in inside)
            hits[1] += review is not None and any(p[j] >= review for j in inside)
            # the cheap screen: the candidates' contrast is computed only for words this surprising
            hits[2] += any(scores.surprisal[j] >= detector.config.gate_nats for j in inside)
            hits[3] += bool(scores.full) and any(scores.full[j] != (None, None) for j in inside)
            hits[4] += translated is not None and any(tp[j] >= translated for j in inside)
            hits[5] += untranslated is not None and any(fp[j] >= untranslated for j in inside)
        text, start, end, _ = rows[0]
        review_cell = "n/a" if review is None else f"{hits[1] / len(rows):.2f}"
        translated_cell = "n/a" if translated is None else f"{hits[4] / len(rows):.2f} (at {translated:.3g})"
        other_cell = "n/a" if untranslated is None else f"{hits[5] / len(rows):.2f} (at {untranslated:.3g})"
        lines.append(f"| {kind} | {len(rows)} | {hits[2] / len(rows):.2f} | {hits[3] / len(rows):.2f} | "
                     f"{hits[0] / len(rows):.2f} | {translated_cell} | {other_cell} | {review_cell} | "
                     f"{text[max(0, start - 30):start]}**{text[start:end]}**{text[end:end + 20]} |")
        print(f"{kind}: {len(rows)} ({time.time() - started:.0f} s)", file=sys.stderr)
    out = "\n".join(lines) + "\n"
    print(out)
    if args.out:
        Path(args.out).write_text(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
