"""The spell baseline: flag words that an English frequency lexicon does not know."""
from __future__ import annotations

import re
from typing import Sequence

from mtfix.text.spans import Span
from mtfix.text.tokens import tokenize

_CAMEL = re.compile(r"[a-z][A-Z]")  # "projectsWhich": two words fused


class SpellDetector:
    """Flags unknown words; capitalised unknown words are taken for names unless they look fused."""

    name = "spell"

    def __init__(self, min_zipf: float = 1.0) -> None:
        from wordfreq import zipf_frequency

        self.min_zipf = min_zipf
        self._zipf = zipf_frequency

    def known(self, word: str) -> bool:
        return self._zipf(word, "en") >= self.min_zipf

    def word_score(self, word: str) -> float:
        """1.0 for a word to flag, 0.0 otherwise."""
        if not any(ch.isalpha() for ch in word) or any(ch.isdigit() for ch in word):
            return 0.0
        if _CAMEL.search(word) and not word.isupper():
            return 0.0 if self.known(word) else 1.0
        parts = [p for p in re.split(r"[-‐‑'’]", word) if p]
        if all(self.known(p) for p in parts):
            return 0.0
        if word[0].isupper():  # names and acronyms are mostly missing from the lexicon
            return 0.0
        return 1.0

    def detect(self, texts: Sequence[str]) -> list[list[Span]]:
        """Spans of unknown words, one list per text."""
        results = []
        for text in texts:
            spans = []
            for tok in tokenize(text):
                if self.word_score(tok.text) > 0:
                    spans.append(Span(tok.start, tok.end, "non-word", 1.0))
            results.append(spans)
        return results
