"""Synthetic artifacts of an English -> German -> English round trip: small named corruptors.

Each corruptor looks at a clean sentence and proposes one edit of it (a Corruption) with its class label;
`corrupt` applies a few of them and returns the corrupted text with spans whose fixes restore the original.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from mtfix.text.spans import Span
from mtfix.text.tokens import Token, tokenize
from mtfix.text.words import ARTICLES, AUXILIARIES, PREPOSITIONS, STOP

CALQUES = {
    "Financial Times": "Finance times", "Bild": "Picture", "Nord Stream": "north stream",
    "Wall Street Journal": "Wall road journal", "Deutsche Bank": "German bank", "Der Spiegel": "The mirror",
    "Die Zeit": "The time", "White House": "white house", "Red Cross": "red cross",
    "Süddeutsche Zeitung": "South German newspaper", "Security Council": "security advice",
    "Federal Reserve": "federal reserve", "Bundestag": "federal day", "New York Times": "New York times",
    "Commonwealth": "common wealth", "Greenpeace": "green peace", "Labor Party": "work party",
}


@dataclass(frozen=True)
class Corruption:
    """Replace ``clean[start:end]`` by ``replacement``; ``label`` names the artifact class."""

    start: int
    end: int
    replacement: str
    label: str


@dataclass
class Resources:
    """What corruptors look words up in: the pivot dictionary and word frequencies."""

    siblings: Callable[[str], dict[str, set[str]]]
    zipf: Callable[[str], float]
    vocabulary: Sequence[str] = ()
    # the words a language model finds likely next after a text, with their probabilities (lm_plausible's source;
    # None: that kind is not made)
    plausible: Callable[[str], list[tuple[str, float]]] | None = None

    def __post_init__(self) -> None:
        self._by_prefix: dict[str, list[str]] = {}
        for word in self.vocabulary:
            self._by_prefix.setdefault(word[:4], []).append(word)

    def same_stem(self, stem: str) -> list[str]:
        """Vocabulary words that start with ``stem`` (four letters or more)."""
        return [w for w in self._by_prefix.get(stem[:4], ()) if w.startswith(stem)]


def _is_plain(tok: Token) -> bool:
    return tok.text.isalpha() and tok.text.islower()


def _sentence_start(tokens: Sequence[Token], i: int) -> bool:
    return i == 0 or tokens[i - 1].text in {".", "!", "?", ":", "“", '"', "‘"}


def _match_case(word: str, model: str) -> str:
    return word[:1].upper() + word[1:] if model[:1].isupper() else word


def pivot(text: str, tokens: Sequence[Token], rng: random.Random, res: Resources) -> Corruption | None:
    """A wrong-sense word through a German pivot: leaders -> Führer -> guides."""
    sites = [t for t in tokens if t.text.isalpha() and len(t.text) > 2 and t.text.lower() not in STOP]
    rng.shuffle(sites)
    for tok in sites[:8]:
        word = tok.text.lower()
        suffix = ""
        siblings = res.siblings(word)
        if not siblings and word.endswith("s"):
            word, suffix = word[:-1], "s"
            siblings = res.siblings(word)
        choices = [s for s in siblings if " " not in s and s[:4] != word[:4] and res.zipf(s + suffix) >= 2.5]
        if not choices:
            continue
        weights = [res.zipf(s + suffix) ** 2 for s in sorted(choices)]
        sibling = rng.choices(sorted(choices), weights)[0]
        return Corruption(tok.start, tok.end, _match_case(sibling + suffix, tok.text), "pivot")
    return None


def non_word(text: str, tokens: Sequence[Token], rng: random.Random, res: Resources) -> Corruption | None:
    """A plausible pseudo-word: a blend with a word of the same stem, or a changed ending (pariah -> pariad)."""
    sites = [t for t in tokens if _is_plain(t) and len(t.text) >= 5 and t.text not in STOP]
    rng.shuffle(sites)
    for tok in sites[:6]:
        word = tok.text
        if res.vocabulary and rng.random() < 0.5:
            stem = word[: max(4, len(word) - 3)]
            related = [v for v in res.same_stem(stem) if v != word and len(v) > len(stem)]
            if related:
                other = rng.choice(related)
                fake = other + word[len(stem):][-2:] if rng.random() < 0.5 else stem + other[len(stem):] + word[-1]
                if res.zipf(fake) == 0 and fake != word:
                    return Corruption(tok.start, tok.end, fake, "non-word")
        cut = rng.choice([1, 1, 2])
        fake = word[:-cut] + "".join(rng.choice("dlnrstmk") for _ in range(cut))
        if res.zipf(fake) == 0 and fake != word:
            return Corruption(tok.start, tok.end, fake, "non-word")
    return None


def pronoun(text: str, tokens: Sequence[Token], rng: random.Random, res: Resources) -> Corruption | None:
    """Its -> his / her for countries and organisations; their -> his."""
    swaps = {"its": ["his", "her"], "their": ["his", "its"]}
    sites = [t for t in tokens if t.text.lower() in swaps]
    if not sites:
        return None
    tok = rng.choice(sites)
    return Corruption(tok.start, tok.end, _match_case(rng.choice(swaps[tok.text.lower()]), tok.text), "pronoun")


def article(text: str, tokens: Sequence[Token], rng: random.Random, res: Resources) -> Corruption | None:
    """'one US' for 'a US', 'the Russia's', or a dropped article."""
    options: list[Corruption] = []
    for i, tok in enumerate(tokens):
        low = tok.text.lower()
        if low in ("a", "an") and i + 1 < len(tokens):
            options.append(Corruption(tok.start, tok.end, _match_case("one", tok.text), "article"))
        if low in ARTICLES and i + 1 < len(tokens) and tokens[i + 1].text.isalpha():
            options.append(Corruption(tok.start, tokens[i + 1].start, "", "article"))
        if (tok.text[:1].isupper() and tok.text.isalpha() and i + 1 < len(tokens)
                and tokens[i + 1].text in ("'s", "’s") and not _sentence_start(tokens, i)
                and (i == 0 or tokens[i - 1].text.lower() not in ARTICLES)):
            options.append(Corruption(tok.start, tok.start, "the ", "article"))
    return rng.choice(options) if options else None


def preposition(text: str, tokens: Sequence[Token], rng: random.Random, res: Resources) -> Corruption | None:
    """of / in / at / for swapped."""
    sites = [t for t in tokens if t.text in PREPOSITIONS]
    if not sites:
        return None
    tok = rng.choice(sites)
    return Corruption(tok.start, tok.end, rng.choice([p for p in PREPOSITIONS if p != tok.text]), "preposition")


def casing(text: str, tokens: Sequence[Token], rng: random.Random, res: Resources) -> Corruption | None:
    """A German-style capitalised noun mid-sentence: 'in one Explosion'."""
    sites = [t for i, t in enumerate(tokens) if _is_plain(t) and len(t.text) > 3 and t.text not in STOP
             and not _sentence_start(tokens, i)]
    if not sites:
        return None
    tok = rng.choice(sites)
    return Corruption(tok.start, tok.end, tok.text[0].upper() + tok.text[1:], "casing")


def fused(text: str, tokens: Sequence[Token], rng: random.Random, res: Resources) -> Corruption | None:
    """Two words run together, the second capitalised: 'projectsWhich'."""
    sites = [(a, b) for a, b in zip(tokens, tokens[1:]) if a.text.isalpha() and _is_plain(b)
             and text[a.end:b.start] == " "]
    if not sites:
        return None
    a, b = rng.choice(sites)
    second = b.text[0].upper() + b.text[1:] if rng.random() < 0.8 else b.text
    return Corruption(a.start, b.end, a.text + second, "fused")


def hyphen(text: str, tokens: Sequence[Token], rng: random.Random, res: Resources) -> Corruption | None:
    """A detached hyphen: 'non -involved'."""
    sites = [t for t in tokens if re.search(r"[^\W\d_]-[^\W\d_]", t.text)]
    if not sites:
        return None
    tok = rng.choice(sites)
    cut = tok.text.index("-")
    broken = tok.text[:cut] + (" -" if rng.random() < 0.7 else "- ") + tok.text[cut + 1:]
    return Corruption(tok.start, tok.end, broken, "hyphen")


def repetition(text: str, tokens: Sequence[Token], rng: random.Random, res: Resources) -> Corruption | None:
    """A word or two repeated: 'she says she says'."""
    words = [i for i, t in enumerate(tokens) if t.text.isalpha()]
    if not words:
        return None
    i = rng.choice(words)
    j = i + 1 if i + 1 < len(tokens) and tokens[i + 1].text.isalpha() and rng.random() < 0.4 else i
    phrase = text[tokens[i].start:tokens[j].end]
    return Corruption(tokens[j].end, tokens[j].end, " " + phrase, "repetition")


def dropped(text: str, tokens: Sequence[Token], rng: random.Random, res: Resources) -> Corruption | None:
    """A word left out."""
    sites = [i for i, t in enumerate(tokens[:-1]) if t.text.isalpha() and i > 0 and tokens[i + 1].text.isalpha()]
    if not sites:
        return None
    i = rng.choice(sites)
    return Corruption(tokens[i].start, tokens[i + 1].start, "", "dropped")


def verb_end(text: str, tokens: Sequence[Token], rng: random.Random, res: Resources) -> Corruption | None:
    """German word order: the participle moved to the end of its clause ('has the deal signed')."""
    for i in rng.sample(range(len(tokens)), len(tokens)):
        if tokens[i].text.lower() not in AUXILIARIES or i + 3 >= len(tokens):
            continue
        verb = tokens[i + 1]
        if not (_is_plain(verb) and verb.text.endswith(("ed", "en")) and verb.text not in STOP):
            continue
        end = i + 2
        while end < len(tokens) and (tokens[end].text.isalnum() or tokens[end].text in ("'s", "’s")):
            end += 1
        if end - (i + 2) < 2 or end - (i + 2) > 6:
            continue
        rest = text[tokens[i + 2].start:tokens[end - 1].end]
        return Corruption(verb.start, tokens[end - 1].end, f"{rest} {verb.text}", "verb-order")
    return None


def calque(text: str, tokens: Sequence[Token], rng: random.Random, res: Resources) -> Corruption | None:
    """A name translated word by word: 'Finance times', 'Picture', 'north stream'."""
    for name, calqued in CALQUES.items():
        at = text.find(name)
        if at >= 0 and (at + len(name) == len(text) or not text[at + len(name)].isalnum()):
            return Corruption(at, at + len(name), calqued, "calque")
    names = []
    for i in range(1, len(tokens) - 1):
        a, b = tokens[i], tokens[i + 1]
        if (not _sentence_start(tokens, i) and a.text.istitle() and b.text.istitle() and a.text.isalpha()
                and b.text.isalpha() and text[a.end:b.start] == " "):
            names.append((a, b))
    if not names:
        return None
    # the last word of a name is the one most often a common noun ("Times", "Stream", "House")
    names = [(a, b) for a, b in names if res.siblings(b.text.lower())]
    if not names:
        return None
    a, b = rng.choice(names)
    siblings = [s for s in res.siblings(b.text.lower()) if " " not in s and res.zipf(s) >= 3]
    word = rng.choice(sorted(siblings)) if siblings and rng.random() < 0.4 else b.text.lower()
    if rng.random() < 0.3:  # "north stream": the whole name lower-cased
        return Corruption(a.start, b.end, f"{a.text.lower()} {word}", "calque")
    return Corruption(b.start, b.end, word, "calque")


CORRUPTORS: dict[str, tuple[Callable[..., Corruption | None], float]] = {
    "pivot": (pivot, 0.25), "non-word": (non_word, 0.08), "pronoun": (pronoun, 0.08), "article": (article, 0.1),
    "preposition": (preposition, 0.08), "casing": (casing, 0.08), "fused": (fused, 0.06), "hyphen": (hyphen, 0.03),
    "repetition": (repetition, 0.06), "dropped": (dropped, 0.06), "verb-order": (verb_end, 0.06),
    "calque": (calque, 0.06),
}


WORD_LEVEL = ("pivot", "non-word", "pronoun", "article", "preposition", "casing")


def neighbours(text: str, tokens: Sequence[Token], rng: random.Random, res: Resources) -> Corruption | None:
    """Two or three word-level corruptions within a few words, as one span ("of one Explosion in his capital"):
    a round trip damages phrases, not one word at a time, and a corrector must rewrite them whole."""
    if len(tokens) < 6:
        return None
    for _ in range(12):
        width = rng.randint(3, 6)
        i = rng.randrange(0, len(tokens) - width + 1)
        lo, hi = tokens[i].start, tokens[i + width - 1].end
        sub = text[lo:hi]
        sub_tokens = tokenize(sub)
        want = rng.choice((2, 2, 3))
        chosen: list[Corruption] = []
        for name in rng.sample(WORD_LEVEL, len(WORD_LEVEL)):
            found = CORRUPTORS[name][0](sub, sub_tokens, rng, res)
            if found is not None and not any(found.start <= c.end and c.start <= found.end for c in chosen):
                chosen.append(found)
            if len(chosen) == want:
                break
        if len(chosen) >= 2:
            damaged, _ = realise(sub, chosen)
            return Corruption(lo, hi, damaged, "multi-word")
    return None


def clause_order(text: str, tokens: Sequence[Token], rng: random.Random, res: Resources) -> Corruption | None:
    """The two clauses around a comma swapped: "After the talks, the leaders met" -> "The leaders met, after the
    talks" (a fronted clause moved back, as a round trip through German often does)."""
    ends = {".", "!", "?", ";", ":"}
    sites = []
    for i, tok in enumerate(tokens):
        if tok.text != ",":
            continue
        a = i
        while a > 0 and tokens[a - 1].text not in ends and tokens[a - 1].text != ",":
            a -= 1
        b = i + 1
        while b < len(tokens) and tokens[b].text not in ends and tokens[b].text != ",":
            b += 1
        left, right = tokens[a:i], tokens[i + 1:b]
        if (3 <= len(left) <= 12 and 3 <= len(right) <= 12 and _sentence_start(tokens, a)
                and left[0].text.lower() in STOP and right[0].text.isalpha() and right[0].text.islower()
                and all(t.text.isalnum() or t.text in ("'s", "’s", "-") for t in left + right)):
            sites.append((left, right))
    if not sites:
        return None
    left, right = rng.choice(sites)
    first = text[right[0].start:right[-1].end]
    second = text[left[0].start:left[-1].end]
    swapped = first[0].upper() + first[1:] + ", " + second[0].lower() + second[1:]
    return Corruption(left[0].start, right[-1].end, swapped, "clause-order")


def lm_plausible(text: str, tokens: Sequence[Token], rng: random.Random, res: Resources) -> Corruption | None:
    """A fluent wrong word: drawn from what a language model finds likely at the place given the words before it
    (its distribution, not its top choice), the original, its inflections and function words left out. What a
    round trip writes that no dictionary lists ("gaining dynamics", "reset his post") reads like this."""
    if res.plausible is None:
        return None
    sites = [i for i, t in enumerate(tokens) if i >= 3 and _is_plain(t) and len(t.text) > 2 and t.text not in STOP]
    rng.shuffle(sites)
    for i in sites[:3]:
        tok = tokens[i]
        word = tok.text
        options = [(w, p) for w, p in res.plausible(text[:tok.start])
                   if w.isalpha() and w.islower() and w != word and w[:4] != word[:4] and w not in STOP
                   and res.zipf(w) >= 3.0]
        if options:
            chosen = rng.choices([w for w, _ in options], [p for _, p in options])[0]
            return Corruption(tok.start, tok.end, chosen, "lm-plausible")
    return None


# multi-word damage: opt-in (mtfix data build --multi-word), so that the default build's splits stay as they were
MULTI_WORD: dict[str, tuple[Callable[..., Corruption | None], float]] = {
    "multi-word": (neighbours, 0.08), "clause-order": (clause_order, 0.04),
}


# fluent wrong words a language model proposes: opt-in (mtfix data build --lm-plausible; it runs SmolLM2)
LM_KINDS: dict[str, tuple[Callable[..., Corruption | None], float]] = {"lm-plausible": (lm_plausible, 0.12)}


def corruptor(name: str) -> tuple[Callable[..., Corruption | None], float]:
    """A corruptor and its rate, by name (the default ones, the multi-word ones and the language model's)."""
    for table in (CORRUPTORS, MULTI_WORD, LM_KINDS):
        if name in table:
            return table[name]
    raise KeyError(name)


def realise(text: str, corruptions: Sequence[Corruption]) -> tuple[str, list[Span]]:
    """The corrupted text and its spans; each span's fix restores the clean text."""
    pieces, spans = [], []
    cursor = shift = 0
    for c in sorted(corruptions, key=lambda c: (c.start, c.end)):
        pieces.append(text[cursor:c.start])
        start = c.start + shift
        spans.append(Span(start, start + len(c.replacement), c.label, 1.0, (text[c.start:c.end],)))
        pieces.append(c.replacement)
        shift += len(c.replacement) - (c.end - c.start)
        cursor = c.end
    pieces.append(text[cursor:])
    return "".join(pieces), spans


def corrupt(text: str, rng: random.Random, res: Resources, count: int = 1,
            only: Sequence[str] | None = None) -> tuple[str, list[Span]] | None:
    """Up to ``count`` artifacts in ``text`` (none overlapping or touching), or None if none applies."""
    tokens = tokenize(text)
    if len(tokens) < 4:
        return None
    names = list(only or CORRUPTORS)
    weights = [corruptor(n)[1] for n in names]
    chosen: list[Corruption] = []
    for _ in range(count * 8):
        if len(chosen) >= count:
            break
        fn = corruptor(rng.choices(names, weights)[0])[0]
        found = fn(text, tokens, rng, res)
        if found is None or any(found.start <= c.end + 1 and c.start <= found.end + 1 for c in chosen):
            continue
        chosen.append(found)
    return realise(text, chosen) if chosen else None
