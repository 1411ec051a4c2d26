"""The one candidate generator: what a suspicious word might have been before the round trip.

Pivot siblings (guides -> Führer -> leaders), spelling neighbours (pariad -> pariah), case and spacing
variants (Explosion -> explosion, projectsWhich -> projects which, non -involved -> non-involved), pronoun and
article swaps. Detection scores each candidate's contrast with the language model; correction proposes them.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Sequence

from mtfix.text.tokens import Token
from mtfix.text.words import STOP

PRONOUN_SWAPS = {"his": ["its", "their"], "her": ["its", "their"], "he": ["it"], "she": ["it"],
                 "its": ["their"], "their": ["its"]}
ARTICLE_SWAPS = {"one": ["a", "an", ""], "the": [""], "a": ["the", ""], "an": ["the", ""]}
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
MAX_SIBLINGS = 40  # pivot siblings of a word kept, most frequent first (the detector tries max_per_kind of them)


@dataclass(frozen=True)
class Candidate:
    """Replace ``text[start:end]`` by ``replacement``; ``kind`` says where the idea came from."""

    start: int
    end: int
    replacement: str
    kind: str


def _match_case(word: str, model: str) -> str:
    return word[:1].upper() + word[1:] if model[:1].isupper() else word


class CandidateGenerator:
    """Candidates for one word in its segment; dictionaries load on first use."""

    def __init__(self, max_per_kind: int = 3, min_zipf: float = 3.0) -> None:
        self.max_per_kind = max_per_kind
        self.min_zipf = min_zipf
        self._siblings: dict[str, tuple[str, ...]] = {}

    @cached_property
    def pivot(self):  # type: ignore[no-untyped-def]
        from mtfix.detect.pivot import MissingDictionary, default_dictionary

        try:
            return default_dictionary()
        except MissingDictionary as err:  # without it there are no pivot siblings; everything else still works
            import sys

            print(f"mtfix: {err}; until then pivot candidates (guides -> leaders) are off and wrong-sense "
                  "words are found less often", file=sys.stderr)
            return None

    @cached_property
    def speller(self):  # type: ignore[no-untyped-def]
        """symspellpy's English dictionary; building it takes ~7 s, so it is pickled once into the user cache."""
        from importlib.metadata import version

        import symspellpy
        from symspellpy import SymSpell

        from mtfix.detect.pivot import gc_paused

        speller = SymSpell(max_dictionary_edit_distance=2)
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mtfix" / (
            f"symspell-{version('symspellpy')}-en82765-d2.pickle")
        with gc_paused():
            if cache.exists() and speller.load_pickle(str(cache)):
                return speller
            speller.load_dictionary(os.path.join(os.path.dirname(symspellpy.__file__),
                                                 "frequency_dictionary_en_82_765.txt"), 0, 1)
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".tmp{os.getpid()}")
            speller.save_pickle(str(tmp))
            tmp.replace(cache)
        except OSError:
            pass  # a read-only home only costs the build next time
        return speller

    @staticmethod
    @lru_cache(maxsize=200_000)
    def zipf(word: str) -> float:
        from wordfreq import zipf_frequency

        return zipf_frequency(word, "en")

    def siblings(self, word: str, limit: int | None = None) -> list[str]:
        """Pivot siblings of ``word`` (plural kept), most frequent first, at most ``limit`` (None: max_per_kind);
        remembered per word (the dictionary does not change, and the same words come back across a corpus)."""
        if self.pivot is None:
            return []
        found = self._siblings.get(word)
        if found is None:
            if len(self._siblings) >= 200_000:
                self._siblings.clear()
            found = self._siblings[word] = self._rank_siblings(word)
        return list(found[:self.max_per_kind if limit is None else limit])

    def _rank_siblings(self, word: str) -> tuple[str, ...]:
        low = word.lower()
        found = self.pivot.sibling_words(low)
        suffix = ""
        if not found and low.endswith("s"):
            found, suffix = self.pivot.sibling_words(low[:-1]), "s"
        words = {s + suffix for s in found if s.isalpha() and s[:4] != low[:4] and s not in STOP}
        # most frequent first, ties alphabetically: the set's order changes from process to process (string
        # hashing), and with it, before, which of equally frequent siblings made the cut
        ranked = sorted((w for w in words if self.zipf(w) >= self.min_zipf), key=lambda w: (-self.zipf(w), w))
        return tuple(_match_case(w, word) for w in ranked[:MAX_SIBLINGS])

    def spelling(self, word: str) -> list[str]:
        from symspellpy import Verbosity

        if not word.isalpha() or len(word) < 4:
            return []
        hits = self.speller.lookup(word.lower(), Verbosity.CLOSEST, max_edit_distance=2)
        return [_match_case(h.term, word) for h in hits[: self.max_per_kind] if h.term != word.lower()]

    def for_word(self, text: str, tokens: Sequence[Token], i: int, siblings: int | None = None) -> list[Candidate]:
        """Candidates for token ``i`` of ``text``; ``siblings``: how many pivot siblings (None: max_per_kind)."""
        tok = tokens[i]
        word = tok.text
        out: list[Candidate] = []

        def add(replacement: str, kind: str, start: int = tok.start, end: int = tok.end) -> None:
            if text[start:end] != replacement and all(c.replacement != replacement or c.start != start for c in out):
                out.append(Candidate(start, end, replacement, kind))

        if _CAMEL.search(word):
            first, *rest = _CAMEL.split(word)
            add(" ".join([first, *[r[:1].lower() + r[1:] for r in rest]]), "spacing")
        initial = i == 0 or tokens[i - 1].text in {".", "!", "?", ":", "“", '"'}
        if word[:1].isupper() and word[1:].islower() and not initial and self.zipf(word.lower()) >= self.min_zipf:
            add(word.lower(), "case")
        if word == "-" and i + 1 < len(tokens) and text[tok.start - 1:tok.start].isspace():
            add("-", "spacing", tok.start - 1, tok.end)  # "non -involved" -> "non-involved"
        low = word.lower()
        for swap in PRONOUN_SWAPS.get(low, []):
            add(_match_case(swap, word), "pronoun")
        for swap in ARTICLE_SWAPS.get(low, []):
            if swap:
                add(_match_case(swap, word), "article")
            elif i + 1 < len(tokens):
                add("", "article", tok.start, tokens[i + 1].start)
        if word.isalpha() and len(word) > 2 and low not in STOP:
            for sibling in self.siblings(word, siblings):
                add(sibling, "pivot")
            if self.zipf(low) < 2.0:
                for neighbour in self.spelling(word):
                    add(neighbour, "spelling")
        return out
