"""What every corrector shares: an Option (a replacement with its evidence), the traits it is judged by, and
the reranker that turns them into the probability that the option is right."""
from __future__ import annotations

import difflib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from mtfix.detect.candidates import Candidate
from mtfix.text.spans import Span
from mtfix.text.tokens import Token, tokenize

BARS = ("min_score", "swap_score", "follow_score")  # the reranker's operating points, kept in points.json


@dataclass
class Rerank:
    """Weights of the reranking stage (fitted on dev): z = s2s * seq2seq gain + lm * language-model gain + the
    candidate's kind weight + bias; P(candidate is right) = sigmoid(z). Gains are against keeping the original."""

    s2s: float = 1.0
    lm: float = 1.0
    kinds: dict[str, float] = field(default_factory=dict)
    bias: float = 0.0
    min_score: float = 0.5
    # the bar for meaning swaps (is_swap: a content word in place of an unrelated one), if higher: on real MT the
    # post-editor mostly kept the word the corrector would swap ("aeroplanes" -> "aircraft")
    swap_score: float | None = None
    # both bars in a document that reads as translated, where the detector's threshold follows the document: the
    # share of flagged spans that are artifacts is higher there than on the mix the reranker was calibrated on
    follow_score: float | None = None
    length: float = 0.0  # per word the option adds (negative: removes); the LM alone favours short text
    # Platt scaling of the best option's z, fitted on the decisions themselves: P(the proposed edit is right)
    temperature: float = 1.0
    top_bias: float = 0.0
    traits: dict[str, float] = field(default_factory=dict)  # weights of Option.traits (see option_traits)
    # True: P(option) = exp(z) / (1 + sum of exp(z) over the span's options), keeping the original being the "1"
    # (a conditional logit fitted over each span's choices); False: sigmoid of the Platt-scaled z
    softmax: bool = False

    def z(self, option: "Option") -> float:
        return (self.s2s * option.corrector_gain + self.lm * option.lm_gain + self.length * option.words_delta
                + self.kinds.get(option.kind, 0.0) + self.bias
                + sum(w * option.traits.get(name, 0.0) for name, w in self.traits.items()))

    @classmethod
    def load(cls, path: Path) -> "Rerank | None":
        """The weights in ``path`` (rerank.json) with the bars of its folder's points.json."""
        from mtfix.points import read_points

        if not path.exists():
            return None
        bars = {k: v for k, v in read_points(path.parent).items() if k in BARS}
        return cls(**{**json.loads(path.read_text()), **bars})

    def save(self, path: Path) -> None:
        """The weights in ``path`` (rerank.json); the bars in its folder's points.json."""
        from mtfix.points import write_points

        weights = {k: v for k, v in asdict(self).items() if k not in BARS}
        path.write_text(json.dumps(weights, indent=2) + "\n")
        write_points(path.parent, **{k: getattr(self, k) for k in BARS})


@dataclass
class Option:
    """One candidate replacement for a span, with what each scorer thinks of it against keeping the original."""

    replacement: str
    kind: str           # "nbest", or the generator's kind (pivot, spelling, case, spacing, pronoun, article)
    # log P(replacement) - log P(original) under the corrector that proposes (the rewriter, or the span decoder)
    corrector_gain: float
    lm_gain: float = 0.0  # log P_LM(text with replacement) - log P_LM(text), over the span's sentence
    words_delta: int = 0  # words in the replacement - words in the original
    traits: dict[str, float] = field(default_factory=dict)  # see option_traits


TRAITS = ("similar", "oov", "oov_similar", "oov_capital", "case_only", "lm_best", "lm_margin", "span_words",
          "deletion", "truncation", "new_rare", "lm_per_word", "char_ratio", "lm_log", "lost", "repeat",
          "inner_lower")


def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def _alike(a: str, b: str) -> bool:
    """Whether two words look alike (difflib ratio 0.6 or more): a respelling, not another word. One measure for
    what an option keeps (_lost), capitals respelled (drops_capitals) and guesses at unreadable words (misreads)."""
    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.6


def _lost(words: Sequence[str], kept: Sequence[str], content: Callable[[str], bool] = str.isalpha) -> int:
    """How many of ``words`` (content words: over two characters, ``content`` true: alphabetic unless told
    otherwise) have no look-alike among ``kept``."""
    return sum(1 for w in words if len(w) > 2 and content(w) and not any(
        _alike(w, k) for k in kept))


def _has_alnum(word: str) -> bool:
    return any(ch.isalnum() for ch in word)


def option_traits(original: str, options: Sequence[Option], context: str = "", repeated: bool = False,
                  initial: bool = True) -> None:
    """What the reranker reads besides the scorers' gains, set on each option of one span: how alike the
    replacement and the original are (character ratio); whether the original is a one-word non-word (and
    capitalised: likelier a name); a change of case only; whether the option has the span's best LM gain (and
    its margin over the runner-up, capped at 5 nats); the original's length in words (capped at 5); a deletion;
    a truncation (the replacement is a shorter start of the original: the LM likes dropping rare words); a rare
    word (Zipf below 2.5) that the original does not have; the LM gain per word of the original (dropping a
    garbled phrase gains much, one wrong word little); the log of the replacement's length in characters over
    the original's (within -3..1: a two-letter stub for a long name is a telltale of the decoder's guesses); the
    LM gain on a log scale (the LM gains most by dropping rare words, right or wrong); how many content words
    of the original (up to 3) the option loses: none like it in the replacement or in ``context`` (the words
    around the span; a repeated word lost is no loss); a deletion of words that repeat their neighbours
    (``repeated``: "the the", "in Berlin in Berlin"); a change of case that lowercases a capitalised word inside
    a sentence (not ``initial``: "in one Explosion")."""
    word = original.strip()
    oov = float(word.isalpha() and len(word) > 2 and _zipf(word.lower()) < 1.5)
    capital = float(oov and word[:1].isupper())
    gains = sorted((o.lm_gain for o in options), reverse=True)
    had = {t.text.lower() for t in tokenize(original)}
    around = [t.text.lower() for t in tokenize(context)]
    runner_up = gains[1] if len(gains) > 1 else 0.0
    for o in options:
        new = o.replacement.strip()
        similar = difflib.SequenceMatcher(None, word.lower(), new.lower()).ratio()
        best = float(o.lm_gain == gains[0] and o.lm_gain > 0)
        rare = any(t.text.isalpha() and t.text.lower() not in had and _zipf(t.text.lower()) < 2.5
                   for t in tokenize(new))
        o.traits = {"similar": similar, "oov": oov, "oov_similar": oov * similar, "oov_capital": capital,
                    "case_only": float(o.replacement.lower() == original.lower() and o.replacement != original),
                    "lm_best": best, "lm_margin": best * min(5.0, o.lm_gain - max(runner_up, 0.0)),
                    "span_words": float(min(len(had), 5)), "deletion": float(not new),
                    "truncation": float(bool(new) and len(new) < len(word) and word.startswith(new)),
                    "new_rare": float(rare), "lm_per_word": o.lm_gain / max(1, len(had)),
                    "char_ratio": max(-3.0, min(1.0, math.log(max(len(new), 0.05) / max(1, len(word))))),
                    "lm_log": math.copysign(math.log1p(abs(o.lm_gain)), o.lm_gain),
                    "lost": float(min(3, _lost(sorted(had), [t.text.lower() for t in tokenize(new)] + around))),
                    "repeat": float(repeated and not new),
                    "inner_lower": float(not initial and o.replacement == original.lower() != original)}


def generated(generator: Any, text: str, tokens: Sequence[Token], span: Span, pivots: Sequence[str] | None = None
              ) -> list[tuple[str, str]]:
    """The candidate generator's proposals for a one-word span, as (replacement of the whole span, kind), the
    original left out: what both correctors add to their own options. ``pivots``: the pivot siblings to propose
    (ranked in context: correct.siblings) instead of the generator's most frequent ones."""
    inside = [j for j, t in enumerate(tokens) if span.start <= t.start and t.end <= span.end]
    if len(inside) != 1:
        return []
    out = []
    found = generator.for_word(text, tokens, inside[0])
    if pivots is not None:
        word = tokens[inside[0]]
        found = [c for c in found if c.kind != "pivot"] + [Candidate(word.start, word.end, p, "pivot") for p in pivots]
    for cand in found:
        if span.start <= cand.start and cand.end <= span.end:
            replacement = text[span.start:cand.start] + cand.replacement + text[cand.end:span.end]
            if replacement != text[span.start:span.end]:
                out.append((replacement, cand.kind))
    return out
