"""A class for every flagged span: what kind of artifact it looks like, with a probability.

The class head is a multinomial logistic regression over what a reader sees of the span (how many words, how rare,
capitals where they should not be, hyphens, repeated neighbours, function words of one group) and what the
candidate generator finds for it (a pivot sibling, a spelling, a case, spacing, pronoun or article variant). It is
trained on gold spans of the training split (the synthetic kinds, MLQE-PE and apertium spans named by
mtfix.data.classify) by scripts/train_classes.py and ships as models/detector/classes.json.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from mtfix.text.spans import Span
from mtfix.text.tokens import Token, sentence_spans, tokenize

CLASSES = ("wrong-sense", "non-word", "casing", "spacing", "article", "pronoun", "preposition", "repetition",
           "omission", "name", "word-order", "other")
# the training data's labels (synthetic kinds and mtfix.data.classify's kinds of real MT) as classes
FROM_LABEL = {
    "pivot": "wrong-sense", "meaning": "wrong-sense", "lm-plausible": "wrong-sense",
    "non-word": "non-word", "casing": "casing", "fused": "spacing", "hyphen": "spacing", "spacing": "spacing",
    "article": "article", "pronoun": "pronoun", "preposition": "preposition", "repetition": "repetition",
    "dropped": "omission", "missing": "omission", "calque": "name",
    "verb-order": "word-order", "clause-order": "word-order", "morphology": "word-order",
    "function-word": "word-order", "multi-word": "other", "punctuation": "other", "extra": "other",
}
GENERATOR_KINDS = ("pivot", "spelling", "case", "spacing", "pronoun", "article")
FEATURES = ("words_1", "words_2", "words_3", "log_chars", "min_zipf", "max_zipf", "oov_lower", "oov_any",
            "inner_capital", "capital_inside_sentence", "all_capitalised", "sentence_initial", "prev_capital",
            "next_capital", "hyphen_edge", "hyphen_inside", "all_articles", "all_pronouns", "all_prepositions",
            "all_stop", "any_article", "any_pronoun", "any_preposition", "repeats_prev", "repeats_next",
            "before_punct", "digits", "no_letters", "long_word", *(f"cand_{k}" for k in GENERATOR_KINDS))
_INNER_CAPITAL = re.compile(r"[a-z][A-Z]")


def class_of_label(label: str) -> str | None:
    """The class a training label names (None for spans that name no artifact: untagged, keep)."""
    return FROM_LABEL.get(label)


def reader_span(text: str, tokens: Sequence[Token], start: int, end: int) -> tuple[int, int]:
    """A gold span as a detector flags it: a zero-width span (something missing) is the word after the gap, or
    the one before it at the end of the text."""
    if end > start:
        return start, end
    after = next((t for t in tokens if t.start >= start), None)
    before = next((t for t in reversed(tokens) if t.end <= start), None)
    word = after or before
    return (word.start, word.end) if word is not None else (start, end)


def features(text: str, tokens: Sequence[Token], start: int, end: int, generator: Any = None) -> list[float]:
    """The class head's features of ``text[start:end]`` (see FEATURES), ``tokens`` the text's tokens."""
    from mtfix.detect.candidates import CandidateGenerator
    from mtfix.text.words import ARTICLES, PREPOSITIONS, words_of
    from mtfix.text.words import PRONOUNS as pronouns
    from mtfix.text.words import STOP as stop

    articles, prepositions = ARTICLES | {"one"}, set(PREPOSITIONS)  # "in one Explosion": "one" as an article

    span = text[start:end]
    zipf = CandidateGenerator.zipf  # wordfreq's, remembered per word
    words = words_of(span)
    low = [w.lower() for w in words]
    inside = [j for j, t in enumerate(tokens) if start <= t.start and t.end <= end]
    prev_tok = tokens[inside[0] - 1] if inside and inside[0] > 0 else None
    next_tok = tokens[inside[-1] + 1] if inside and inside[-1] + 1 < len(tokens) else None
    zipfs = [zipf(w) for w in low if w.isalpha()] or [7.0]
    starts = {a for a, _ in sentence_spans(text)}
    first = tokens[inside[0]] if inside else None
    initial = first is not None and (first.start in starts or (prev_tok is not None and prev_tok.text in ".!?:\""))
    capitals = [w for w in words if w[:1].isupper()]
    kinds: set[str] = set()
    if generator is not None and len(inside) == 1:
        kinds = {c.kind for c in generator.for_word(text, list(tokens), inside[0])}
    n = len(words)
    values = {
        "words_1": float(n <= 1), "words_2": float(n == 2), "words_3": float(n >= 3),
        "log_chars": math.log1p(len(span.strip())),
        "min_zipf": min(zipfs) / 8, "max_zipf": max(zipfs) / 8,
        "oov_lower": float(any(w.isalpha() and w.islower() and zipf(w) == 0 for w in words)),
        "oov_any": float(any(w.isalpha() and zipf(w.lower()) == 0 for w in words)),
        "inner_capital": float(bool(_INNER_CAPITAL.search(span))),
        "capital_inside_sentence": float(bool(capitals) and not (initial and len(capitals) == 1
                                                                  and words[0] == capitals[0])),
        "all_capitalised": float(bool(words) and len(capitals) == len(words)),
        "sentence_initial": float(initial),
        "prev_capital": float(prev_tok is not None and prev_tok.text[:1].isupper()),
        "next_capital": float(next_tok is not None and next_tok.text[:1].isupper()),
        "hyphen_edge": float(span.strip().startswith("-") or span.strip().endswith("-")
                             or (prev_tok is not None and prev_tok.text == "-")
                             or (next_tok is not None and next_tok.text == "-")),
        "hyphen_inside": float(any("-" in w for w in words) or " -" in span or "- " in span),
        "all_articles": float(bool(low) and set(low) <= articles),
        "all_pronouns": float(bool(low) and set(low) <= pronouns),
        "all_prepositions": float(bool(low) and set(low) <= prepositions),
        "all_stop": float(bool(low) and set(low) <= stop),
        "any_article": float(bool(set(low) & articles)),
        "any_pronoun": float(bool(set(low) & pronouns)),
        "any_preposition": float(bool(set(low) & prepositions)),
        "repeats_prev": float(prev_tok is not None and bool(low) and prev_tok.text.lower() == low[0]),
        "repeats_next": float(next_tok is not None and bool(low) and next_tok.text.lower() == low[-1]),
        "before_punct": float(next_tok is None or not next_tok.text[:1].isalnum()),
        "digits": float(any(c.isdigit() for c in span)),
        "no_letters": float(not any(c.isalpha() for c in span)),
        "long_word": float(any(len(w) >= 14 for w in words)),
        **{f"cand_{k}": float(k in kinds) for k in GENERATOR_KINDS},
    }
    return [values[f] for f in FEATURES]


@dataclass
class ClassHead:
    """Softmax regression: one row of weights per class over standardised FEATURES."""

    weights: list[list[float]]
    bias: list[float]
    mean: list[float]
    scale: list[float]
    classes: tuple[str, ...] = CLASSES
    record: dict[str, Any] | None = None
    prior: list[float] | None = None  # each class's share of real spans; the head was fitted on balanced classes
    prior_weight: float = 0.5         # how far toward those shares (0: balanced; 1: Bayes' rule), chosen on dev

    @classmethod
    def load(cls, path: str | Path) -> "ClassHead":
        obj = json.loads(Path(path).read_text())
        if tuple(obj["features"]) != FEATURES:
            raise ValueError(f"{path}: made for other features; retrain it with scripts/train_classes.py")
        return cls(obj["weights"], obj["bias"], obj["mean"], obj["scale"], tuple(obj["classes"]),
                   obj.get("record"), obj.get("prior"), obj.get("prior_weight", 0.5))

    def save(self, path: str | Path) -> None:
        obj = {"classes": list(self.classes), "features": list(FEATURES), "weights": self.weights,
               "bias": self.bias, "mean": self.mean, "scale": self.scale, "prior": self.prior,
               "prior_weight": self.prior_weight,
               "record": self.record or {}}
        Path(path).write_text(json.dumps(obj, indent=1) + "\n")

    def probabilities(self, rows: Sequence[Sequence[float]]) -> list[list[float]]:
        out = []
        for row in rows:
            x = [(v - m) / s for v, m, s in zip(row, self.mean, self.scale)]
            logits = [b + sum(w * v for w, v in zip(ws, x)) for ws, b in zip(self.weights, self.bias)]
            if self.prior:  # from balanced training toward the classes' real shares
                logits = [v + self.prior_weight * math.log(max(p, 1e-6) * len(self.prior))
                          for v, p in zip(logits, self.prior)]
            top = max(logits)
            exp = [math.exp(v - top) for v in logits]
            total = sum(exp)
            out.append([e / total for e in exp])
        return out

    def assign(self, texts: Sequence[str], spans: Sequence[Sequence[Span]], generator: Any = None
               ) -> list[list[Span]]:
        """The spans with their class and its probability (a span that already has a class keeps it)."""
        out = []
        for text, found in zip(texts, spans):
            todo = [s for s in found if s.class_name is None]
            if not todo:
                out.append(list(found))
                continue
            tokens = tokenize(text)
            rows = [features(text, tokens, *reader_span(text, tokens, s.start, s.end), generator) for s in todo]
            named = {}
            for s, p in zip(todo, self.probabilities(rows)):
                k = max(range(len(p)), key=p.__getitem__)
                named[id(s)] = replace(s, class_name=self.classes[k], class_p=round(p[k], 4))
            out.append([named.get(id(s), s) for s in found])
        return out


def fit(rows: Sequence[Sequence[float]], labels: Sequence[int], l2: float = 1e-3, steps: int = 200,
        weights: Sequence[float] | None = None) -> ClassHead:
    """Softmax regression by L-BFGS on standardised features; ``weights`` per example (to balance classes)."""
    import torch

    x = torch.tensor(rows, dtype=torch.float64)
    y = torch.tensor(labels)
    mean, scale = x.mean(0), x.std(0).clamp(min=1e-6)
    x = (x - mean) / scale
    w = torch.tensor(weights, dtype=torch.float64) if weights is not None else torch.ones(len(labels),
                                                                                            dtype=torch.float64)
    W = torch.zeros(len(CLASSES), x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(len(CLASSES), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([W, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> Any:
        optimizer.zero_grad()
        loss = (torch.nn.functional.cross_entropy(x @ W.T + b, y, reduction="none") * w).sum() / w.sum()
        loss = loss + l2 * (W ** 2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return ClassHead(W.detach().tolist(), b.detach().tolist(), mean.tolist(), scale.tolist())


def shipped_classes(detector_path: str | Path | None = None) -> ClassHead | None:
    """The class head beside a detector folder, else the shipped one (models/detector/classes.json: its features
    read the text, not the detector), or None when there is none."""
    from mtfix.models import shipped_detector

    for folder in (Path(detector_path) if detector_path else None, shipped_detector()):
        if folder is not None and (folder / "classes.json").exists():
            return ClassHead.load(folder / "classes.json")
    return None
