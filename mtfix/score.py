"""The scoring harness: word- and span-level detection, edit correctness, chrF/TER deltas, do-no-harm."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from mtfix import __version__
from mtfix.text.align import UNTAGGED
from mtfix.text.formats import Document
from mtfix.text.spans import Edit, Span, apply_edits
from mtfix.text.tokens import Token, tokenize

EPS = 1e-12


# --- per-document statistics ---------------------------------------------------------------------

def word_labels(tokens: Sequence[Token], spans: Sequence[Span]) -> list[bool]:
    """True for each token that a (non-empty) span overlaps."""
    ranges = sorted((s.start, s.end) for s in spans if s.end > s.start)
    labels = []
    for tok in tokens:
        labels.append(any(a < tok.end and tok.start < b for a, b in ranges))
    return labels


def _trimmed(text: str, span: Span) -> tuple[int, int]:
    """Span offsets without surrounding whitespace; a whitespace-only span becomes zero width."""
    start, end = span.start, span.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else (span.start, span.start)


def _coverage(text: str, span: tuple[int, int], others: Sequence[tuple[int, int]]) -> float:
    """Share of the span's non-space characters that ``others`` cover; a zero-width span counts as
    covered when it lies inside or on the edge of another span."""
    if span[0] == span[1]:
        return 1.0 if any(a <= span[0] <= b for a, b in others) else 0.0
    chars = [i for i in range(span[0], span[1]) if not text[i].isspace()] or list(range(*span))
    covered = sum(1 for i in chars if any(a <= i < b or (a == b == i) for a, b in others))
    return covered / len(chars)


def _normalise(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().casefold()


def _edit_fixes_span(text: str, edit: Edit, gold: Span, normalise: bool) -> bool:
    """True when ``edit`` touches ``gold`` and applying it yields one of the gold span's fixes."""
    zero = edit.start == edit.end or gold.start == gold.end
    touches = edit.start < gold.end and gold.start < edit.end
    if not touches and not (zero and edit.start <= gold.end and gold.start <= edit.end):
        return False
    lo, hi = min(edit.start, gold.start), max(edit.end, gold.end)
    original = text[lo:hi]
    got = apply_edits(original, [Edit(edit.start - lo, edit.end - lo, edit.replacement)])
    norm: Callable[[str], str] = _normalise if normalise else (lambda s: s)
    if not gold.fixes:
        return norm(got) != norm(original)
    wanted = {norm(apply_edits(original, [Edit(gold.start - lo, gold.end - lo, fix)])) for fix in gold.fixes}
    return norm(got) in wanted


@dataclass(frozen=True)
class Settings:
    """Everything that changes a number; pinned in the signature."""

    threshold: float = 0.0
    normalise: bool = False
    bootstrap: int = 1000
    seed: int = 12345

    def signature(self) -> str:
        return (f"mtfix-score|match:exact+partial|words:mtfix-tok|norm:{'case+space' if self.normalise else 'no'}"
                f"|threshold:{self.threshold:g}|bootstrap:{self.bootstrap}|seed:{self.seed}|version:{__version__}")


DETECT_KEYS = ["tp", "fp", "fn", "tn", "n_pred", "n_gold", "exact_pred", "exact_gold", "part_pred", "part_gold"]
CORRECT_KEYS = ["n_edits", "good_edits", "n_fixable", "hit_gold"]


def detection_stats(gold: Document, pred: Document, threshold: float = 0.0) -> list[float]:
    """Word confusion counts and span match counts for one document."""
    tokens = tokenize(gold.text)
    gold_spans = [s for s in gold.spans if s.label != UNTAGGED]
    pred_spans = [s for s in pred.spans if s.score >= threshold]
    g = word_labels(tokens, gold_spans)
    p = word_labels(tokens, pred_spans)
    tp = sum(a and b for a, b in zip(g, p))
    fp = sum(b and not a for a, b in zip(g, p))
    fn = sum(a and not b for a, b in zip(g, p))
    tn = len(tokens) - tp - fp - fn
    gs = [_trimmed(gold.text, s) for s in gold_spans]
    ps = [_trimmed(gold.text, s) for s in pred_spans]
    gset, pset = set(gs), set(ps)
    exact_pred = sum(1 for s in ps if s in gset)
    exact_gold = sum(1 for s in gs if s in pset)
    part_pred = sum(_coverage(gold.text, s, gs) for s in ps)
    part_gold = sum(_coverage(gold.text, s, ps) for s in gs)
    return [tp, fp, fn, tn, len(ps), len(gs), exact_pred, exact_gold, part_pred, part_gold]


def correction_stats(gold: Document, pred: Document, settings: Settings) -> list[float]:
    """Edit counts for one document: proposed, right, gold spans, gold spans fixed."""
    edits = [e for e in pred.edits or [] if e.score >= settings.threshold
             and gold.text[e.start:e.end] != e.replacement]
    good = sum(1 for e in edits if any(_edit_fixes_span(gold.text, e, s, settings.normalise) for s in gold.spans))
    hit = sum(1 for s in gold.spans if any(_edit_fixes_span(gold.text, e, s, settings.normalise) for e in edits))
    return [len(edits), good, len(gold.spans), hit]


# --- metrics from summed statistics --------------------------------------------------------------

def _div(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0


def _f(p: float, r: float, beta: float = 1.0) -> float:
    b2 = beta * beta
    return (1 + b2) * p * r / (b2 * p + r) if p + r > 0 else 0.0


def mcc(tp: float, fp: float, fn: float, tn: float) -> float:
    """Matthews correlation from the four counts of a binary decision (0 where a row or column is empty): the one
    word MCC of scoring and of training."""
    denom = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / denom if denom > 0 else 0.0


def detection_metrics(s: dict[str, float]) -> dict[str, float]:
    tp, fp, fn, tn = s["tp"], s["fp"], s["fn"], s["tn"]
    p_bad, r_bad = _div(tp, tp + fp), _div(tp, tp + fn)
    p_ok, r_ok = _div(tn, tn + fn), _div(tn, tn + fp)
    f1_bad, f1_ok = _f(p_bad, r_bad), _f(p_ok, r_ok)
    word_mcc = mcc(tp, fp, fn, tn)
    ep, er = _div(s["exact_pred"], s["n_pred"]), _div(s["exact_gold"], s["n_gold"])
    pp, pr = _div(s["part_pred"], s["n_pred"]), _div(s["part_gold"], s["n_gold"])
    return {
        "word_precision_bad": p_bad, "word_recall_bad": r_bad, "word_f1_bad": f1_bad, "word_f1_ok": f1_ok,
        "word_f1_mult": f1_bad * f1_ok, "word_mcc": word_mcc,
        "span_exact_precision": ep, "span_exact_recall": er, "span_exact_f05": _f(ep, er, 0.5),
        "span_partial_precision": pp, "span_partial_recall": pr, "span_partial_f05": _f(pp, pr, 0.5),
    }


def correction_metrics(s: dict[str, float]) -> dict[str, float]:
    p, r = _div(s["good_edits"], s["n_edits"]), _div(s["hit_gold"], s["n_fixable"])
    return {"edit_precision": p, "edit_recall": r, "edit_f05": _f(p, r, 0.5)}


def _sum(rows: np.ndarray, keys: Sequence[str]) -> dict[str, float]:
    return dict(zip(keys, rows.sum(axis=0).tolist()))


def with_intervals(rows: np.ndarray, keys: Sequence[str], metric: Callable[[dict[str, float]], dict[str, float]],
                   settings: Settings) -> dict[str, dict[str, float]]:
    """Each metric with a bootstrap 95% interval over documents."""
    point = metric(_sum(rows, keys))
    out = {name: {"value": value} for name, value in point.items()}
    if settings.bootstrap > 0 and len(rows) > 1:
        rng = np.random.default_rng(settings.seed)
        samples: dict[str, list[float]] = {name: [] for name in point}
        for _ in range(settings.bootstrap):
            pick = rows[rng.integers(0, len(rows), len(rows))]
            for name, value in metric(_sum(pick, keys)).items():
                samples[name].append(value)
        for name, values in samples.items():
            lo, hi = np.percentile(values, [2.5, 97.5])
            out[name]["low"], out[name]["high"] = float(lo), float(hi)
    return out


def _sacre(metric: Any, hyps: list[str], refs: list[str], settings: Settings) -> dict[str, float]:
    """A sacrebleu corpus score with a bootstrap interval from per-segment statistics."""
    stats = np.array(metric._extract_corpus_statistics(hyps, [refs]), dtype=float)
    value = metric._compute_score_from_stats(list(stats.sum(axis=0))).score
    out = {"value": value}
    if settings.bootstrap > 0 and len(stats) > 1:
        rng = np.random.default_rng(settings.seed)
        picks = (stats[rng.integers(0, len(stats), len(stats))] for _ in range(settings.bootstrap))
        draws = [metric._compute_score_from_stats(list(pick.sum(axis=0))).score for pick in picks]
        lo, hi = np.percentile(draws, [2.5, 97.5])
        out["low"], out["high"] = float(lo), float(hi)
    return out


def text_metrics(golds: Sequence[Document], preds: Sequence[Document], settings: Settings) -> dict[str, Any]:
    """Corpus chrF and TER of the fixed text and of the unchanged input against the reference."""
    from sacrebleu.metrics import CHRF, TER

    pairs = [(g, p) for g, p in zip(golds, preds) if g.reference is not None]
    if not pairs:
        return {}
    refs = [g.reference or "" for g, _ in pairs]
    fixed = [_fixed_text(g, p, settings.threshold) for g, p in pairs]
    source = [g.text for g, _ in pairs]
    out: dict[str, Any] = {}
    for name, metric in (("chrf", CHRF()), ("ter", TER())):
        out[f"{name}_fixed"] = _sacre(metric, fixed, refs, settings)
        out[f"{name}_input"] = _sacre(metric, source, refs, settings)
        out[f"{name}_delta"] = {"value": out[f"{name}_fixed"]["value"] - out[f"{name}_input"]["value"]}
        out[f"{name}_signature"] = str(metric.get_signature())
    return out


def _fixed_text(gold: Document, pred: Document, threshold: float) -> str:
    if pred.edits is None:
        return pred.fixed if pred.fixed is not None else gold.text
    return apply_edits(gold.text, [e for e in pred.edits if e.score >= threshold])


def recall_by_label(golds: Sequence[Document], preds: Sequence[Document], threshold: float = 0.0
                    ) -> dict[str, dict[str, float]]:
    """Word recall per gold span label (artifact class): the share of its words that a prediction flags."""
    found: dict[str, list[int]] = {}
    for gold, pred in zip(golds, preds):
        tokens = tokenize(gold.text)
        flagged = word_labels(tokens, [s for s in pred.spans if s.score >= threshold])
        for span in gold.spans:
            if span.label == UNTAGGED or span.end <= span.start:
                continue
            inside = [f for t, f in zip(tokens, flagged) if t.start < span.end and span.start < t.end]
            severity = span.label.split(":", 1)[0]
            names = [span.label] + ([f"{severity} (all)"] if ":" in span.label and severity in ("Major", "Minor")
                                    else [])  # MQM labels: severity:category; severities also kept apart
            for name in names:
                counts = found.setdefault(name, [0, 0, 0, 0])
                counts[0] += len(inside)
                counts[1] += sum(inside)
                counts[2] += 1
                counts[3] += int(any(inside))
    return {label: {"words": c[0], "word_recall": _div(c[1], c[0]), "spans": c[2], "span_recall": _div(c[3], c[2])}
            for label, c in sorted(found.items())}


def clean_rates(preds: Sequence[Document], threshold: float = 0.0) -> dict[str, float]:
    """Do-no-harm on clean text: flagged words and edits per 1,000 words."""
    words = flagged = edits = 0
    for doc in preds:
        tokens = [t for t in tokenize(doc.text)]
        labels = word_labels(tokens, [s for s in doc.spans if s.score >= threshold])
        words += len(tokens)
        flagged += sum(labels)
        edits += sum(1 for e in doc.edits or [] if e.score >= threshold and doc.text[e.start:e.end] != e.replacement)
    return {"words": words, "flags_per_1k_words": 1000 * _div(flagged, words),
            "edits_per_1k_words": 1000 * _div(edits, words)}


class AlignmentError(ValueError):
    """Gold and predictions do not describe the same segments."""


def score(golds: Sequence[Document], preds: Sequence[Document], settings: Settings = Settings()) -> dict[str, Any]:
    """All metrics for predictions against gold, document by document in order."""
    if len(golds) != len(preds):
        raise AlignmentError(f"gold has {len(golds)} segments but predictions have {len(preds)}")
    for i, (g, p) in enumerate(zip(golds, preds)):
        if g.text != p.text:
            raise AlignmentError(f"segment {i + 1} differs between gold and predictions: {g.text[:40]!r}...")
    result: dict[str, Any] = {"signature": settings.signature(), "segments": len(golds),
                              "words": sum(len(tokenize(g.text)) for g in golds)}
    det = np.array([detection_stats(g, p, settings.threshold) for g, p in zip(golds, preds)], dtype=float)
    det = det.reshape(len(golds), len(DETECT_KEYS))
    result["detection"] = with_intervals(det, DETECT_KEYS, detection_metrics, settings)
    labels = {s.label for g in golds for s in g.spans if s.label != UNTAGGED}
    if len(labels) > 1:
        result["by_label"] = recall_by_label(golds, preds, settings.threshold)
    if any(p.edits is not None or p.fixed is not None for p in preds):
        cor = np.array([correction_stats(g, p, settings) for g, p in zip(golds, preds)], dtype=float)
        cor = cor.reshape(len(golds), len(CORRECT_KEYS))
        result["correction"] = with_intervals(cor, CORRECT_KEYS, correction_metrics, settings)
        result["text"] = text_metrics(golds, preds, settings)
    return result
