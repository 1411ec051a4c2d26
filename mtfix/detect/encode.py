"""Turn segments into model inputs: words with their first-subword positions, features and windows."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from mtfix.text.features import word_features
from mtfix.text.tokens import Token, sentence_tokens


@dataclass
class Window:
    """Words ``lo:hi`` of segment ``segment`` as one model input."""

    segment: int
    lo: int
    hi: int
    input_ids: list[int]
    word_index: list[int]
    case: list[int]
    freq: list[int]
    space: list[int]
    labels: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)


def encode(tokenizer: Any, text: str, tokens: Sequence[Token], segment: int = 0, window: int = 256,
           overlap: int = 16, first: int = 0) -> list[Window]:
    """Windows of at most ``window`` subwords covering every word; neighbours share ``overlap`` words.
    ``tokens`` may be a slice of the segment's tokens starting at index ``first`` (a sentence): the windows'
    ``lo``/``hi`` count from the segment's first token."""
    if not tokens:
        return []
    words = [t.text for t in tokens]
    enc = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
    ids: list[int] = enc["input_ids"]
    firsts: list[int] = [-1] * len(words)
    ends: list[int] = [0] * len(words)
    for pos, w in enumerate(enc.word_ids()):
        if w is not None:
            if firsts[w] < 0:
                firsts[w] = pos
            ends[w] = pos + 1
    for w in range(len(words)):  # a word with no subword (rare symbols) borrows its neighbour's
        if firsts[w] < 0:
            firsts[w] = firsts[w - 1] if w else 0
            ends[w] = max(ends[w - 1] if w else 0, firsts[w])
    case, freq, space = word_features(text, tokens)
    budget = window - 2
    out: list[Window] = []
    lo = 0
    while lo < len(words):
        hi = lo + 1
        while hi < len(words) and ends[hi] - firsts[lo] <= budget:
            hi += 1
        start = firsts[lo]
        stop = min(ends[hi - 1], start + budget)
        sub = [tokenizer.cls_token_id, *ids[start:stop], tokenizer.sep_token_id]
        index = [min(firsts[w] - start, stop - start - 1) + 1 for w in range(lo, hi)]
        out.append(Window(segment, first + lo, first + hi, sub, index, case[lo:hi], freq[lo:hi], space[lo:hi]))
        if hi >= len(words):
            break
        lo = max(lo + 1, hi - overlap)
    return out


def collate(windows: Sequence[Window]) -> dict[str, torch.Tensor]:
    """Pad a batch of windows into tensors (labels -100 where there is no word)."""
    n = len(windows)
    t = max(len(w.input_ids) for w in windows)
    k = max(len(w.word_index) for w in windows)
    batch = {
        "input_ids": torch.zeros(n, t, dtype=torch.long), "attention_mask": torch.zeros(n, t, dtype=torch.long),
        "word_index": torch.zeros(n, k, dtype=torch.long), "case_ids": torch.zeros(n, k, dtype=torch.long),
        "freq_ids": torch.zeros(n, k, dtype=torch.long), "space_ids": torch.zeros(n, k, dtype=torch.long),
    }
    with_labels = all(w.labels for w in windows)
    if with_labels:
        batch["labels"] = torch.full((n, k), -100, dtype=torch.long)
        batch["weights"] = torch.zeros(n, k)
    for i, w in enumerate(windows):
        batch["input_ids"][i, :len(w.input_ids)] = torch.tensor(w.input_ids)
        batch["attention_mask"][i, :len(w.input_ids)] = 1
        m = len(w.word_index)
        batch["word_index"][i, :m] = torch.tensor(w.word_index)
        batch["case_ids"][i, :m] = torch.tensor(w.case)
        batch["freq_ids"][i, :m] = torch.tensor(w.freq)
        batch["space_ids"][i, :m] = torch.tensor(w.space)
        if with_labels:
            batch["labels"][i, :m] = torch.tensor(w.labels)
            batch["weights"][i, :m] = torch.tensor(w.weights)
    return batch


def sentence_windows(tokenizer: Any, text: str, tokens: Sequence[Token], segment: int = 0,
                     window: int = 256) -> list[Window]:
    """Windows sentence by sentence (the way the tagger is trained and run)."""
    out: list[Window] = []
    for lo, hi, _, _ in sentence_tokens(text, tokens):
        if hi > lo:
            out += encode(tokenizer, text, tokens[lo:hi], segment, window, first=lo)
    return out


@dataclass
class SentenceInput:
    """Words ``lo:hi`` of segment ``segment`` as encoder input; word w's subwords are firsts[w-lo]:ends[w-lo]."""

    segment: int
    lo: int
    hi: int
    input_ids: list[int]
    firsts: list[int]
    ends: list[int]


def window_input(window: Any) -> SentenceInput:
    """A tagger Window as a SentenceInput (a word's subwords run up to the next word's first)."""
    firsts = list(window.word_index)
    ends = firsts[1:] + [len(window.input_ids) - 1]
    return SentenceInput(window.segment, window.lo, window.hi, list(window.input_ids), firsts,
                         [max(e, f + 1) for f, e in zip(firsts, ends)])
