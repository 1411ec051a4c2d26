"""The guards: what an edit must not do (lose content, delete words, invent a name, drop capitals, ...), each a
predicate over the text, the span and the replacement."""
from __future__ import annotations

import re
from typing import Sequence

from mtfix.correct.base import Option, _alike, _has_alnum, _lost, _zipf, option_traits
from mtfix.text.spans import Span
from mtfix.text.tokens import sentence_spans, tokenize


def loses_content(text: str, span: Span, replacement: str, window: tuple[int, int] | None = None) -> bool:
    """Whether replacing ``span`` with ``replacement`` drops a content word: the replacement has fewer content
    words (function words and punctuation aside: "trichy" -> ", the" drops one) and
    some word of the original (not a function word) has no look-alike in it or around it (in ``window``, the
    span's lm_window, computed when not given; numbers and codes count as content). Such options are never
    proposed: a repeated word or a stray article may go, but meaning is not deleted on a model's guess."""
    content = _content_words
    original = [t.text.lower() for t in tokenize(text[span.start:span.end])]
    kept = [t.text.lower() for t in tokenize(replacement)]
    if len(content(kept)) >= len(content(original)):  # a swap ("guides" -> "leaders") keeps as many
        return False
    around = [t.text.lower() for t in tokenize(_around(text, span, window))]
    return _lost(content(original), kept + around, content=_has_alnum) > 0


def _content_words(words: list[str]) -> list[str]:
    """The content words among lower-cased ``words``: not function words, longer than two characters, with a
    letter or digit."""
    from mtfix.text.words import STOP

    return [w for w in words if w not in STOP and len(w) > 2 and _has_alnum(w)]


def deletes_words(text: str, span: Span, replacement: str) -> bool:
    """A deletion of two or more content words that do not repeat their neighbours ("Ayurvedika Ayurvedika,
    yajurvedika bhanurvedika" -> "Ayurvedika Ayurvedika,"): what a monolingual model cannot know to be extra.
    On synthetic dev every gold deletion of several content words undoes a repetition; on MLQE-PE dev the one
    such option scored 0.5 or more (0.97 with the stop-18 decoder, 0.81 with the one before) was wrong."""
    if replacement.strip():
        return False
    words = _content_words([t.text.lower() for t in tokenize(text[span.start:span.end])])
    return len(words) >= 2 and not repeats(text, span)


def is_stub(original: str, replacement: str) -> bool:
    """A replacement of at most half the letters of a one-word original of six or more (not the word's
    doubling undone, "thethe" -> "the"): the decoder's guess at a name or a garbled word it cannot read
    ("PikabuPolitics" -> "Pa", "manoeuvre" -> "man", "vanhoutta" -> "max"); or of at most half the letters of
    a longer original of several words (eight letters or more) that keeps none of its words ("mosasaur's
    cutthroat" -> "mour", "Eeshwar as eeshwar" -> "Esh"; a repetition undone keeps one). Never proposed."""
    word, new = original.strip(), replacement.strip()
    if not new:
        return False
    words = [t.text.lower() for t in tokenize(word)]
    if len(words) > 1:  # (punctuation kept is no word kept: "na imperfecta, na imperfecta" -> "nafe,")
        letters = sum(ch.isalpha() for ch in word)
        return (letters >= 8 and 2 * sum(ch.isalpha() for ch in new) <= letters
                and not any(t.text.lower() in words for t in tokenize(new) if _has_alnum(t.text)))
    if len(word) < 6 or 2 * len(new) > len(word):
        return False
    return word.lower() != new.lower() * 2


def wipes_repeat(text: str, span: Span, replacement: str) -> bool:
    """Whether the option leaves no copy of a word that the span repeats, neither in the replacement nor in the
    words just before and after the span ("Many Siamese Siamese Siamese" -> "Many"): a repetition is undone by
    keeping one copy; a replacement that drops them all takes the word out of the text. Never proposed."""
    words = [t.text.lower() for t in tokenize(text[span.start:span.end]) if _has_alnum(t.text)]
    repeated = {w for w in words if words.count(w) > 1}
    if not repeated:
        return False
    tokens = [t for t in tokenize(text) if _has_alnum(t.text)]
    before = [t.text.lower() for t in tokens if t.end <= span.start][-1:]
    after = [t.text.lower() for t in tokens if t.start >= span.end][:1]
    kept = {t.text.lower() for t in tokenize(replacement)} | set(before) | set(after)
    return not repeated <= kept


def misreads(original: str, replacement: str) -> bool:
    """A one-word original of six letters or more that the English lexicon (wordfreq) has never seen (a garbled
    word, a foreign name) replaced by one word not like it (difflib ratio under 0.6, case aside, the likeness
    _alike, as drops_capitals): the decoder's guess at a word it cannot read, a stub's longer cousin
    ("churtumas" -> "church", "newindriani" -> "nether", both scored 0.9 or more on MLQE-PE dev). A real
    spelling fix stays like the word ("pariad" -> "pariah" 0.83, "confidanteled" -> "confidant" 0.82). Never
    proposed."""
    word, new = original.strip(), replacement.strip()
    if not word.isalpha() or len(word) < 6 or not new.isalpha() or _zipf(word.lower()) > 0:
        return False
    return not _alike(word.lower(), new.lower())


_VARIANTS = tuple((re.compile(pattern), american) for pattern, american in (  # British -> American
    (r"(?<=[a-z]{3})our(?=s?$|ed$|ing$|er|ite|able)", "or"), (r"([iy])s(?=e|ing|ation|er)", r"\1z"),
    (r"([^aeiou])re(?=s?$|d$)", r"\1er"), (r"ll(?=ed$|ing$|er$|ers$)", "l"), (r"ogue(?=s?$)", "og"),
    (r"(?<=[a-z])ae(?=[a-z])", "e"), (r"(?<=[a-z])oe(?=[a-z])", "e")))


def _american(word: str) -> str:
    for pattern, repl in _VARIANTS:
        word = pattern.sub(repl, word)
    return word


def spelling_variant(original: str, replacement: str) -> bool:
    """Whether the two are the British and American spellings of one word ("organised" / "organized",
    "colour" / "color", "centre" / "center"): a house style, not an artifact, so never proposed."""
    a, b = original.strip().lower(), replacement.strip().lower()
    return (a != b and a.isalpha() and b.isalpha() and _american(a) == _american(b)
            and min(_zipf(a), _zipf(b)) >= 1.5)


def is_code(original: str) -> bool:
    """Whether the span holds a token that mixes letters and digits ("250pxrightthbus", "xxxxUNTITLED12"):
    markup, identifiers and codes, which a round trip does not garble into something a model could restore."""
    return any(any(ch.isdigit() for ch in t.text) and any(ch.isalpha() for ch in t.text) for t in tokenize(original))


def is_swap(original: str, replacement: str) -> bool:
    """Whether the replacement puts in a content word (three letters or more, not a function word) with no
    look-alike among the original's words: a change of meaning ("guides" -> "leaders", "aeroplanes" ->
    "aircraft"), not of form (case, spacing, spelling, a repetition dropped, an article or pronoun)."""
    from mtfix.text.words import STOP

    new = [t.text.lower() for t in tokenize(replacement)]
    return _lost([w for w in new if w not in STOP], [t.text.lower() for t in tokenize(original)]) > 0


def invents(replacement: str, known: Sequence[str]) -> bool:
    """Whether the replacement writes a word of three letters or more that the English lexicon (wordfreq) has
    never seen and that is not among ``known`` (the words of the original and around it): the decoder's
    inventions ("Sathyavagissyan" -> "Sathdasath", "Officer" -> "Efficer"). A real fix writes a real word."""
    have = {w.lower() for w in known}
    return any(t.text.isalpha() and len(t.text) > 2 and t.text.lower() not in have and _zipf(t.text.lower()) == 0
               for t in tokenize(replacement))


def drops_capitals(original: str, replacement: str, around: Sequence[str] = ()) -> bool:
    """Whether a word of the original written in capitals (two letters or more: an acronym, a party, a heading,
    "PNTCD", "NATO", "CHILDREN") is neither kept as written (in the replacement or in ``around``, the words
    beside the span: a repeated one may go) nor respelled in capitals ("REPECT" -> "RESPECT"). A round trip
    keeps such words; a model that puts another word in their place ("from PNTCD" -> "from Prom") or
    lowercases a heading is guessing."""
    def capitals(text: str) -> list[str]:
        return [t.text for t in tokenize(text) if t.text.isalpha() and t.text.isupper() and len(t.text) > 1]

    new = capitals(replacement)
    kept = set(new) | set(around)
    return any(word not in kept and not any(_alike(word, w) for w in new)
               for word in capitals(original))


def unfounded(text: str, span: Span, replacement: str, window: tuple[int, int] | None = None) -> bool:
    """Options never proposed, whatever their scores: those that delete content (loses_content, deletes_words,
    wipes_repeat), stubs (is_stub), guesses at unreadable words (misreads), changes of spelling convention
    (spelling_variant), edits of codes (is_code), invented words (invents) and words in capitals replaced or
    lowercased (drops_capitals)."""
    original = text[span.start:span.end]
    if (is_code(original) or is_stub(original, replacement) or misreads(original, replacement)
            or spelling_variant(original, replacement)):
        return True
    if deletes_words(text, span, replacement) or wipes_repeat(text, span, replacement):
        return True
    window = window or lm_window(text, span)
    if drops_capitals(original, replacement, [t.text for t in tokenize(_around(text, span, window))]):
        return True
    return (invents(replacement, [t.text for t in tokenize(text[window[0]:window[1]])])
            or loses_content(text, span, replacement, window))


def span_traits(text: str, span: Span, options: Sequence[Option], window: tuple[int, int] | None = None) -> None:
    """option_traits for the options of ``span`` in ``text``, its context being the LM's window around it
    (``window``, computed when not given)."""
    option_traits(text[span.start:span.end], options, _around(text, span, window), repeats(text, span),
                  sentence_initial(text, span.start))


def repeats(text: str, span: Span) -> bool:
    """Whether the span's words (case aside) are the same as the words just before it or just after it."""
    tokens = tokenize(text)
    inside = [t.text.lower() for t in tokens if span.start <= t.start and t.end <= span.end]
    if not inside:
        return False
    before = [t.text.lower() for t in tokens if t.end <= span.start][-len(inside):]
    after = [t.text.lower() for t in tokens if t.start >= span.end][:len(inside)]
    return inside in (before, after)


def sentence_initial(text: str, start: int) -> bool:
    """Whether ``start`` begins the text or a sentence (after ., !, ?, : or an opening quote, spaces aside)."""
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?:\"“‘(\n" or text[len(before):start].count("\n") > 0


def _around(text: str, span: Span, window: tuple[int, int] | None) -> str:
    lo, hi = window or lm_window(text, span)
    return text[lo:span.start] + " " + text[span.end:hi]


def lm_window(text: str, span: Span, left: int = 24, right: int = 8) -> tuple[int, int]:
    """Where the language model reads a span's options: its sentence, at most ``left`` words before the span and
    ``right`` after it (the words further away change the gain little and cost a forward pass per option)."""
    bounds = sentence_spans(text) or [(0, len(text))]
    tokens = tokenize(text)
    s_lo = max([a for a, _ in bounds if a <= span.start] or [0])
    s_hi = max(span.end, min([b for _, b in bounds if b >= span.end] or [len(text)]))
    before = [t for t in tokens if s_lo <= t.start and t.end <= span.start][-left:]
    after = [t for t in tokens if span.end <= t.start and t.end <= s_hi][:right]
    lo = before[0].start if before else span.start
    return lo, max(span.end, after[-1].end if after else span.end)


def deletion_extent(text: str, start: int, end: int) -> tuple[int, int]:
    """A deleted word takes one neighbouring space with it ("a  b" would be left otherwise): the one after it,
    or, before punctuation or the end, the one before it."""
    if start == end or text[start:end] != text[start:end].strip():  # it takes its own space already
        return start, end
    after = end < len(text) and text[end] == " "
    before = start > 0 and text[start - 1] == " "
    if after and (before or start == 0):
        return start, end + 1
    if before and (end == len(text) or not text[end].isalnum()):
        return start - 1, end
    return start, end
