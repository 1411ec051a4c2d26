"""Word-level features the uncased encoder cannot see: casing, sentence position, lexicon frequency, spacing."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

from mtfix.text.tokens import Token

N_CASE = 14   # 7 casing patterns x (sentence-initial or not)
N_FREQ = 10   # zipf buckets 0..8, and 9 for punctuation
N_SPACE = 4   # space before? x space after?
_CAMEL = re.compile(r"[a-z][A-Z]")
_OPENERS = {".", "!", "?", ":", "“", '"', "‘", "(", "–", "—", "-", "…"}


def case_pattern(word: str) -> int:
    """0 pad, 1 lower, 2 Title, 3 UPPER, 4 fused/mixed (projectsWhich), 5 with digits, 6 punctuation."""
    if not any(ch.isalnum() for ch in word):
        return 6
    if any(ch.isdigit() for ch in word):
        return 5
    if _CAMEL.search(word):
        return 4
    if word.isupper() and len(word) > 1:
        return 3
    if word[:1].isupper():
        return 2
    return 1


@lru_cache(maxsize=300_000)
def freq_bucket(word: str) -> int:
    """Zipf frequency of the lower-cased word, rounded into 0..8; 9 for punctuation."""
    if not any(ch.isalnum() for ch in word):
        return 9
    from wordfreq import zipf_frequency

    return min(8, int(zipf_frequency(word.lower(), "en")))


def word_features(text: str, tokens: Sequence[Token]) -> tuple[list[int], list[int], list[int]]:
    """Case, frequency and spacing ids for each token."""
    case, freq, space = [], [], []
    for i, tok in enumerate(tokens):
        initial = i == 0 or tokens[i - 1].text in _OPENERS or tokens[i - 1].text[-1:] in _OPENERS
        case.append(case_pattern(tok.text) * 2 + int(initial))
        freq.append(freq_bucket(tok.text))
        before = tok.start > 0 and text[tok.start - 1].isspace()
        after = tok.end < len(text) and text[tok.end].isspace()
        space.append(int(before) * 2 + int(after))
    return case, freq, space
