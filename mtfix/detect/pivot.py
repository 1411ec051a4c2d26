"""English-German pivot siblings from Debian's trans-de-en dictionary: leader -> Führer -> guide.

The dictionary is GPL, so mtfix ships no table derived from it: it reads the installed Debian package
(`apt-get install trans-de-en`) and caches the parsed table in the user's cache folder.
"""
from __future__ import annotations

import contextlib
import gc
import os
import pickle
import re
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from mtfix.errors import MtfixError

DICT_PATH = Path(os.environ.get("MTFIX_TRANS_DE_EN", "/usr/share/trans/de-en"))

_NOTES = re.compile(r"\{[^}]*\}|\[[^\]]*\]|\([^)]*\)|<[^>]*>|/[^/ ]+/")
_WORD = re.compile(r"^[A-Za-zÄÖÜäöüß][A-Za-zÄÖÜäöüß'-]*(?: [a-z]+)?$")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The garbage collector off while a large table of small objects is built or unpickled (the pivot
    dictionary, the speller's): it would otherwise walk every object loaded so far, over and over, which cost more
    than the load itself (the speller: 1.7-2.5 s instead of 0.7-0.9 s beside a loaded model). Nothing the loaders
    make is cyclic garbage."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class MissingDictionary(MtfixError):
    """trans-de-en is not installed."""


def _terms(side: str, english: bool) -> list[str]:
    out = []
    for term in side.split(";"):
        term = _NOTES.sub(" ", term)
        term = re.sub(r"\s+", " ", term).strip(" .,!?…")
        if english:
            term = re.sub(r"^to ", "", term)
            term = re.sub(r"(?: (?:sb|sth|sb\./sth|oneself|something|somebody)\.?)+$", "", term)
        if term and _WORD.match(term) and term not in ("sb", "sth", "jdn", "jdm", "etw"):
            out.append(term)
    return out


def parse(lines: list[str]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """English -> German and German -> English maps of single words (English may be two words)."""
    en2de: dict[str, set[str]] = defaultdict(set)
    de2en: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        if line.startswith("#") or " :: " not in line:
            continue
        german, english = line.rstrip("\n").split(" :: ", 1)
        for de_group, en_group in zip(german.split(" | "), english.split(" | ")):
            de_terms = [t for t in _terms(de_group, False) if " " not in t]
            en_terms = _terms(en_group, True)
            for de in de_terms:
                for en in en_terms:
                    if " " not in en:
                        en2de[en].add(de)
                    de2en[de].add(en)
    return dict(en2de), dict(de2en)


class PivotDictionary:
    """Pivot siblings of English words through their German translations."""

    def __init__(self, en2de: dict[str, set[str]], de2en: dict[str, set[str]]) -> None:
        self.en2de = en2de
        self.de2en = de2en

    @classmethod
    def load(cls, path: Path = DICT_PATH, cache: Path | None = None) -> "PivotDictionary":
        """Parse the installed dictionary, or reuse the parsed cache when it is newer."""
        if not path.exists():
            raise MissingDictionary(
                f"the English-German dictionary {path} is missing: install it with 'apt-get install trans-de-en' "
                "(or point MTFIX_TRANS_DE_EN at a copy)")
        cache_dir = cache or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mtfix"
        stamp = int(path.stat().st_mtime)
        cached = cache_dir / f"pivot-{stamp}-{path.stat().st_size}.pickle"
        if cached.exists():
            with open(cached, "rb") as fh, gc_paused():
                return cls(*pickle.load(fh))
        with gc_paused():
            en2de, de2en = parse(path.read_text(encoding="utf-8", errors="replace").splitlines())
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            with open(tmp, "wb") as fh:
                pickle.dump((en2de, de2en), fh)
            tmp.replace(cached)
        except OSError:
            pass  # a read-only home only costs the parse next time
        return cls(en2de, de2en)

    def translations(self, word: str) -> set[str]:
        return self.en2de.get(word, set())

    def sibling_words(self, word: str) -> set[str]:
        """The English words of ``siblings(word)``, without the German words that link them (what candidate
        generation needs, in a fraction of the time: common words have hundreds of siblings)."""
        found: set[str] = set().union(*(self.de2en.get(de, ()) for de in self.translations(word)))
        low = word.lower()
        return {en for en in found if en.lower() != low}

    def siblings(self, word: str) -> dict[str, set[str]]:
        """Other English words that share a German translation with ``word``: sibling -> the German words."""
        out: dict[str, set[str]] = defaultdict(set)
        for de in self.translations(word):
            for en in self.de2en.get(de, ()):
                if en.lower() != word.lower():
                    out[en].add(de)
        return dict(out)


@lru_cache(maxsize=1)
def default_dictionary() -> PivotDictionary:
    return PivotDictionary.load()
