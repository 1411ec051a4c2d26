"""Calibration and the measures training reports: temperature and Platt fits, ECE, average precision, word
MCC, and the threshold that keeps clean text at a budget of flags."""
from __future__ import annotations

import torch


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature that minimises the negative log-likelihood on held-out words."""
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def step() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.clamp(-4, 4).exp(), labels)
        loss.backward()
        return loss

    opt.step(step)
    return float(log_t.detach().clamp(-4, 4).exp())


def fit_platt(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Temperature and bias for one-logit scores (Platt scaling): a bias undoes the prior shift that per-source
    training weights cause, which a temperature alone cannot."""
    log_t = torch.zeros(1, requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t, bias], lr=0.1, max_iter=200)

    def step() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits / log_t.clamp(-4, 4).exp() + bias,
                                                                    labels.float())
        loss.backward()
        return loss

    opt.step(step)
    return float(log_t.detach().clamp(-4, 4).exp()), float(bias.detach())


def ece(probs: torch.Tensor, labels: torch.Tensor, bins: int = 10) -> float:
    """Expected calibration error of P(BAD) over equal-width bins."""
    total = 0.0
    edges = torch.linspace(0, 1, bins + 1)
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (probs >= lo) & ((probs < hi) if hi < 1 else (probs <= hi))
        if inside.any():
            gap = probs[inside].mean().item() - labels[inside].float().mean().item()
            total += inside.float().mean().item() * abs(gap)
    return total


def average_precision(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the precision-recall curve (ranking quality, threshold-free)."""
    order = scores.argsort(descending=True)
    hits = labels[order]
    precision = hits.cumsum(0) / torch.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum().clamp(min=1))


def word_mcc(pred: torch.Tensor, gold: torch.Tensor) -> float:
    """Matthews correlation of boolean word predictions with boolean gold labels (mtfix.score.mcc)."""
    from mtfix.score import mcc

    tp, tn = float((pred & gold).sum()), float((~pred & ~gold).sum())
    fp, fn = float((pred & ~gold).sum()), float((~pred & gold).sum())
    return mcc(tp, fp, fn, tn)


def clean_threshold(probs: torch.Tensor, per_1k: float) -> float:
    """The lowest threshold that keeps these clean words at ``per_1k`` flags per 1,000."""
    ordered = probs.sort(descending=True).values
    allowed = int(len(ordered) * per_1k / 1000)
    return float(ordered[allowed]) + 1e-6 if allowed < len(ordered) else 0.5
