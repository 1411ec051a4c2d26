"""Experiment (docs/decisions.md): in a document that reads as translated, should meaning swaps (is_swap: a
content word in place of an unrelated one, what a wrong-sense word's fix is) be proposed at a lower bar than the
other edits (0.45 there)? Documents of 8 consecutive rows, each read by the default detector as one document (its
MT probability from the whole of it); per setting, the bar of the other edits and of meaning swaps in documents
whose MT probability reaches the detector's follow_cut (elsewhere 0.5 for both):
- synthetic round-trip documents of the dev eval half, given the gold spans: right / wrong per gold span, pivot
  swaps and the other classes apart;
- clean news documents through the detector: edits per 1,000 words;
- MLQE-PE documents (8 consecutive MT lines of one pair) through the detector: chrF against the post-edits;
- apertium round-trip documents through the detector: chrF against the original English, and each edit right
  (a gold span's fix), wrong (another) or outside the gold spans, meaning swaps apart.

    python scripts/exp_swap_lower.py --data runs/data/dataset [--split test]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from pathlib import Path

SWAPS = (0.45, 0.4, 0.35, 0.3, 0.25, 0.2)
LINES = 8


def main() -> None:
    import datasets
    import sacrebleu

    import mtfix
    from mtfix.correct.guards import is_swap
    from mtfix.correct.span_decoder import deletion_extent
    from mtfix.data.mlqe import read_mlqe
    from mtfix.detect.document import Tally
    from mtfix.models import MODELS
    from mtfix.points import read_points
    from mtfix.text.spans import Edit, Span, apply_edits

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="dev", help="dev (the eval half), or test once for the chosen bar")
    parser.add_argument("--synthetic", type=int, default=40, help="synthetic documents")
    parser.add_argument("--clean", type=int, default=40, help="clean news documents")
    parser.add_argument("--mlqe", type=int, default=8, help="MLQE-PE documents per pair")
    parser.add_argument("--pairs", default="ro-en,si-en,ru-en")
    parser.add_argument("--apertium", type=int, default=15, help="apertium documents")
    parser.add_argument("--parts", default="synthetic,clean,mlqe,apertium")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=Path("runs/swap-lower"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    split = datasets.load_from_disk(args.data)[args.split]
    rng = random.Random(args.seed)
    cut = float(read_points(MODELS / "detector")["follow_cut"])

    def eval_half(text: str) -> bool:  # scripts/eval_corrector.py's fit slice takes the odd hashes of dev
        return args.split != "dev" or int(hashlib.sha1(text.encode()).hexdigest(), 16) % 2 == 0

    def documents(rows: list, count: int) -> list[list]:
        return [rows[i:i + LINES] for i in range(0, min(count * LINES, len(rows)) - LINES + 1, LINES)]

    def per_source(rows: list, count: int) -> list[list]:
        """``count`` documents of consecutive rows, as many from each source."""
        sources = sorted({r["source"] for r in rows})
        if not sources:
            return []
        return [doc for source in sources
                for doc in documents([r for r in rows if r["source"] == source], -(-count // len(sources)))]

    fixer = mtfix.load()
    corrector = fixer.corrector
    min_score, follow = corrector.min_score, corrector.follow_score
    # (name, (other edits, meaning swaps) elsewhere, the same in a translated document)
    settings = [("0.5", (min_score, min_score), (min_score, min_score))] + [
        (f"follow {follow:g}, swaps {b:g}", (min_score, min_score), (follow, b)) for b in SWAPS]

    def read(doc_texts: list[str]) -> tuple[list, float]:
        tallies: list[Tally] = []
        spans = fixer.detect(doc_texts, tallies=tallies)
        return spans, fixer.mt_probability(tallies) or 0.0

    def bar(setting: tuple, p: float) -> tuple[float, float]:
        return setting[2] if p >= cut else setting[1]

    def edits_of(text: str, found: list, bars: tuple[float, float]) -> list:
        edits = []
        for span, options in found:
            ranked = corrector.choose(options)
            if not ranked:
                continue
            best, score = ranked[0]
            if score < bars[1 if is_swap(text[span.start:span.end], best.replacement) else 0]:
                continue
            start, end = deletion_extent(text, span.start, span.end) if not best.replacement else (span.start,
                                                                                                  span.end)
            edits.append(Edit(start, end, best.replacement, score))
        return edits

    report: dict = {"cut": cut, "min_score": min_score}
    started = time.time()

    parts = set(args.parts.split(","))
    # synthetic round trips, given the gold spans
    rows = [r for r in split if r["source"].startswith("synthetic:") and eval_half(r["text"])
            and any(s["fix"] is not None for s in r["spans"]) and "synthetic" in parts]
    rng.shuffle(rows)
    counts = {s[0]: {} for s in settings}
    probabilities = []
    for doc in documents(rows, args.synthetic):
        texts = [r["text"] for r in doc]
        _, p = read(texts)
        probabilities.append(p)
        gold = [[Span(s["start"], s["end"], s["label"], 1.0, (s["fix"],)) for s in r["spans"] if s["fix"] is not None]
                for r in doc]
        found = corrector.candidates(texts, gold)
        for setting in settings:
            for text, per_text in zip(texts, found):
                made = {(e.start, e.end): e.replacement for e in edits_of(text, per_text, bar(setting, p))}
                for span, _ in per_text:
                    kind = "pivot" if span.label == "pivot" else "other"
                    c = counts[setting[0]].setdefault(kind, [0, 0, 0])
                    c[0] += 1
                    got = [v for (s, e), v in made.items() if s <= span.start and span.end <= e or
                           (s, e) == (span.start, span.end)]
                    if got:
                        c[1 if got[0] == span.fixes[0] else 2] += 1
    report["synthetic"] = {"documents": len(probabilities), "translated": sum(p >= cut for p in probabilities),
                           "counts": counts}
    print(f"synthetic: {time.time() - started:.0f} s", json.dumps(report["synthetic"]), flush=True)

    def judged(text: str, edits: list, gold: list) -> list[int]:
        """[right, wrong, outside] for the edits that are no meaning swap, then the same for meaning swaps: an edit
        on a gold span that gives its fix, another fix, or no gold span."""
        out = [0] * 6
        for e in edits:
            near = [g for g in gold if e.start < g["end"] and g["start"] < e.end or (e.start, e.end) == (g["start"],
                                                                                                      g["end"])]
            swap = 3 if is_swap(text[e.start:e.end], e.replacement) else 0
            out[swap + (0 if near and any(g["fix"] == e.replacement for g in near) else 1 if near else 2)] += 1
        return out

    def through_detector(name: str, docs: list[list[str]], refs: list[list[str]] | None,
                         golds: list[list[list]] | None = None) -> None:
        found_all, ps = [], []
        for texts in docs:
            spans, p = read(texts)
            ps.append(p)
            found_all.append(corrector.candidates(texts, spans))
        words = sum(len(t.split()) for texts in docs for t in texts)
        out = {"documents": len(docs), "translated": sum(p >= cut for p in ps), "words": words,
               "flags": sum(len(per_text) for found in found_all for per_text in found)}
        if refs is not None:
            flat_refs = [r for doc in refs for r in doc]
            out["chrf_input"] = sacrebleu.corpus_chrf([t for texts in docs for t in texts], [flat_refs]).score
        for setting in settings:
            fixed, n, kinds = [], 0, [0] * 6
            for d, (texts, found, p) in enumerate(zip(docs, found_all, ps)):
                for k, (text, per_text) in enumerate(zip(texts, found)):
                    edits = edits_of(text, per_text, bar(setting, p))
                    n += len(edits)
                    fixed.append(apply_edits(text, edits))
                    if golds is not None:
                        kinds = [a + b for a, b in zip(kinds, judged(text, edits, golds[d][k]))]
            row = {"edits": n, "per_1k": 1000 * n / max(words, 1)}
            if golds is not None:
                row["right_wrong_outside"] = kinds
            if refs is not None:
                row["chrf_delta"] = sacrebleu.corpus_chrf(fixed, [flat_refs]).score - out["chrf_input"]
            out[setting[0]] = row
        report[name] = out
        print(f"{name}: {time.time() - started:.0f} s", json.dumps(out), flush=True)

    clean = [r for r in split if r["source"] in ("clean:abc-rural", "clean:abc-science", "clean:state-union")]
    if "clean" in parts:
        through_detector("clean", [[r["text"] for r in doc] for doc in per_source(clean, args.clean)], None)
    for pair in args.pairs.split(",") if "mlqe" in parts else []:
        mlqe_docs = list(read_mlqe(Path(__file__).resolve().parents[2] / "shared" / "data" / "mlqe-pe"
                                   / f"{pair}-{args.split}.tar.gz"))
        start = rng.randrange(max(len(mlqe_docs) - args.mlqe * LINES, 1))
        chosen = documents(mlqe_docs[start:], args.mlqe)
        through_detector(f"mlqe {pair}", [[d.text for d in doc] for doc in chosen],
                         [[d.reference for d in doc] for doc in chosen])
    apertium = [r for r in split if r["source"].startswith("apertium") and "apertium" in parts]
    chosen = per_source(apertium, args.apertium)
    through_detector("apertium", [[r["text"] for r in doc] for doc in chosen],
                     [[r["reference"] for r in doc] for doc in chosen], [[r["spans"] for r in doc] for doc in chosen])
    (args.out / f"report-{args.split}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
