"""Candidates ranked in context. Pivot siblings: of every sibling the English-German dictionary links a flagged
word to (guides -> Führer -> leaders, started -> starten -> launched), the few that make the word's sentence most
likely to the language model, instead of the most frequent ones ("used, left, posted" for "started"). The LM's
own choices: for a word no dictionary links to its fix ("gaining dynamics" for "gaining momentum"), the words the
language model would have written there, ranked the same way."""
from __future__ import annotations

from typing import Any, Sequence

from mtfix.detect.candidates import MAX_SIBLINGS
from mtfix.text.spans import Span
from mtfix.text.tokens import Token

TOP = 3  # siblings proposed per word
ASKED = 16  # the LM's likeliest next tokens its choices are taken from (the whole words among them)


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


def lm_choices(lm: Any, texts: Sequence[str], jobs: Sequence[tuple[int, Span]], tokens: dict[int, list[Token]],
               top: int = TOP, asked: int = ASKED) -> dict[int, list[str]]:
    """For each job (text index, span) over one content word after other words: the whole words among the LM's
    ``asked`` likeliest next tokens after the words before it (in the span's LM window), function words and the
    word itself left out, ranked as ranked_siblings ranks siblings (the window's log-probability with each in the
    word's place) and the ``top`` of them kept. Keyed by the job's position."""
    from mtfix.correct.guards import lm_window
    from mtfix.text.tokens import is_word
    from mtfix.text.words import STOP

    asked_jobs: list[tuple[int, str, int, int, Token]] = []
    for k, (i, span) in enumerate(jobs):
        inside = [t for t in tokens[i] if span.start <= t.start and t.end <= span.end]
        if len(inside) != 1 or not is_word(inside[0]) or inside[0].text.lower() in STOP:
            continue
        word = inside[0]
        lo, hi = lm_window(texts[i], span)
        prefix = texts[i][lo:word.start].rstrip()
        if prefix and texts[i][word.start - 1:word.start].isspace():  # the LM writes a word after a space
            asked_jobs.append((k, prefix, lo, hi, word))
    if not asked_jobs:
        return {}
    proposed = lm.next_words([prefix for _, prefix, *_ in asked_jobs], asked)
    kept: list[tuple[int, list[str]]] = []
    groups: list[list[str]] = []
    for (k, _, lo, hi, word), found in zip(asked_jobs, proposed):
        choices = list(dict.fromkeys(w for w in found if w.lower() != word.text.lower() and w.lower() not in STOP))
        if not choices:
            continue
        text = texts[jobs[k][0]]
        kept.append((k, choices))
        groups.append([text[lo:word.start] + c + text[word.end:hi] for c in choices])
    out: dict[int, list[str]] = {}
    for (k, choices), logp in zip(kept, lm.logprob_groups(groups) if groups else []):
        order = sorted(range(len(choices)), key=lambda j: -logp[j])
        out[k] = [choices[j] for j in order[:top]]
    return out
