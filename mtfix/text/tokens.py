"""Words with character offsets, and Moses detokenisation that keeps each token's offsets."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Token:
    """One word or punctuation mark: ``text == original[start:end]``."""

    text: str
    start: int
    end: int


_LETTER = r"[^\W_]"
# A word: letters and digits, held together by inner hyphens, apostrophes (not clitics) and digit separators.
# Clitics ('s, n't, 're ...) and runs of one punctuation character are tokens of their own, as in Moses.
_CLITIC = r"(?:['’](?:s|S|t|re|ve|ll|d|m|RE|VE|LL|D|M)(?![^\W_]))"
_WORD = (
    rf"{_LETTER}+(?:(?:[-‐‑](?={_LETTER})|['’](?!(?:s|S|t|re|ve|ll|d|m|RE|VE|LL|D|M)(?![^\W_]))(?={_LETTER})"
    rf"|[.,](?=\d))+{_LETTER}+)*"
)
_TOKEN_RE = re.compile(rf"{_CLITIC}|{_WORD}|(\S)\1*")


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; whitespace (CRLF, NBSP included) is the only thing between them."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


_SENT_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’)]))\s+(?=[\"“‘(]?[A-Z])")
_ABBREVIATION = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Prof|Gen|Sen|Rep|Gov|Lt|Col|No|vs|[A-Z])\.$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, whitespace around them left out; no split after titles and initials."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for m in [*_SENT_END.finditer(text), None]:
        end = m.start() if m else len(text)
        start = cursor
        while start < end and text[start].isspace():
            start += 1
        stop = end
        while stop > start and text[stop - 1].isspace():
            stop -= 1
        if stop > start:
            if spans and _ABBREVIATION.search(text[spans[-1][0]:spans[-1][1]]):
                spans[-1] = (spans[-1][0], stop)
            else:
                spans.append((start, stop))
        cursor = m.end() if m else len(text)
    return spans


def sentence_tokens(text: str, tokens: Sequence[Token]) -> list[tuple[int, int, int, int]]:
    """Per sentence of ``text``: its first and end token index in ``tokens`` (the text's own), and its start and
    end character."""
    out, lo = [], 0
    for start, end in sentence_spans(text):
        hi = lo
        while hi < len(tokens) and tokens[hi].start < end:
            hi += 1
        out.append((lo, hi, start, end))
        lo = hi
    return out


def is_word(token: Token | str) -> bool:
    """True for tokens that hold a letter or digit (not punctuation)."""
    s = token.text if isinstance(token, Token) else token
    return any(ch.isalnum() for ch in s)


# --- Moses detokenisation with offsets ---------------------------------------------------------

_NO_SPACE_BEFORE = set(",.;:!?%)]}’”»…") | {"...", "..", "....", "''"}
_NO_SPACE_AFTER = set("([{$“«¿¡")
_CLITICS = re.compile(r"^(?:['’](?:s|S|t|re|ve|ll|d|m|RE|VE|LL|D|M)|n't|N'T)$")
_ESCAPES = {"&amp;": "&", "&#124;": "|", "&lt;": "<", "&gt;": ">", "&apos;": "'", "&quot;": '"',
            "&#91;": "[", "&#93;": "]", "@-@": "-"}


def _unescape(token: str) -> str:
    return _ESCAPES.get(token, token)


def detokenize(tokens: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join Moses-tokenised English; returns the text and each token's (start, end) in it."""
    pieces: list[str] = []
    offsets: list[tuple[int, int]] = []
    length = 0
    open_double = False
    glue_next = False
    prev = ""
    for raw in tokens:
        tok = _unescape(raw)
        space = bool(pieces) and not glue_next
        glue_next = False
        if tok in _NO_SPACE_BEFORE or _CLITICS.match(tok):
            space = False
        elif tok == "-" and raw == "@-@":
            space, glue_next = False, True
        elif tok == '"':
            if open_double:
                space = False
            else:
                glue_next = True
            open_double = not open_double
        elif tok == "'" and prev and prev[-1:].isalpha() and prev.endswith("s"):
            space = False  # plural possessive: "players '" -> "players'"
        if tok in _NO_SPACE_AFTER:
            glue_next = True
        if space:
            pieces.append(" ")
            length += 1
        offsets.append((length, length + len(tok)))
        pieces.append(tok)
        length += len(tok)
        prev = tok
    return "".join(pieces), offsets
