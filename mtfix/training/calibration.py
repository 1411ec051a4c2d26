"""Calibration and the measures training reports: temperature and Platt fits and average precision
(scikit-learn's), ECE, word MCC, and the threshold that keeps clean text at a budget of flags."""
from __future__ import annotations

import torch


def _one_weight(x: torch.Tensor, labels: torch.Tensor, intercept: bool) -> tuple[float, float]:
    """scikit-learn's (nearly unregularised) logistic regression of ``labels`` on one score: its weight and
    intercept."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e6, fit_intercept=intercept, max_iter=1000)
    model.fit(x.detach().float().reshape(-1, 1).numpy(), labels.detach().long().numpy())
    return float(model.coef_[0][0]), float(model.intercept_[0]) if intercept else 0.0


def _temperature(weight: float) -> float:
    """The temperature a logistic weight gives (logit / T), held within e^-4 and e^4 as before."""
    import math

    return math.exp(max(-4.0, min(4.0, -math.log(weight)))) if weight > 0 else math.exp(4.0)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature that minimises the negative log-likelihood on held-out words (two-class logits: a
    logistic regression on their difference, without intercept)."""
    weight, _ = _one_weight(logits[:, 1] - logits[:, 0], labels, intercept=False)
    return _temperature(weight)


def fit_platt(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Temperature and bias for one-logit scores (Platt scaling: a logistic regression on the logit): a bias undoes
    the prior shift that per-source training weights cause, which a temperature alone cannot."""
    weight, bias = _one_weight(logits, labels, intercept=True)
    return _temperature(weight), bias


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
    """Area under the precision-recall curve (ranking quality, threshold-free; scikit-learn's)."""
    from sklearn.metrics import average_precision_score

    if not bool(labels.bool().any()):
        return 0.0
    return float(average_precision_score(labels.bool().numpy(), scores.detach().float().numpy()))


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
