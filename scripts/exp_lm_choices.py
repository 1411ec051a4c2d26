"""Experiment (docs/decisions.md): the language model's own next words as the rewriter's options (kind
"lm-choice", correct.siblings.lm_choices) beside its n-best and the generator's candidates. On the eval half of
dev (rows the reranker's fit half never holds), given the gold spans: synthetic pivot swaps, the other synthetic
classes, and lm-plausible swaps (fluent wrong words SmolLM2 proposes, made on the fly in dev clean sentences):
how often the fix is among the options, is the best option, and is applied (right) or another edit is (wrong)
at min-score 0.5 and swap bars 0.5 and 0.7; on clean news rows through the default detector, edits per 1,000
words. The lm-choice kind is scored with the shipped reranker at kind weight 0 and at the pivot kind's weight.

    python scripts/exp_lm_choices.py --data runs/data/dataset
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import time


def main() -> None:
    import datasets

    import mtfix
    from mtfix.data.build import default_resources, next_words
    from mtfix.data.corrupt import corrupt
    from mtfix.text.spans import Span

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--rows", type=int, default=240, help="synthetic rows, a third of them pivot swaps")
    parser.add_argument("--plausible", type=int, default=100, help="lm-plausible swaps")
    parser.add_argument("--clean", type=int, default=150)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--split", default="dev")
    args = parser.parse_args()
    split = datasets.load_from_disk(args.data)[args.split]
    rng = random.Random(args.seed)

    def eval_half(text: str) -> bool:  # scripts/eval_corrector.py's fit slice takes the odd hashes of dev
        return args.split != "dev" or int(hashlib.sha1(text.encode()).hexdigest(), 16) % 2 == 0

    rows = [r for r in split if r["source"].startswith("synthetic:") and eval_half(r["text"])
            and any(s["fix"] is not None for s in r["spans"])]
    pivot = [r for r in rows if r["source"] == "synthetic:pivot"]
    other = [r for r in rows if r["source"] != "synthetic:pivot"]
    picked = rng.sample(pivot, args.rows // 3) + rng.sample(other, args.rows * 2 // 3)
    texts = [r["text"] for r in picked]
    spans = [[Span(s["start"], s["end"], s["label"], 1.0, (s["fix"],)) for s in r["spans"] if s["fix"] is not None]
             for r in picked]
    fixer = mtfix.load()
    corrector = fixer.corrector
    resources = default_resources()
    resources.plausible = next_words(corrector.lm.model, corrector.lm.tokenizer)
    sentences = [r["text"] for r in split if r["source"].startswith("clean:") and eval_half(r["text"])]
    rng.shuffle(sentences)
    for sentence in sentences:
        if sum(1 for s in spans if s and s[0].label == "lm-plausible") >= args.plausible:
            break
        found = corrupt(sentence, rng, resources, only=["lm-plausible"])
        if found is not None:
            texts.append(found[0])
            spans.append(found[1])
    clean = [r["text"] for r in split if r["source"] in ("clean:abc-rural", "clean:abc-science",
                                                         "clean:state-union")]
    clean = rng.sample(clean, args.clean)
    flagged = fixer.detect(clean, one_document=False)
    words = sum(len(t.split()) for t in clean)
    pivot_weight = corrector.rerank.kinds["pivot"]
    report = {}
    for with_choices in (False, True):
        corrector.lm_choices = with_choices
        started = time.time()
        found = corrector.candidates(texts, spans)
        clean_found = corrector.candidates(clean, flagged)
        print(f"lm choices {with_choices}: {time.time() - started:.0f} s", flush=True)
        for weight in ((0.0, pivot_weight) if with_choices else (0.0,)):
            corrector.rerank.kinds["lm-choice"] = weight
            for swap in (0.7, 0.5):
                corrector.min_score, corrector.swap_score = 0.5, swap
                counts: dict[str, list[int]] = {}
                for text, per_text in zip(texts, found):
                    for span, options in per_text:
                        ranked = corrector.choose(options)
                        want = span.fixes[0]
                        kind = span.label if span.label in ("pivot", "lm-plausible") else "other"
                        c = counts.setdefault(kind, [0, 0, 0, 0, 0])
                        best = bool(ranked) and ranked[0][0].replacement == want
                        applied = bool(ranked) and corrector.accepts(text[span.start:span.end], *ranked[0])
                        c[0] += 1
                        c[1] += any(o.replacement == want for o in options)
                        c[2] += best
                        c[3] += best and applied
                        c[4] += applied and not best
                edits = sum(1 for text, per_text in zip(clean, clean_found) for span, options in per_text
                            if (ranked := corrector.choose(options))
                            and corrector.accepts(text[span.start:span.end], *ranked[0]))
                row = {k: {"spans": c[0], "among": round(c[1] / c[0], 3), "best": round(c[2] / c[0], 3),
                           "right": round(c[3] / c[0], 3), "wrong": round(c[4] / c[0], 3)}
                       for k, c in sorted(counts.items())}
                row["clean edits per 1k"] = round(1000 * edits / words, 2)
                name = f"choices {with_choices} weight {weight:.2f} swap {swap}"
                report[name] = row
                print(name, json.dumps(row), flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
