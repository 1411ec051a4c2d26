"""Speed of the corrector: span correction against a full-sentence rewrite, and the seed article end to end.

    python scripts/bench_fix.py [--corrector models/rewriter] [--out runs/bench-fix.md]

1. The seed article (about 800 words) fixed end to end by `mtfix fix --apply` in a fresh process: imports,
   model loading, detection, correction, writing (target: under 20 s on 2 cores).
2. Same run, same segments (the seed article's lines), same spans (the default detector's): span correction
   (beam search over each flagged span, the options scored) against a full-sentence rewrite by the same model:
   every sentence written token by token over its whole length with the same beam width, which is what a model
   that rewrites the sentence must do at least (target: span correction at least 10x faster). For the LM
   rewriter the sentence is marked as one span and written in as many tokens as it has; for the span decoder
   the sentence is decoded piece by piece.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "article_backtranslated.txt"


def end_to_end(corrector: str | None, extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "mtfix", "fix", str(SEED), "--apply", "-o", f"{tmp}/fixed.txt", *extra]
        if corrector:
            cmd += ["--corrector", corrector]
        started = time.time()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ,
                                                                                  "MTFIX_NO_PROGRESS": "1"})
        if done.returncode:
            raise SystemExit(done.stderr)
        return time.time() - started


def rewrite_seconds(corrector, texts: list[str], beams: int) -> tuple[float, int]:
    """The same decoder writing each whole sentence, step by step, ``beams`` hypotheses wide."""
    from mtfix.correct.seq2seq import INSIDE, prompt

    inputs, states, _ = corrector._inputs(texts)
    model = corrector.model
    started = time.time()
    pieces_total = 0
    with torch.inference_mode():
        for k, inp in enumerate(inputs):
            text = texts[inp.segment]
            from mtfix.text.tokens import tokenize

            tokens = tokenize(text)
            sentence = text[tokens[inp.lo].start:tokens[inp.hi - 1].end]
            original = corrector.pieces.encode(sentence)
            n = len(inp.input_ids)
            marks = torch.full((1, n), INSIDE, dtype=torch.long)
            memory = model.memory(states[k].float().unsqueeze(0), marks).expand(beams, -1, -1)
            mask = torch.ones(beams, n, dtype=torch.long)
            head = prompt(model.config, original)[: model.config.max_len // 2]
            steps = len(original) + 1
            ids = torch.tensor([head + original + [model.config.eos_id]] * beams)
            for t in range(steps):  # no KV cache, as in the span beam search: each step reads its prefix
                model.decode(memory, mask, ids[:, : min(len(head) + t + 1, model.config.max_len - 1)])
            pieces_total += steps
    return time.time() - started, pieces_total


def lm_rewrite_seconds(rewriter, texts: list[str], beams: int, batch_size: int = 16) -> tuple[float, int]:
    """The LM rewriter writing each whole sentence (the sentence marked as one span), as many tokens as the
    sentence has, ``beams`` hypotheses wide, by the same beam search over the same cached prompts as span
    correction (batched alike): what a full-sentence rewrite by the same model costs at least."""
    from mtfix.text.tokens import sentence_spans

    tok = rewriter.tokenizer
    sentences = [(text, a, b) for text in texts for a, b in sentence_spans(text)]
    lengths = [len(tok(text[a:b], add_special_tokens=False)["input_ids"]) for text, a, b in sentences]
    order = sorted(range(len(sentences)), key=lengths.__getitem__)  # alike lengths batched together
    started = time.time()
    for k in range(0, len(order), batch_size):
        idx = order[k:k + batch_size]
        length = max(lengths[i] for i in idx) + 1
        rewriter.read([sentences[i] for i in idx]).nbest(beams, max_new_tokens=length,
                                                         min_new_tokens=min(lengths[i] for i in idx))
    return time.time() - started, sum(lengths) + len(sentences)


def lm_scoring(corrector, texts: list[str], spans: list) -> list[str]:
    """The reranker's LM scoring of the same spans' windows, as the corrector does it (each window's shared left
    context run once) and text by text, with the LM tokens each reads."""
    groups: list[list[str]] = []
    scorer = corrector.lm
    grouped = scorer.logprob_groups
    scorer.logprob_groups = lambda found: groups.extend(found) or grouped(found)
    try:
        corrector.correct(texts, spans)
    finally:
        del scorer.logprob_groups
    started = time.time()
    grouped(groups)
    shared_seconds = time.time() - started
    started = time.time()
    scorer.logprob([t for g in groups for t in g])
    whole_seconds = time.time() - started
    whole = sum(len(scorer.tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for g in groups for t in g)
    return ["", f"LM scoring of the {len(groups)} spans' windows ({sum(map(len, groups))} texts): "
                f"{shared_seconds:.2f} s with each window's left context run once, {whole_seconds:.2f} s text by "
                f"text ({whole:,} LM tokens)."]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corrector", default=None, help="a corrector folder (default: models/rewriter)")
    parser.add_argument("--out", default="runs/bench-fix.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    seconds_seed = end_to_end(args.corrector, [])
    seconds_seed_fast = end_to_end(args.corrector, ["--fast"])
    import mtfix

    fixer = mtfix.load(corrector=args.corrector)
    texts = [line for line in SEED.read_text().splitlines() if line.strip()]
    spans = fixer.detect(texts)
    corrector = fixer.corrector
    n_spans = sum(map(len, spans))
    words = sum(len(t.split()) for t in texts)
    corrector.correct(texts[:2], spans[:2])  # warm-up
    started = time.time()
    corrector.correct(texts, spans)
    span_seconds = time.time() - started
    if hasattr(corrector, "rewriter"):
        rewrite, pieces = lm_rewrite_seconds(corrector.rewriter, texts, corrector.beams)
        mode, by, unit = "the LM rewriter with reranking", "the same LM rewriter", "LM tokens"
    else:
        rewrite, pieces = rewrite_seconds(corrector, texts, corrector.beams)
        mode = "with LM reranking" if corrector.rerank is not None else "seq2seq alone"
        by, unit = "the same decoder", "pieces"
    lm_lines = lm_scoring(corrector, texts, spans) if corrector.rerank is not None else []
    lines = [f"Seed article: {words} words, {len(texts)} lines, {n_spans} flagged spans (default detector); "
             f"{torch.get_num_threads()} threads; corrector {mode}, beam {corrector.beams}.", "",
             "| what | seconds | words/s |", "|---|---|---|",
             f"| `mtfix fix --apply` end to end (fresh process, loading included), fused default | "
             f"{seconds_seed:.1f} | {words / seconds_seed:,.0f} |",
             f"| same with --fast detection | {seconds_seed_fast:.1f} | {words / seconds_seed_fast:,.0f} |",
             f"| span correction of the flagged spans | {span_seconds:.2f} | "
             f"{words / span_seconds:,.0f} |",
             f"| full-sentence rewrite by {by}, beam {corrector.beams} ({pieces:,} {unit}) | "
             f"{rewrite:.2f} | {words / rewrite:,.0f} |",
             "", f"Span correction is {rewrite / span_seconds:.1f}x faster than the rewrite.", *lm_lines]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
