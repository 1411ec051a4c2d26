"""Detector speed: words/s end to end (tokenise, window, batch, forward, aggregate) next to the bare encoder
forward on the same batches, in the same run; the tagger in fp32, bf16 (the default where the CPU computes bf16
natively: mtfix.detect.tagger.tagger_dtype) and dynamic int8. With --fused, the default detector too (tagger + SmolLM2
evidence + candidate contrast + fusion head) with the language model in bf16 (the default), fp32 and dynamic
int8, next to the bare forwards it needs (the tagger's encoder and the LM on the same batches) and the LM scorer
alone, and how often each gives the default's (bf16) spans; then the texts read as one document, as `mtfix detect`
reads a file (the threshold follows its MT probability and, where it does, the detector tries the follow point's
pivot siblings), against the same with three siblings; then with the LM gate, with the tagger at its default
precision and in fp32; with --screens, with other whole-window screens (what the issue's screen of 0.95 would cost).

    python scripts/bench_detect.py --model models/detector --words 20000
    python scripts/bench_detect.py --model models/detector --words 3000 --fused [--screens 10,6,4]

Each figure is the fastest of --repeat runs (default 3).
"""
from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def corpus(words: int, text: str = "mixed") -> list[str]:
    """Held-out clean news and the seed article (a real round trip), repeated to the size asked for: ``text``
    "mixed" (the article, then the news), "clean" (the news alone) or "translated" (the article alone)."""
    seed = (ROOT / "seeds" / "article_backtranslated.txt").read_text(encoding="utf-8").splitlines()
    news = (ROOT.parent / "shared" / "data" / "corpora" / "abc-science.txt").read_text(
        encoding="utf-8", errors="replace").splitlines()[-3000:]
    chosen = {"mixed": seed + news, "clean": news, "translated": seed}[text]
    lines = [line for line in chosen if line.strip()]
    out, count = [], 0
    while count < words:
        for line in lines:
            out.append(line)
            count += len(line.split())
            if count >= words:
                break
    return out


def same_spans(first: list, second: list) -> float:
    """The share of segments flagged in the same places (span offsets; the scores may differ in the last digits)."""
    places = [[[(s.start, s.end) for s in spans] for spans in side] for side in (first, second)]
    return sum(a == b for a, b in zip(*places)) / max(len(first), 1)


def tagger_forward(detector, texts: list[str]) -> float:
    """Seconds of the tagger's bare encoder forward over its own batches of ``texts`` (sorted windows)."""
    from mtfix.detect.encode import collate, sentence_windows
    from mtfix.text.tokens import tokenize

    windows = [w for i, t in enumerate(texts)
               for w in sentence_windows(detector.tokenizer, t, tokenize(t), i, detector.model.config.window)]
    windows.sort(key=lambda w: len(w.input_ids))
    batches = [collate(windows[b:b + detector.batch_size]) for b in range(0, len(windows), detector.batch_size)]
    start = time.perf_counter()
    with torch.inference_mode():
        for batch in batches:
            detector.model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    return time.perf_counter() - start


def lm_forward(scorer, texts: list[str]) -> float:
    """Seconds of the language model's bare forward (every layer, the output layer's logits included) over the
    scorer's own batches of ``texts``: sorted by length, as LanguageModelScorer.score batches them."""
    order = sorted(texts, key=len)
    batches = []
    for b in range(0, len(order), scorer.batch_size):
        enc = [scorer.tokenizer(t, add_special_tokens=False)["input_ids"] for t in order[b:b + scorer.batch_size]]
        ids = torch.full((len(enc), 1 + max(map(len, enc))), scorer.bos, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, e in enumerate(enc):
            ids[r, 1:1 + len(e)] = torch.tensor(e, dtype=torch.long)
            mask[r, :1 + len(e)] = 1
        batches.append((ids, mask))
    start = time.perf_counter()
    with torch.inference_mode():
        for ids, mask in batches:
            scorer.model(input_ids=ids, attention_mask=mask)
    return time.perf_counter() - start


def fastest(run, repeat: int) -> tuple[float, object]:
    """The fewest seconds ``run()`` took in ``repeat`` runs, and what it returned: a shared machine slows some runs,
    never speeds one up."""
    best, found = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        found = run()
        best = min(best, time.perf_counter() - start)
    return best, found


def bench(detector, texts: list[str], repeat: int = 1) -> dict[str, float]:
    from mtfix.text.tokens import tokenize

    n_words = sum(len(tokenize(t)) for t in texts)
    end_to_end, spans = fastest(lambda: detector.detect(texts), repeat)
    bare = min(tagger_forward(detector, texts) for _ in range(repeat))
    return {"words": n_words, "words_per_s": n_words / end_to_end, "bare_words_per_s": n_words / bare,
            "ratio": bare / end_to_end, "flags": sum(len(s) for s in spans)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "models" / "detector"))
    parser.add_argument("--words", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3,
                        help="time each measure this many times and keep the fastest (default 3)")
    parser.add_argument("--text", default="mixed", choices=["mixed", "clean", "translated"],
                        help="what is read: the seed article (a real round trip) then held-out clean news (mixed, "
                             "the default), the news alone (clean) or the article alone, repeated (translated)")
    parser.add_argument("--fused", action="store_true", help="also time the fused detector (needs its head)")
    parser.add_argument("--fused-words", type=int, default=3000, help="words for the fused timing")
    parser.add_argument("--screens", default="",
                        help="with --fused, also time the default with these whole-window screens (nats, comma-"
                             "separated; the default is 10): what contrasting more words costs (the head was fitted "
                             "at its own screen, so the spans are not the default's)")
    parser.add_argument("--lm-gate", type=float, default=None,
                        help="the LM gate of the gated fused row (default: the model's own; rows without the gate "
                             "are timed as well)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, not {args.repeat}")
    torch.set_num_threads(args.threads)
    from mtfix.detect.tagger import TaggerDetector, tagger_dtype

    texts = corpus(args.words, args.text)
    detector = TaggerDetector.load(args.model, dtype=torch.float32, batch_size=args.batch_size)
    detector.detect(texts[:50])  # warm up
    results, spans = {}, {}
    fp32_model = detector.model
    for name, model in (("fp32", fp32_model), ("bf16", copy.deepcopy(fp32_model).to(torch.bfloat16)),
                        ("dynamic int8", torch.ao.quantization.quantize_dynamic(copy.deepcopy(fp32_model),
                                                                               {torch.nn.Linear}, dtype=torch.qint8))):
        detector.model = model
        detector.detect(texts[:50])
        results[name] = bench(detector, texts, args.repeat)
        spans[name] = detector.detect(texts)
    default = "bf16" if tagger_dtype() == torch.bfloat16 else "fp32"
    print(f"{torch.get_num_threads()} threads, {results['fp32']['words']:,} words, batch {args.batch_size}")
    print("| mode | words/s end to end | bare encoder forward words/s | end-to-end / bare | flags |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        label = name + (" (the default on this CPU)" if name == default else "")
        print(f"| {label} | {r['words_per_s']:,.0f} | {r['bare_words_per_s']:,.0f} | {r['ratio']:.2f} | {r['flags']} |")
    for name in ("bf16", "dynamic int8"):
        same = same_spans(spans["fp32"], spans[name])
        print(f"{name} flags the same spans as fp32 (offsets) on {same:.1%} of segments")
    if args.fused:
        bench_fused(args, texts[:max(1, len(texts) * args.fused_words // max(args.words, 1))])


def follow_rows(detector, texts: list[str], args: argparse.Namespace, n_words: int, reference: list,
                rows: list[str]) -> None:
    """The fused detector as `mtfix detect` reads a file: the texts one document, the threshold following its MT
    probability, where the threshold follows trying the follow point's pivot siblings, next to the same with the
    generator's own three (rows appended to ``rows``)."""
    from dataclasses import replace

    from mtfix.detect.document import Tally, load_follow, load_heads

    follow = load_follow(Path(args.model))
    detector.document = load_heads(Path(args.model)).get("fused")
    if follow is None or detector.document is None:
        detector.document = None
        return
    for label, chosen in ((f"following the document, up to {follow.siblings} pivot siblings (the default)", follow),
                          ("following the document, three pivot siblings", replace(follow, siblings=None))):
        if follow.siblings is None and chosen is not follow:
            continue
        detector.follow = chosen
        seconds, spans = fastest(lambda: detector.detect(texts, prior=Tally()), args.repeat)
        rows.append(f"| fused, LM at its default precision, {label} | {n_words / seconds:,.0f} | - | - | - | "
                    f"{sum(len(s) for s in spans)} | {same_spans(reference, spans):.1%} |")
    detector.follow = detector.document = None


def bench_fused(args: argparse.Namespace, texts: list[str]) -> None:
    """The default (fused) detector end to end, by LM precision, next to the bare forwards it cannot do without
    (the tagger's encoder and the LM, on the same batches) and the LM scorer alone."""
    from mtfix.detect.fuse import FusedDetector
    from mtfix.detect.lm import DEFAULT_DTYPE, load_lm
    from mtfix.detect.tagger import TaggerDetector
    from mtfix.text.tokens import tokenize

    n_words = sum(len(tokenize(t)) for t in texts)
    detector = FusedDetector.load(args.model, str(Path(args.model) / "fused"), batch_size=args.batch_size)
    gate = detector.lm_gate if args.lm_gate is None else args.lm_gate
    detector.lm_gate = 0.0  # every segment read by the LM, for the rows by precision
    default = "bf16 (the default precision), no LM gate"
    variants = {default: detector.scorer.model if DEFAULT_DTYPE == torch.bfloat16 else load_lm(torch.bfloat16)[0],
                "fp32": load_lm(torch.float32)[0],
                "dynamic int8": torch.ao.quantization.quantize_dynamic(load_lm()[0], {torch.nn.Linear},
                                                                      dtype=torch.qint8)}
    rows, reference = [], None
    for name, model in variants.items():
        detector.scorer.model = model
        detector.detect(texts[:8])  # warm up
        seconds, spans = fastest(lambda: detector.detect(texts), args.repeat)
        reference = reference or spans
        same = same_spans(reference, spans)
        bare = min(tagger_forward(detector.tagger, texts) + lm_forward(detector.scorer, texts)
                   for _ in range(args.repeat))
        lm_only, _ = fastest(lambda: detector.scorer.score(texts), args.repeat)
        rows.append(f"| fused, LM {name} | {n_words / seconds:,.0f} | {n_words / bare:,.0f} | {bare / seconds:.2f} | "
                    f"{n_words / lm_only:,.0f} | {sum(len(s) for s in spans)} | {same:.1%} |")
    detector.scorer.model = variants[default]
    follow_rows(detector, texts, args, n_words, reference, rows)
    fitted = detector.config.full_contrast
    for screen in [float(x) for x in args.screens.split(",") if x.strip()]:
        detector.config.full_contrast = {**(fitted or {}), "screen_nats": screen}
        seconds, spans = fastest(lambda: detector.detect(texts), args.repeat)
        evidence = detector.evidence(texts, detector.contexts(texts, None))
        contrasted = sum(f[0] is not None or f[1] is not None for scores, _ in evidence for f in scores.full) / max(
            sum(len(scores.tokens) for scores, _ in evidence), 1)
        rows.append(f"| fused, LM bf16, whole-window screen {screen:g} nats ({contrasted:.1%} of the words "
                    f"contrasted) | {n_words / seconds:,.0f} | - | - | - | {sum(len(s) for s in spans)} | "
                    f"{same_spans(reference, spans):.1%} |")
    detector.config.full_contrast = fitted
    if gate > 0:  # the default precision (bf16) with the LM gate: segments the tagger finds quiet skip the LM
        detector.scorer.model, detector.lm_gate = variants[default], gate
        asked = [t for t, p in zip(texts, detector.tagger.word_probabilities(texts)) if p and not detector.gated(p)]
        read = sum(len(tokenize(t)) for t in asked) / max(n_words, 1)

        def gated_row(label: str) -> str:
            seconds, spans = fastest(lambda: detector.detect(texts), args.repeat)
            bare = min(tagger_forward(detector.tagger, texts) + lm_forward(detector.scorer, asked)
                       for _ in range(args.repeat))  # the LM's forward on the segments it reads
            return (f"| {label} | {n_words / seconds:,.0f} | {n_words / bare:,.0f} | {bare / seconds:.2f} | - | "
                    f"{sum(len(s) for s in spans)} | {same_spans(reference, spans):.1%} |")

        rows.append(gated_row(f"fused, LM bf16, LM gate {gate:g} (the LM reads {read:.0%} of the words)"))
        if detector.tagger.model.dtype != torch.float32:  # the same with the tagger in fp32 (the default before)
            detector.tagger = TaggerDetector.load(args.model, dtype=torch.float32, batch_size=args.batch_size)
            rows.append(gated_row("the same with the tagger in fp32"))
    print(f"\nfused detector, {n_words:,} words, {torch.get_num_threads()} threads")
    print("| mode | words/s end to end | bare forwards (tagger + LM) words/s | end-to-end / bare | "
          "LM scoring alone words/s | flags | same spans as the first row (offsets) |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
