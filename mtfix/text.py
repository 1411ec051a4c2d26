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
