"""Experiment (docs/decisions.md): the language model's own next words as the rewriter's options (kind
"lm-choice", code at this commit: correct.siblings.lm_choices), with the reranker refitted on them: the shipped
recipe's dev fit half (`scripts/eval_corrector.py fit --per-family 60 --false-flags`) plus lm-plausible swaps made
in clean news of the fit half, so that the fit sees fixes of that kind. Then, against the shipped corrector, each
at the shipped bars:

- synthetic round-trip documents (8 rows of the dev eval half, read by the default detector as one document),
  given the gold spans: right / wrong per gold span, pivot swaps and the other classes apart;
- lm-plausible swaps made in clean news of the eval half, given the gold span, each row read alone: right / wrong;
- clean news documents through the detector: edits per 1,000 words;
- apertium round-trip documents through the detector: edits right / wrong / outside, chrF against the original;
- MLQE-PE documents (8 consecutive MT lines of one pair) through the detector: chrF against the post-edits.

    python scripts/exp_lm_choice_refit.py --data runs/data/dataset
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

LINES = 8
sys.path.insert(0, str(Path(__file__).resolve().parent))


def fitted_lm_choices(fixer, args, eval_half, next_words, plausible_rows):
    """The shipped rewriter with the LM's choices among its options, its reranker refitted on the dev fit half
    and lm-plausible swaps in fit-half clean news (bars as shipped)."""
    import datasets
    import eval_corrector as ec

    from mtfix.correct.guards import lm_window, span_traits
    from mtfix.correct.rerank import fit_rerank
    from mtfix.correct.rewriter import RewriteCorrector, guarded
    from mtfix.models import MODELS

    shipped = fixer.corrector
    rows = ec.dev_slices(args.data, str(MODELS / "rewriter"), 60)["fit"]
    golds, spans = ec.probes(rows, detected=ec.false_flags(rows, None))
    split = datasets.load_from_disk(args.data)["dev"]
    news = [r for r in split if r["source"].startswith(("clean:abc-", "clean:state-union"))
            and not eval_half(r["text"])]
    random.Random(args.seed + 1).shuffle(news)
    scorer = fixer.detector.scorer
    made = plausible_rows(news[:args.plausible * 2], next_words(scorer.model, scorer.tokenizer), args.plausible,
                          args.seed + 1)
    more_golds, more_spans = ec.probes(made)
    golds, spans = golds + more_golds, spans + more_spans
    corrector = RewriteCorrector(shipped.rewriter, lm=shipped.lm, generator=shipped.generator, lm_choices=True)
    corrector.guards = False
    started = time.time()
    found = corrector.candidates([g.text for g in golds], spans)
    corrector.guards = True
    for gold, per_text in zip(golds, found):
        for k, (span, options) in enumerate(per_text):
            window = lm_window(gold.text, span)
            options = [o for o in options if not guarded(gold.text, span, o.replacement, window)]
            span_traits(gold.text, span, options, window)
            per_text[k] = (span, options)
    kinds = sorted({o.kind for per_text in found for _, options in per_text for o in options})
    rerank = fit_rerank(golds, found, kinds)
    rerank.min_score, rerank.swap_score, rerank.follow_score = (shipped.min_score, shipped.swap_score,
                                                                shipped.follow_score)
    corrector.rerank = rerank
    corrector.min_score, corrector.swap_score, corrector.follow_score = (shipped.min_score, shipped.swap_score,
                                                                         shipped.follow_score)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rerank-lm-choice.json").write_text(json.dumps(rerank.__dict__, indent=2))
    print(f"fit: {len(golds)} rows ({len(made)} lm-plausible), {sum(map(len, spans))} spans, "
          f"{time.time() - started:.0f} s; kinds {json.dumps(rerank.kinds)}", flush=True)
    return corrector


def main() -> None:
    import datasets
    import sacrebleu

    import mtfix
    from mtfix.correct.guards import deletion_extent
    from mtfix.data.build import next_words
    from mtfix.data.mlqe import read_mlqe
    from mtfix.detect.document import Tally
    from mtfix.models import MODELS
    from mtfix.points import read_points
    from mtfix.text.spans import Edit, Span, apply_edits
    from mtfix.training.evidence import plausible_rows

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="dev", help="dev (the eval half), or test once for the chosen rewriter")
    parser.add_argument("--synthetic", type=int, default=40, help="synthetic documents")
    parser.add_argument("--plausible", type=int, default=100, help="lm-plausible swaps")
    parser.add_argument("--clean", type=int, default=40, help="clean news documents")
    parser.add_argument("--mlqe", type=int, default=8, help="MLQE-PE documents per pair")
    parser.add_argument("--pairs", default="ro-en,si-en,ru-en")
    parser.add_argument("--apertium", type=int, default=15, help="apertium documents")
    parser.add_argument("--parts", default="synthetic,plausible,clean,mlqe,apertium")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=Path("runs/lm-choice-refit"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    split = datasets.load_from_disk(args.data)[args.split]
    rng = random.Random(args.seed)
    cut = float(read_points(MODELS / "detector")["follow_cut"])
    parts = set(args.parts.split(","))

    def eval_half(text: str) -> bool:  # scripts/eval_corrector.py's fit slice takes the odd hashes of dev
        return args.split != "dev" or int(hashlib.sha1(text.encode()).hexdigest(), 16) % 2 == 0

    def documents(rows: list, count: int) -> list[list]:
        return [rows[i:i + LINES] for i in range(0, min(count * LINES, len(rows)) - LINES + 1, LINES)]

    def per_source(rows: list, count: int) -> list[list]:
        sources = sorted({r["source"] for r in rows})
        return [doc for source in sources
                for doc in documents([r for r in rows if r["source"] == source], -(-count // max(len(sources), 1)))]

    fixer = mtfix.load()
    correctors = {"shipped": fixer.corrector}
    correctors["lm-choice, refit"] = fitted_lm_choices(fixer, args, eval_half, next_words, plausible_rows)

    def read(doc_texts: list[str]) -> tuple[list, float]:
        tallies: list[Tally] = []
        spans = fixer.detect(doc_texts, tallies=tallies)
        return spans, fixer.mt_probability(tallies) or 0.0

    def edits_of(corrector, text: str, found: list, translated: bool) -> list:
        edits = []
        for span, options in found:
            ranked = corrector.choose(options)
            if not ranked or not corrector.accepts(text[span.start:span.end], *ranked[0], translated):
                continue
            best, score = ranked[0]
            start, end = deletion_extent(text, span.start, span.end) if not best.replacement else (span.start,
                                                                                                  span.end)
            edits.append(Edit(start, end, best.replacement, score))
        return edits

    def given_gold(docs: list[list[dict]], translated: list[bool]) -> dict:
        out = {}
        for name, corrector in correctors.items():
            counts: dict = {}
            for doc, is_mt in zip(docs, translated):
                texts = [r["text"] for r in doc]
                gold = [[Span(s["start"], s["end"], s["label"], 1.0, (s["fix"],)) for s in r["spans"]
                         if s["fix"] is not None] for r in doc]
                for text, per_text in zip(texts, corrector.candidates(texts, gold)):
                    made = {(e.start, e.end): e.replacement for e in edits_of(corrector, text, per_text, is_mt)}
                    for span, _ in per_text:
                        kind = span.label if span.label in ("pivot", "lm-plausible") else "other"
                        c = counts.setdefault(kind, [0, 0, 0])
                        c[0] += 1
                        got = [v for (s, e), v in made.items() if s <= span.start and span.end <= e]
                        if got:
                            c[1 if got[0] == span.fixes[0] else 2] += 1
            out[name] = {k: f"{c[1]} / {c[2]} of {c[0]}" for k, c in sorted(counts.items())}
        return out

    report: dict = {"cut": cut}
    started = time.time()
    if "synthetic" in parts:
        rows = [r for r in split if r["source"].startswith("synthetic:") and eval_half(r["text"])
                and any(s["fix"] is not None for s in r["spans"])]
        rng.shuffle(rows)
        docs = documents(rows, args.synthetic)
        translated = [read([r["text"] for r in doc])[1] >= cut for doc in docs]
        report["synthetic"] = {"documents": len(docs), "translated": sum(translated)} | given_gold(docs, translated)
        print(f"synthetic: {time.time() - started:.0f} s", json.dumps(report["synthetic"]), flush=True)
    if "plausible" in parts:
        news = [r for r in split
                if r["source"].startswith(("clean:abc-", "clean:state-union")) and eval_half(r["text"])]
        rng.shuffle(news)
        scorer = fixer.detector.scorer
        made = plausible_rows(news[:args.plausible * 2], next_words(scorer.model, scorer.tokenizer), args.plausible,
                              args.seed)
        report["lm-plausible"] = {"rows": len(made)} | given_gold([[r] for r in made], [False] * len(made))
        print(f"lm-plausible: {time.time() - started:.0f} s", json.dumps(report["lm-plausible"]), flush=True)

    def judged(edits: list, gold: list) -> list[int]:
        out = [0, 0, 0]
        for e in edits:
            near = [g for g in gold if e.start < g["end"] and g["start"] < e.end or (e.start, e.end) == (g["start"],
                                                                                                      g["end"])]
            out[0 if near and any(g["fix"] == e.replacement for g in near) else 1 if near else 2] += 1
        return out

    def through_detector(name: str, docs: list[list[str]], refs: list[list[str]] | None,
                         golds: list[list[list]] | None = None) -> None:
        read_docs = [read(texts) for texts in docs]
        words = sum(len(t.split()) for texts in docs for t in texts)
        out: dict = {"documents": len(docs), "translated": sum(p >= cut for _, p in read_docs), "words": words}
        flat_refs = [r for doc in refs for r in doc] if refs is not None else []
        if refs is not None:
            out["chrf_input"] = sacrebleu.corpus_chrf([t for texts in docs for t in texts], [flat_refs]).score
        for cname, corrector in correctors.items():
            fixed, n, kinds = [], 0, [0, 0, 0]
            for d, (texts, (spans, p)) in enumerate(zip(docs, read_docs)):
                for k, (text, per_text) in enumerate(zip(texts, corrector.candidates(texts, spans))):
                    edits = edits_of(corrector, text, per_text, p >= cut)
                    n += len(edits)
                    fixed.append(apply_edits(text, edits))
                    if golds is not None:
                        kinds = [a + b for a, b in zip(kinds, judged(edits, golds[d][k]))]
            row: dict = {"edits": n, "per_1k": round(1000 * n / max(words, 1), 2)}
            if golds is not None:
                row["right_wrong_outside"] = kinds
            if refs is not None:
                row["chrf_delta"] = round(sacrebleu.corpus_chrf(fixed, [flat_refs]).score - out["chrf_input"], 3)
            out[cname] = row
        report[name] = out
        print(f"{name}: {time.time() - started:.0f} s", json.dumps(out), flush=True)

    if "clean" in parts:
        clean = [r for r in split if r["source"] in ("clean:abc-rural", "clean:abc-science", "clean:state-union")]
        through_detector("clean", [[r["text"] for r in doc] for doc in per_source(clean, args.clean)], None)
    if "apertium" in parts:
        chosen = per_source([r for r in split if r["source"].startswith("apertium")], args.apertium)
        through_detector("apertium", [[r["text"] for r in doc] for doc in chosen],
                         [[r["reference"] for r in doc] for doc in chosen],
                         [[r["spans"] for r in doc] for doc in chosen])
    for pair in args.pairs.split(",") if "mlqe" in parts else []:
        mlqe_docs = list(read_mlqe(Path(__file__).resolve().parents[2] / "shared" / "data" / "mlqe-pe"
                                   / f"{pair}-{args.split}.tar.gz"))
        start = rng.randrange(max(len(mlqe_docs) - args.mlqe * LINES, 1))
        chosen = documents(mlqe_docs[start:], args.mlqe)
        through_detector(f"mlqe {pair}", [[d.text for d in doc] for doc in chosen],
                         [[d.reference for d in doc] for doc in chosen])
    (args.out / f"report-{args.split}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
