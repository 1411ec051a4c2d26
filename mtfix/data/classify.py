"""Name the kind of a change, and whether a reader without the source could see it."""
from __future__ import annotations

from functools import lru_cache

from mtfix.text.words import ARTICLES, PREPOSITIONS, PRONOUNS, STOP, words_of

# kinds a monolingual reader can spot; "meaning", "missing" and "extra" of content words need the source
VISIBLE = {"non-word", "casing", "spacing", "punctuation", "repetition", "article", "pronoun", "preposition",
           "morphology", "function-word"}


@lru_cache(maxsize=200_000)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def _same_stem(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a != b and n >= 4 and n >= 0.6 * min(len(a), len(b))


def classify_change(text: str, start: int, end: int, fix: str) -> tuple[str, bool]:
    """The kind of replacing ``text[start:end]`` by ``fix``, and whether it is visible without the source."""
    original = text[start:end]
    kind = _kind(text, start, end, original, fix)
    return kind, kind in VISIBLE


def _kind(text: str, start: int, end: int, original: str, fix: str) -> str:
    if original == fix:
        return "meaning"  # tagged, yet the post-edit kept it: only the source tells why
    if "".join(original.split()) == "".join(fix.split()):
        return "spacing"
    if original.lower() == fix.lower():
        return "casing"
    ow, fw = words_of(original), words_of(fix)
    if ow == fw:
        return "punctuation"
    if any(w.isalpha() and w.islower() and _zipf(w) == 0 for w in ow):
        return "non-word"
    low_o, low_f = [w.lower() for w in ow], [w.lower() for w in fw]
    if ow and not fw:
        before = words_of(text[max(0, start - 60):start])[-len(ow):]
        after = words_of(text[end:end + 60])[:len(ow)]
        if [w.lower() for w in before] == low_o or [w.lower() for w in after] == low_o:
            return "repetition"
    for group, name in ((ARTICLES | {"one"}, "article"), (PRONOUNS, "pronoun"), (set(PREPOSITIONS), "preposition")):
        if (low_o or low_f) and set(low_o) <= group and set(low_f) <= group:
            return name
    if len(ow) == len(fw) == 1 and _same_stem(ow[0], fw[0]):
        return "morphology"
    if not ow or not fw:
        changed = low_o or low_f
        if set(changed) <= STOP:
            return "function-word"
        return "missing" if not ow else "extra"
    return "meaning"
