"""Fitting the corrector's reranking stage: a conditional logit over each span's choices, keeping the original
being one of them (scripts/eval_corrector.py fit calls it on a dev slice)."""
from __future__ import annotations

from typing import Any, Sequence

import torch

from mtfix.correct.base import TRAITS, Option, Rerank
from mtfix.text.formats import Document


def features(option: Option, kinds: Sequence[str]) -> list[float]:
    return [option.corrector_gain, option.lm_gain, float(option.words_delta),
            *[option.traits.get(t, 0.0) for t in TRAITS], *[float(option.kind == k) for k in kinds]]


def choice_targets(golds: Sequence[Document], found: Any, min_gain: float = 1.0) -> list[list[int]]:
    """For each span, the index of the option to choose, 0 meaning keep the original: the gold fix, else the
    option that most raises the sentence's chrF against the reference (by at least ``min_gain``); on a span to
    keep, always 0."""
    from sacrebleu.metrics import CHRF

    chrf = CHRF()
    targets = []
    for gold, per_text in zip(golds, found):
        fixes = {(s.start, s.end): s.fixes[0] for s in gold.spans}
        base = chrf.sentence_score(gold.text, [gold.reference]).score if gold.reference else 0.0
        row = []
        for span, options in per_text:
            want = fixes.get((span.start, span.end)) if span.label != "keep" else None
            best, best_gain = 0, min_gain
            if span.label != "keep":
                for k, option in enumerate(options, 1):
                    if option.replacement == want:
                        best, best_gain = k, float("inf")
                        break
                    if gold.reference:
                        fixed = gold.text[:span.start] + option.replacement + gold.text[span.end:]
                        gain = chrf.sentence_score(fixed, [gold.reference]).score - base
                        if gain >= best_gain:
                            best, best_gain = k, gain
            row.append(best)
        targets.append(row)
    return targets


def fit_rerank(golds: Sequence[Document], found: Any, kinds: Sequence[str], l2: float = 1e-3) -> Rerank:
    """A conditional logit over each span's choices (keep the original, z = 0, or one of its options, z = w . x):
    P(choice) = softmax, fitted by maximum likelihood of the choice_targets."""
    targets = choice_targets(golds, found)
    spans = [(options, t) for per_text, row in zip(found, targets) for (_, options), t in zip(per_text, row)
             if options]
    width = max(len(o) for o, _ in spans)
    dim = len(features(spans[0][0][0], kinds))
    x = torch.zeros(len(spans), width, dim)
    valid = torch.zeros(len(spans), width + 1, dtype=torch.bool)
    valid[:, 0] = True
    y = torch.tensor([t for _, t in spans])
    for i, (options, _) in enumerate(spans):
        x[i, :len(options)] = torch.tensor([features(o, kinds) for o in options])
        valid[i, 1:len(options) + 1] = True
    w = torch.zeros(dim, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=0.5, max_iter=500)

    def step() -> torch.Tensor:
        opt.zero_grad()
        logits = torch.cat([torch.zeros(len(spans), 1), x @ w + b], dim=1).masked_fill(~valid, -1e9)
        loss = torch.nn.functional.cross_entropy(logits, y) + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(step)
    weights = w.detach().tolist()
    n = 3 + len(TRAITS)
    return Rerank(s2s=weights[0], lm=weights[1], length=weights[2],
                  traits={t: round(v, 4) for t, v in zip(TRAITS, weights[3:n])},
                  kinds={k: round(v, 4) for k, v in zip(kinds, weights[n:])}, bias=float(b.detach()), softmax=True)
