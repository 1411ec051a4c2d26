"""Pivot siblings ranked in context: of every sibling the English-German dictionary links a flagged word to
(guides -> Führer -> leaders, started -> starten -> launched), the few that make the word's sentence most likely
to the language model, instead of the most frequent ones ("used, left, posted" for "started")."""
from __future__ import annotations

from typing import Any, Sequence

from mtfix.detect.candidates import MAX_SIBLINGS
from mtfix.text.spans import Span
from mtfix.text.tokens import Token

TOP = 3  # siblings proposed per word


def ranked_siblings(lm: Any, generator: Any, texts: Sequence[str], jobs: Sequence[tuple[int, Span]],
                    tokens: dict[int, list[Token]], top: int = TOP) -> dict[int, list[str]]:
    """For each job (text index, span) over one word that has pivot siblings: its ``top`` siblings by the log-
    probability of the span's LM window (correct.guards.lm_window) with the sibling in the word's place, every
    window of a span read in one group (its shared beginning run once). Keyed by the job's position."""
    from mtfix.correct.guards import lm_window
    from mtfix.text.tokens import is_word

    asked: list[tuple[int, list[str]]] = []
    groups: list[list[str]] = []
    for k, (i, span) in enumerate(jobs):
        inside = [t for t in tokens[i] if span.start <= t.start and t.end <= span.end]
        if len(inside) != 1 or not is_word(inside[0]):
            continue
        word = inside[0]
        found = generator.siblings(word.text, limit=MAX_SIBLINGS)
        if len(found) <= top:
            if found:
                asked.append((k, found))
                groups.append([])
            continue
        lo, hi = lm_window(texts[i], span)
        text = texts[i]
        asked.append((k, found))
        groups.append([text[lo:word.start] + s + text[word.end:hi] for s in found])
    scored = lm.logprob_groups([g for g in groups if g]) if any(groups) else []
    out: dict[int, list[str]] = {}
    values = iter(scored)
    for (k, found), group in zip(asked, groups):
        if not group:
            out[k] = found
            continue
        logp = next(values)
        order = sorted(range(len(found)), key=lambda j: -logp[j])
        out[k] = [found[j] for j in order[:top]]
    return out
