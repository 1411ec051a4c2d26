"""Reading a whole document: how likely it is that the text went through machine translation.

A detector that can (the fused detector, the tagger) tallies each segment it reads into a ``Tally`` of sums (words,
word probabilities at several levels, the language model's surprisal and entropy); sums of segments add up to the
document's, whatever the batches or pieces it was read in. A small logistic head (``DocumentHead``, in the
detector folder's ``document.json``, fitted by ``mtfix train document``) turns a document's tally into the
calibrated probability that it is machine translated, read from the same evidence that flags its words: no model
runs twice.
"""
from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Sequence

from mtfix.text.tokens import Token, is_word

LEVELS = (0.1, 0.3, 0.5, 0.9)  # word probabilities counted at these levels
SURPRISING = 8.0               # a word this surprising (nats) counts as surprising
FILE = "document.json"


@dataclass
class Tally:
    """Sums over the words of some text: how many, their calibrated P(BAD) (sum, and how many reach each of
    LEVELS), the tagger's P(BAD), and where the language model read them its surprisal and entropy (nats) and how
    many were SURPRISING. Tallies add."""

    words: int = 0
    p: float = 0.0
    p10: int = 0
    p30: int = 0
    p50: int = 0
    p90: int = 0
    tagger: float = 0.0
    lm_words: int = 0
    surprisal: float = 0.0
    entropy: float = 0.0
    surprising: int = 0

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "Tally":
        return cls(**{f.name: raw[f.name] for f in fields(cls)})


def tally(tokens: Sequence[Token], probs: Sequence[float], tagger: Sequence[float] | None = None,
          surprisal: Sequence[float] | None = None, entropy: Sequence[float] | None = None) -> Tally:
    """One segment's tally: its word tokens' probabilities (``probs``: per token, as a detector gives them),
    the tagger's (``tagger``; None: ``probs`` are the tagger's), and the LM's surprisal and entropy where it read
    the segment (empty or None: not read)."""
    tagger = probs if tagger is None else tagger
    lm = bool(surprisal)
    out = Tally()
    for i, tok in enumerate(tokens):
        if not is_word(tok):
            continue
        p = float(probs[i])
        out.words += 1
        out.p += p
        out.p10 += p >= LEVELS[0]
        out.p30 += p >= LEVELS[1]
        out.p50 += p >= LEVELS[2]
        out.p90 += p >= LEVELS[3]
        out.tagger += float(tagger[i])
        if lm:
            s = float(surprisal[i])  # type: ignore[index]
            out.lm_words += 1
            out.surprisal += s
            out.entropy += float(entropy[i]) if entropy else 0.0
            out.surprising += s >= SURPRISING
    return out


FEATURES = ("log_words", "mean_p", "rate_p10", "rate_p30", "rate_p50", "rate_p90", "log_p50", "log_p90",
            "mean_tagger", "mean_surprisal", "mean_entropy", "rate_surprising", "lm_read")
FAST_FEATURES = ("log_words", "mean_p", "rate_p10", "rate_p30", "rate_p50", "rate_p90", "log_p50", "log_p90")


def features(t: Tally) -> dict[str, float]:
    """A document's evidence, from its tally: rates per word, counts on a log scale (a long document with two
    strong flags says more than a line with two), and the language model's mean surprisal and entropy."""
    n, lm = max(t.words, 1), max(t.lm_words, 1)
    return {"log_words": math.log1p(t.words), "mean_p": t.p / n, "rate_p10": t.p10 / n, "rate_p30": t.p30 / n,
            "rate_p50": t.p50 / n, "rate_p90": t.p90 / n, "log_p50": math.log1p(t.p50), "log_p90": math.log1p(t.p90),
            "mean_tagger": t.tagger / n, "mean_surprisal": t.surprisal / lm, "mean_entropy": t.entropy / lm,
            "rate_surprising": t.surprising / lm, "lm_read": t.lm_words / n}


@dataclass(frozen=True)
class DocumentHead:
    """Logistic regression over standardised FEATURES (or FAST_FEATURES, for the tagger alone): P(machine
    translated) = sigmoid(w . (x - mean) / scale + bias)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    record: dict[str, Any] | None = None  # how it was fitted and what it measured (not read at inference)

    def probability(self, t: Tally) -> float | None:
        """The document's calibrated MT probability; None for a text with no word."""
        if t.words == 0:
            return None
        x = features(t)
        z = self.bias + sum(w * (x[name] - m) / s for name, m, s, w in
                            zip(self.features, self.mean, self.scale, self.weights))
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "weights": list(self.weights), "bias": self.bias, **({"record": self.record} if self.record else {})}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "DocumentHead":
        return cls(tuple(raw["features"]), tuple(raw["mean"]), tuple(raw["scale"]), tuple(raw["weights"]),
                   float(raw["bias"]), raw.get("record"))


@dataclass(frozen=True)
class Follow:
    """The word threshold that follows the document: from an MT probability of ``cut`` on, a document's words are
    flagged from ``low`` (a translated document holds artifacts: a weaker word is worth a flag there), below it
    from ``high`` (a document that does not read as translated needs stronger evidence; None: the detector's own
    threshold). Where it follows, the detector tries ``siblings`` pivot siblings of a surprising word, the best in
    context setting the contrast (None: the candidate generator's own number). Fitted by `mtfix train document`
    on documents read that way: the drop for the round trips' word F1 within the clean budget, the rise so that
    clean news documents keep to a rate of flags."""

    cut: float
    low: float
    high: float | None = None
    siblings: int | None = None

    def translated(self, p: float | None) -> bool:
        """Whether a document with MT probability ``p`` reads as translated (where the threshold drops)."""
        return p is not None and p >= self.cut

    def threshold(self, p: float | None, default: float) -> float:
        """The threshold of a document with MT probability ``p``, where the detector's own is ``default``: never
        above it in a translated document, never below it in another."""
        if self.translated(p):
            return min(self.low, default)
        return default if self.high is None else max(self.high, default)


def text_probabilities(head: DocumentHead, counted: Sequence[Tally], prior: Tally | None,
                       documents: Sequence[int] | None = None) -> list[float | None]:
    """The MT probability of each text's document, from what was read of the texts (``counted``): the texts
    together after ``prior`` (one document, what was read of it before); with ``documents`` (how many texts each
    document holds, in order) each document's texts together; with neither each text its own."""
    if prior is not None:
        return [head.probability(sum(counted, prior))] * len(counted)
    if documents is not None:
        out: list[float | None] = []
        for at, size in zip(itertools.accumulate([0, *documents]), documents):
            out += [head.probability(sum(counted[at:at + size], Tally()))] * size
        return out
    return [head.probability(t) for t in counted]


def load_heads(detector_folder: Path | None) -> dict[str, DocumentHead]:
    """The document heads of a detector folder: 'fused' and 'fast' (the tagger alone), those it holds."""
    raw = _read(detector_folder)
    return {name: DocumentHead.from_json(head) for name, head in raw.items() if name in ("fused", "fast")}


def load_follow(detector_folder: Path | None) -> Follow | None:
    """The fused detector's threshold that follows the document, where the folder's operating points hold one."""
    from mtfix.points import read_points

    found = read_points(detector_folder)
    if found.get("follow_cut") is None or found.get("follow_low") is None:
        return None
    high, siblings = found.get("follow_high"), found.get("follow_siblings")
    return Follow(float(found["follow_cut"]), float(found["follow_low"]), None if high is None else float(high),
                  None if siblings is None else int(siblings))


def _read(detector_folder: Path | None) -> dict[str, Any]:
    if detector_folder is None or not (detector_folder / FILE).exists():
        return {}
    return json.loads((detector_folder / FILE).read_text())


def save_heads(heads: dict[str, DocumentHead], detector_folder: Path, follow: Follow | None = None) -> None:
    """The heads in document.json; the threshold that follows the document (None: none) in points.json."""
    from mtfix.points import write_points

    (detector_folder / FILE).write_text(json.dumps({k: h.to_json() for k, h in heads.items()}, indent=1) + "\n")
    write_points(detector_folder, follow_cut=follow.cut if follow else None, follow_low=follow.low if follow else None,
                 follow_high=follow.high if follow else None, follow_siblings=follow.siblings if follow else None)


def rounded(p: float | None) -> float | None:
    """The MT probability as records carry it."""
    return None if p is None else round(p, 4)
