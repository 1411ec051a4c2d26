"""Align a text with its corrected version on words, giving exact character-level edits and gold fixes."""
from __future__ import annotations

from difflib import SequenceMatcher
from typing import Sequence

from mtfix.text.spans import Edit, Span, apply_edits
from mtfix.text.tokens import Token, tokenize

UNTAGGED = "untagged"  # a change in the reference that no annotator tag marked


def _gap(text: str, tokens: Sequence[Token], i: int) -> tuple[int, int]:
    """Character range of the whitespace before token ``i`` (``i == len(tokens)``: after the last)."""
    start = tokens[i - 1].end if i > 0 else 0
    end = tokens[i].start if i < len(tokens) else len(text)
    return start, end


def _trim(text: str, start: int, end: int, replacement: str) -> Edit:
    """Drop whitespace that the region and its replacement share at either end."""
    original = text[start:end]
    while original and replacement and original[0] == replacement[0] and original[0].isspace():
        original, replacement, start = original[1:], replacement[1:], start + 1
    while original and replacement and original[-1] == replacement[-1] and original[-1].isspace():
        original, replacement, end = original[:-1], replacement[:-1], end - 1
    return Edit(start, end, replacement)


def diff_edits(text: str, reference: str) -> list[Edit]:
    """Non-overlapping edits that turn ``text`` into ``reference`` exactly, aligned on word tokens."""
    toks, refs = tokenize(text), tokenize(reference)
    matcher = SequenceMatcher(None, [t.text for t in toks], [t.text for t in refs], autojunk=False)
    edits: list[Edit] = []
    n, m = len(toks), len(refs)
    opcodes = matcher.get_opcodes()
    if not opcodes:  # neither side has a token: only whitespace can differ
        return [Edit(0, len(text), reference)] if text != reference else []
    for k, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            # gaps at the block's ends belong to the neighbouring change, if there is one
            gaps = list(range(i1 + 1, i2))
            if k == 0:
                gaps.insert(0, i1)
            if k == len(opcodes) - 1:
                gaps.append(i2)
            for i in gaps:
                j = j1 + (i - i1)
                a, b = _gap(text, toks, i)
                c, d = _gap(reference, refs, j)
                if text[a:b] != reference[c:d]:
                    edits.append(Edit(a, b, reference[c:d]))
            continue
        a = toks[i1 - 1].end if i1 > 0 else 0
        b = toks[i2].start if i2 < n else len(text)
        c = refs[j1 - 1].end if j1 > 0 else 0
        d = refs[j2].start if j2 < m else len(reference)
        edits.append(_trim(text, a, b, reference[c:d]))
    edits = [e for e in edits if text[e.start:e.end] != e.replacement]
    return sorted(edits, key=lambda e: (e.start, e.end))


def _touches(a: tuple[int, int], b: tuple[int, int]) -> bool:
    if a[0] < b[1] and b[0] < a[1]:
        return True
    zero_width = a[0] == a[1] or b[0] == b[1]
    return zero_width and a[0] <= b[1] and b[0] <= a[1]


def _reach(text: str, item: Span | Edit) -> tuple[int, int]:
    """Where an item lies; a zero-width one (a gap) reaches over the whitespace around it."""
    start, end = item.start, item.end
    if start == end:
        while start > 0 and text[start - 1].isspace():
            start -= 1
        while end < len(text) and text[end].isspace():
            end += 1
    return start, end


def gold_spans(text: str, reference: str, tagged: Sequence[Span]) -> list[Span]:
    """Merge annotator spans with the edits to ``reference``; each span's fix reproduces the reference.

    A tagged span with no change under it gets ``fixes=()`` (any change counts); a change that no tag
    covers becomes a span labelled ``untagged``.
    """
    edits = diff_edits(text, reference)
    items: list[Span | Edit] = sorted([*tagged, *edits], key=lambda it: (it.start, it.end))
    clusters: list[list[Span | Edit]] = []
    for item in items:
        if clusters and any(_touches(_reach(text, item), _reach(text, c)) for c in clusters[-1]):
            clusters[-1].append(item)
        else:
            clusters.append([item])
    spans: list[Span] = []
    for cluster in clusters:
        start = min(c.start for c in cluster)
        end = max(c.end for c in cluster)
        tags = [c for c in cluster if isinstance(c, Span)]
        inner = [Edit(e.start - start, e.end - start, e.replacement) for e in cluster if isinstance(e, Edit)]
        label = tags[0].label if tags else UNTAGGED
        fixes = (apply_edits(text[start:end], inner),) if inner else ()
        spans.append(Span(start, end, label, 1.0, fixes))
    return spans
