"""Experiment (docs/decisions.md): should flags one word apart be merged into one span the rewriter rewrites whole
("his full invasion in Ukraine": "his", "full" and "in" flagged)? Documents of 8 consecutive rows read by the
default detector as one document; the corrector given the detector's spans as they are, and merged where two spans
of a line are at most one word apart (no punctuation between them). Per family: edits, rows fixed exactly (the
fixed row equals its reference), chrF against the references (for clean news: edits per 1,000 words).

    python scripts/exp_merge_spans.py --data runs/data/dataset [--split test]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from dataclasses import replace
from pathlib import Path

LINES = 8


def merge(text: str, spans: list) -> list:
    """Spans at most one word apart, with nothing but letters and spaces between them, as one span (the stronger
    one's label, class and evidence)."""
    out: list = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if out:
            gap = text[out[-1].end:span.start]
            if len(gap.split()) <= 1 and all(c.isalpha() or c.isspace() or c in "'-" for c in gap):
                strong = out[-1] if out[-1].score >= span.score else span
                out[-1] = replace(strong, start=out[-1].start, end=max(out[-1].end, span.end))
                continue
        out.append(span)
    return out


def main() -> None:
    import datasets
    import sacrebleu

    import mtfix
    from mtfix.data.build import multi_word_rows
    from mtfix.detect.document import Tally
    from mtfix.models import MODELS
    from mtfix.points import read_points
    from mtfix.text.spans import apply_edits

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--documents", type=int, default=15, help="documents per family")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=Path("runs/merge-spans"))
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
        sources = sorted({r["source"] for r in rows})
        return [doc for source in sources
                for doc in documents([r for r in rows if r["source"] == source], -(-count // len(sources)))]

    synthetic = [r for r in split if r["source"].startswith("synthetic:") and eval_half(r["text"])]
    rng.shuffle(synthetic)
    multi = multi_word_rows(split, args.documents * LINES, seed=11)
    families = {
        "multi-word": documents(multi, args.documents),
        "synthetic": documents(synthetic, args.documents),
        "apertium": per_source([r for r in split if r["source"].startswith("apertium")], args.documents),
        "clean": per_source([r for r in split if r["source"] in ("clean:abc-rural", "clean:abc-science",
                                                                 "clean:state-union")], args.documents),
    }
    fixer = mtfix.load()
    report: dict = {}
    started = time.time()
    for name, docs in families.items():
        rows = {"as flagged": [], "merged": []}
        refs, inputs, merges, translated_docs = [], [], 0, 0
        for doc in docs:
            texts = [r["text"] for r in doc]
            tallies: list[Tally] = []
            spans = fixer.detect(texts, tallies=tallies)
            translated = (fixer.mt_probability(tallies) or 0.0) >= cut
            translated_docs += translated
            joined = [merge(t, s) for t, s in zip(texts, spans)]
            merges += sum(len(a) - len(b) for a, b in zip(spans, joined))
            for key, given in (("as flagged", spans), ("merged", joined)):
                edits = fixer.corrector.correct(texts, given, [translated] * len(texts))
                rows[key] += [(apply_edits(t, e), len(e)) for t, e in zip(texts, edits)]
            refs += [r["reference"] or r["text"] for r in doc]
            inputs += texts
        words = sum(len(t.split()) for t in inputs)
        out = {"documents": len(docs), "translated": translated_docs, "words": words, "spans merged": merges,
               "chrf input": round(sacrebleu.corpus_chrf(inputs, [refs]).score, 2)}
        for key, fixed in rows.items():
            out[key] = {"edits": sum(n for _, n in fixed),
                        "exact rows": sum(f == r for (f, _), r in zip(fixed, refs)),
                        "chrf delta": round(sacrebleu.corpus_chrf([f for f, _ in fixed], [refs]).score
                                            - out["chrf input"], 2),
                        "edits per 1k": round(1000 * sum(n for _, n in fixed) / max(words, 1), 2)}
        report[name] = out
        print(f"{name}: {time.time() - started:.0f} s", json.dumps(out), flush=True)
    (args.out / f"report-{args.split}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
