"""The fused detector: the tagger's probability, language-model evidence and candidate contrast per word, read
by a small calibrated classifier.

The tagger sees word forms (fused words, non-words, stray capitals); SmolLM2 knows which word belongs in the
context (it ranks "two leaders" far above "two guides"). Per word the classifier reads the tagger's P(BAD),
the LM's surprisal, entropy and rank there, the neighbours' surprisal, how many LM pieces the word took, and
the contrast of the candidates from the shared generator (pivot siblings, spelling neighbours, case, spacing,
pronoun and article variants): how much more likely the LM finds a candidate than the word itself.
"""
from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from mtfix.detect.candidates import Candidate, CandidateGenerator
from mtfix.detect.lm import FullContrast, LanguageModelScorer, WordScores
from mtfix.text.features import case_pattern, freq_bucket
from mtfix.text.spans import Span
from mtfix.text.tokens import Token, is_word, tokenize
from mtfix.text.words import STOP

KINDS = ("pivot", "spelling", "case", "spacing", "pronoun", "article")
# the whole-window contrast (lm.FullContrast): the best related candidate's, the LM's own choice's, and whether the
# word passed the screen that computes them
FULL_FEATURES = ("full_contrast", "full_contrast_lm", "full_read")
NO_CONTRAST = -8.0   # the contrast feature of a word with no candidate of a kind
GATE_NATS = 4.0      # candidates are generated and scored only for words at least this surprising
FEATURES = ("tagger", "tagger_logit", "tagger_neighbours", "surprisal", "entropy", "surprise_gap", "log_rank",
            "pieces", "prev_surprisal", "next_surprisal", "best_contrast", *(f"contrast_{k}" for k in KINDS),
            *(f"has_{k}" for k in KINDS), *FULL_FEATURES, *(f"case_{c}" for c in range(7)), "initial", "zipf",
            "stopword", "punctuation", "length", "sent_tagger_mean", "sent_tagger_max", "sent_surprisal_mean",
            "sent_surprising", "sent_words", "context")
GROUPS = {  # evidence groups, for the ablation (drop one at a time)
    "tagger": ("tagger", "tagger_logit", "tagger_neighbours"),
    "surprisal": ("surprisal", "entropy", "surprise_gap", "log_rank", "pieces", "prev_surprisal", "next_surprisal"),
    "contrast": ("best_contrast", *(f"contrast_{k}" for k in KINDS), *(f"has_{k}" for k in KINDS)),
    "full": FULL_FEATURES,
    "lexical": (*(f"case_{c}" for c in range(7)), "initial", "zipf", "stopword", "punctuation", "length"),
    "sentence": ("sent_tagger_mean", "sent_tagger_max", "sent_surprisal_mean", "sent_surprising", "sent_words"),
    "document": ("context",),  # whether the LM read the document's previous sentences first (FusionConfig.context)
}
SURPRISING_NATS = 8.0  # a word this surprising counts towards its sentence's share of surprising words
# what the second stage of a stacked head reads besides FEATURES: the first stage's logit of the word and of its
# neighbours in the line, and over the line its highest and mean P and the share of words at LIKELY or above
CONTEXT = ("first_logit", "first_prev", "first_next", "first_line_max", "first_line_mean", "first_line_likely")
EDGE_LOGIT = -6.0  # the neighbour logit of a line's first and last word
LIKELY = 0.3
_ENDS = {".", "!", "?"}
_TITLES = {"mr", "mrs", "ms", "dr", "st", "prof", "gen", "sen", "rep", "gov", "jr", "sr", "no", "vs", "mt", "lt", "col"}


def sentence_ids(tokens: Sequence[Token]) -> list[int]:
    """Which sentence of the segment each token is in: a new one after ., ! or ? when the next token begins
    with a capital, a digit or an opening quote (not after a title or an initial: "Mr. Smith", "J. Smith")."""
    ids, current = [], 0
    for i, tok in enumerate(tokens):
        ids.append(current)
        nxt = tokens[i + 1].text[:1] if i + 1 < len(tokens) else ""
        before = tokens[i - 1].text if i else ""
        abbreviation = tok.text == "." and (before.lower() in _TITLES or (len(before) == 1 and before.isupper()))
        if tok.text in _ENDS and not abbreviation and (nxt.isupper() or nxt.isdigit() or nxt in {"“", '"', "‘", "'"}):
            current += 1
    return ids


def sentence_evidence(scores: WordScores, tagger: Sequence[float]) -> list[list[float]]:
    """Per token, its sentence's evidence: the tagger's mean and highest P(BAD) there, the mean surprisal, the
    share of words at least SURPRISING_NATS surprising, and the log of its length in tokens. Artifacts come in
    clusters (a garbled sentence has several; a clean one, none), which one word's evidence cannot show."""
    ids = sentence_ids(scores.tokens)
    groups: dict[int, list[int]] = {}
    for i, sid in enumerate(ids):
        groups.setdefault(sid, []).append(i)
    per_sentence = {}
    for sid, members in groups.items():
        probs = [tagger[i] for i in members]
        surprisal = [scores.surprisal[i] for i in members]
        per_sentence[sid] = [sum(probs) / len(probs), max(probs), sum(surprisal) / len(surprisal),
                             sum(x >= SURPRISING_NATS for x in surprisal) / len(surprisal), math.log(len(members))]
    return [per_sentence[sid] for sid in ids]


TAGGER_FEATURES = ("tagger", "tagger_logit", "tagger_neighbours", "sent_tagger_mean", "sent_tagger_max")


def tagger_columns(tokens: Sequence[Token], tagger: Sequence[float]) -> torch.Tensor:
    """The columns of word_features that come from the tagger (TAGGER_FEATURES), as a (words, 5) tensor: what
    changes when only the tagger does (the language model's columns do not depend on it)."""
    ids = sentence_ids(tokens)
    members: dict[int, list[float]] = {}
    for i, sid in enumerate(ids):
        members.setdefault(sid, []).append(tagger[i])
    n, rows = len(tokens), []
    for i in range(n):
        p = min(max(tagger[i], 1e-6), 1 - 1e-6)
        neighbours = max(tagger[i - 1] if i else 0.0, tagger[i + 1] if i + 1 < n else 0.0)
        sentence = members[ids[i]]
        rows.append([p, math.log(p / (1 - p)), neighbours, sum(sentence) / len(sentence), max(sentence)])
    return torch.tensor(rows, dtype=torch.float32).reshape(n, len(TAGGER_FEATURES))


def gated_candidates(generator: CandidateGenerator, gate: float = GATE_NATS, siblings: int | None = None):
    """A candidate function for the LM scorer: candidates only for words the LM already finds surprising
    (``siblings``: how many pivot siblings each; None: the generator's own number)."""
    def candidates(text: str, tokens: list[Token], surprisal: list[float]) -> list[list[Candidate]]:
        return [generator.for_word(text, tokens, i, siblings) if s >= gate and is_word(tokens[i]) else []
                for i, s in enumerate(surprisal)]
    return candidates


def word_features(scores: WordScores, tagger: Sequence[float]) -> torch.Tensor:
    """The evidence of every word of one segment, as a (words, len(FEATURES)) tensor."""
    tokens, n = scores.tokens, len(scores.tokens)
    sentence = sentence_evidence(scores, tagger) if n else []
    tagged = tagger_columns(tokens, tagger).tolist() if n else []  # P, logit, neighbours; sentence mean and max
    rows = []
    for i, tok in enumerate(tokens):
        per_kind = {k: NO_CONTRAST for k in KINDS}
        for cand, value in scores.contrast[i] if scores.contrast else []:
            per_kind[cand.kind] = max(per_kind[cand.kind], max(value, NO_CONTRAST))
        related, choice = scores.full[i] if scores.full else (None, None)
        read = float(bool(scores.full) and (related is not None or choice is not None))
        case = case_pattern(tok.text)
        initial = i == 0 or tokens[i - 1].text in {".", "!", "?", ":", "“", '"'}
        zipf = freq_bucket(tok.text)
        rows.append([
            *tagged[i][:3],
            scores.surprisal[i], scores.entropy[i], scores.surprisal[i] - scores.entropy[i], scores.log_rank[i],
            float(scores.pieces[i]), scores.surprisal[i - 1] if i else 0.0,
            scores.surprisal[i + 1] if i + 1 < n else 0.0, max(per_kind.values()),
            *(per_kind[k] for k in KINDS), *(float(per_kind[k] > NO_CONTRAST) for k in KINDS),
            NO_CONTRAST if related is None else max(related, NO_CONTRAST),
            NO_CONTRAST if choice is None else max(choice, NO_CONTRAST), read,
            *(float(case == c) for c in range(7)), float(initial), zipf / 9.0,
            float(tok.text.lower() in STOP), float(not is_word(tok)), min(len(tok.text), 20) / 20.0, *sentence[i],
            float(scores.context > 0)])
    return torch.tensor(rows, dtype=torch.float32).reshape(n, len(FEATURES))


@dataclass
class FusionConfig:
    """What the classifier reads and how its output is read."""

    features: tuple[str, ...] = FEATURES
    hidden: int = 64          # 0: logistic regression
    temperature: float = 1.0  # fitted on held-out dev words with the bias: P = sigmoid(logit / temperature + bias)
    threshold: float = 0.5    # the default: fitted on dev clean news (mtfix train fusion --clean-flags)
    gate_nats: float = GATE_NATS
    bias: float = 0.0
    members: int = 1          # nets fitted with successive seeds whose logits are averaged
    lm_gate: float = 0.0      # segments whose highest tagger P(BAD) is under this skip the LM (docs/decisions.md)
    stack: int | None = None  # a stacked head: its second stage's hidden width (0: logistic); None: one stage
    nonword_floor: float | None = None  # see nonword_floor; None: none (heads saved without one)
    review_threshold: float | None = None  # the review point (--review): more recall for one article under review
    full_contrast: dict[str, Any] | None = None  # lm.FullContrast's settings the head was fitted with (None: defaults)
    context: int = 0          # the previous sentences of the document the LM reads before a segment (0: none)
    # a head that reads context: the thresholds for text read alone (JSONL records, --alone), fitted on the same clean
    # news read alone at the same budgets (a segment read alone looks less fluent: at the context threshold it flags
    # more); None: the thresholds above serve both readings
    alone_threshold: float | None = None
    alone_review_threshold: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The head's config.json (its operating points go to the detector folder's points.json: points())."""
        return {"features": list(self.features), "hidden": self.hidden, "members": self.members,
                "temperature": self.temperature, "bias": self.bias, "gate_nats": self.gate_nats,
                "stack": self.stack, "nonword_floor": self.nonword_floor,
                **({"full_contrast": self.full_contrast} if self.full_contrast is not None else {}),
                **({"context": self.context} if self.context else {})}

    def points(self) -> dict[str, Any]:
        """The head's operating points, as points.json names them."""
        return {"fused_threshold": self.threshold, "lm_gate": self.lm_gate, "review": self.review_threshold,
                "alone": self.alone_threshold, "alone_review": self.alone_review_threshold}

    def default_threshold(self, alone: bool = False) -> float:
        """The corpus default's threshold for text read in context, or alone (``alone``; a head that reads no
        context reads everything alone, at ``threshold``)."""
        return self.alone_threshold if alone and self.context and self.alone_threshold is not None else self.threshold

    def review_point(self, alone: bool = False) -> float | None:
        """The review point's threshold for text read in context, or alone (None: no review point fitted)."""
        if alone and self.context and self.alone_review_threshold is not None:
            return self.alone_review_threshold
        return self.review_threshold

    @property
    def full(self) -> FullContrast | None:
        """The whole-window contrast the head reads (None: a head that reads none of FULL_FEATURES)."""
        if not set(FULL_FEATURES) & set(self.features):
            return None
        return FullContrast(**(self.full_contrast or {}))

    def probability(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated P(BAD) from the head's logits."""
        return torch.sigmoid(logits / self.temperature + self.bias)

    def word_probability(self, logits: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """What the detector says of each word: the calibrated P(BAD), with the non-word floor applied
        (``features``: the words' full evidence, as word_features builds it)."""
        return nonword_floor(self.probability(logits), features, self.nonword_floor)


def nonword_floor(probs: torch.Tensor, features: torch.Tensor, floor: float | None) -> torch.Tensor:
    """A lower-case word the lexicon does not know ("confidanteled"; names are capitalised) keeps the tagger's
    P(BAD) where that reaches ``floor`` (the tagger's own threshold) and the fused P is lower: the fused detector
    then never passes over a non-word that --fast flags. ``features``: the full evidence (FEATURES' columns)."""
    if floor is None:
        return probs
    tagger = features[:, FEATURES.index("tagger")]
    unknown = (features[:, FEATURES.index("zipf")] == 0) & (features[:, FEATURES.index("case_1")] == 1)
    return torch.where(unknown & (tagger >= floor), torch.maximum(probs, tagger), probs)


def line_ids(text: str, tokens: Sequence[Token]) -> list[int]:
    """Which line of ``text`` each token is on (a new one after every line break between tokens)."""
    ids, current = [], 0
    for i, tok in enumerate(tokens):
        if i and "\n" in text[tokens[i - 1].end:tok.start]:
            current += 1
        ids.append(current)
    return ids


def line_groups(scores: WordScores) -> torch.Tensor:
    """Each word's line, as a stacked head's ``groups``: from ``scores.lines`` where the detector recorded them
    (FusedDetector.evidence does), else one line (evidence cached by an older mtfix, collected line by line)."""
    return torch.tensor(scores.lines) if scores.lines else torch.zeros(len(scores.tokens), dtype=torch.long)


def line_context(logits: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Per word, what a first-stage head said around it (CONTEXT): its logit, its neighbours' logits within its
    line (EDGE_LOGIT past either end), and its line's highest and mean P and share of words at LIKELY or above.
    ``groups`` numbers each word's line; a line's words are consecutive rows. The line is what the head was
    fitted on: a data-set row, one to a few sentences (artifacts cluster: a garbled line has several)."""
    n = len(logits)
    if not n:
        return torch.zeros(0, len(CONTEXT))
    starts = torch.ones(n, dtype=torch.bool)
    starts[1:] = groups[1:] != groups[:-1]
    edge = torch.full((1,), EDGE_LOGIT)
    prev = torch.where(starts, EDGE_LOGIT, torch.cat([edge, logits[:-1]]))
    ends = torch.cat([starts[1:], torch.ones(1, dtype=torch.bool)])
    nxt = torch.where(ends, EDGE_LOGIT, torch.cat([logits[1:], edge]))
    line = starts.long().cumsum(0) - 1
    k = int(line[-1]) + 1
    p = torch.sigmoid(logits)
    size = torch.zeros(k).index_add(0, line, torch.ones(n))
    highest = torch.zeros(k).scatter_reduce(0, line, p, "amax", include_self=False)
    mean = torch.zeros(k).index_add(0, line, p) / size
    likely = torch.zeros(k).index_add(0, line, (p >= LIKELY).float()) / size
    return torch.stack([logits, prev, nxt, highest[line], mean[line], likely[line]], 1)


class FusionHead(nn.Module):
    """Standardised evidence -> a small MLP (or a linear layer) -> one logit for BAD; with ``members`` > 1, several
    such nets (fitted with different seeds) whose logits are averaged. A stacked head has a ``second`` stage: a
    head that reads the evidence again with the first stage's logits of the word's line (line_context), so that
    a word flagged alone in an otherwise clean line and one among several can be told apart."""

    def __init__(self, n_features: int, hidden: int = 64, members: int = 1, second: "FusionHead | None" = None) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.nets = nn.ModuleList(
            nn.Sequential(nn.Linear(n_features, hidden), nn.GELU(), nn.Dropout(0.1), nn.Linear(hidden, 1))
            if hidden else nn.Linear(n_features, 1) for _ in range(members))
        self.second = second

    def first(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.mean) / self.std
        return torch.stack([net(z) for net in self.nets]).mean(0).reshape(-1)

    def forward(self, x: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
        """One logit per row of ``x``; a stacked head needs ``groups``, each row's line (rows of a line
        consecutive)."""
        logits = self.first(x)
        if self.second is None:
            return logits
        if groups is None:
            raise ValueError("a stacked fusion head needs each word's line (groups)")
        return self.second(torch.cat([x, line_context(logits, groups)], 1))

    @classmethod
    def average(cls, heads: Sequence["FusionHead"]) -> "FusionHead":
        """One head whose logit is the mean of ``heads``' logits (fitted on the same words, so their
        standardisation is the same; single-stage heads)."""
        first = heads[0]
        out = cls(first.mean.numel(), 0)
        out.mean.copy_(first.mean)
        out.std.copy_(first.std)
        out.nets = nn.ModuleList(net for head in heads for net in head.nets)
        return out.eval()


def save_fusion(head: FusionHead, config: FusionConfig, path: Path, record: dict[str, Any] | None = None) -> None:
    """The head as fp16 safetensors with its config (and the training record) in ``path``."""
    from safetensors.torch import save_file

    from mtfix.points import write_points

    path.mkdir(parents=True, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in head.state_dict().items()}, str(path / "model.safetensors"))
    if in_detector(path):  # its operating points in the detector folder's points.json
        (path / "config.json").write_text(json.dumps(config.to_json(), indent=2))
        write_points(path.parent, **config.points())
    else:  # a head of its own keeps them beside its weights
        own = {OWN_KEYS[k]: v for k, v in config.points().items() if v is not None}
        (path / "config.json").write_text(json.dumps({**config.to_json(), **own}, indent=2))
    if record is not None:
        (path / "training.json").write_text(json.dumps(record, indent=2))


# a head saved outside a detector folder (or before points.json) keeps its points in its config, by these names
OWN_KEYS = {"fused_threshold": "threshold", "lm_gate": "lm_gate", "review": "review_threshold",
            "alone": "alone_threshold", "alone_review": "alone_review_threshold"}


def in_detector(path: Path) -> bool:
    """Whether the head folder ``path`` is a detector folder's fusion head (FOLDER/fused)."""
    return path.name == "fused"


def load_config(path: Path) -> FusionConfig:
    """The FusionConfig saved in the head folder ``path``, with its operating points from the detector folder
    above it (points.json; a head saved before it holds its own)."""
    from mtfix.points import read_points

    raw = json.loads((path / "config.json").read_text())
    found = read_points(path.parent) if in_detector(path) and "threshold" not in raw else {}
    points = found or {name: raw[key] for name, key in OWN_KEYS.items() if raw.get(key) is not None}
    return FusionConfig(tuple(raw["features"]), raw["hidden"], raw["temperature"], points.get("fused_threshold"),
                        raw.get("gate_nats", GATE_NATS), raw.get("bias", 0.0), raw.get("members", 1),
                        points.get("lm_gate", 0.0), raw.get("stack"), raw.get("nonword_floor"),
                        points.get("review"), raw.get("full_contrast"), raw.get("context", 0),
                        points.get("alone"), points.get("alone_review"))


def load_fusion(path: Path) -> tuple[FusionHead, FusionConfig]:
    from safetensors.torch import load_file

    config = load_config(path)
    second = (FusionHead(len(config.features) + len(CONTEXT), config.stack, config.members)
              if config.stack is not None else None)
    head = FusionHead(len(config.features), config.hidden, config.members, second)
    state = load_file(str(path / "model.safetensors"))
    # heads saved before ensembles held one net, as ``net.*``: it is member 0
    head.load_state_dict({("nets.0." + k[4:] if k.startswith("net.") else k): v.float() for k, v in state.items()})
    return head.eval(), config


TRANSLATED = "translated"  # the detector folder's head for the words of documents that read as translated


def load_translated(detector_folder: Path) -> tuple[FusionHead, FusionConfig] | None:
    """The detector folder's head for the words of a document that reads as translated (FOLDER/translated, fitted
    by `mtfix train translated`), with its config, whose threshold is the folder's follow_translated point; None
    where the folder holds no such head or point."""
    from dataclasses import replace

    from mtfix.points import read_points

    path, threshold = detector_folder / TRANSLATED, read_points(detector_folder).get("follow_translated")
    if threshold is None or not (path / "config.json").exists():
        return None
    head, config = load_fusion(path)
    return head, replace(config, threshold=float(threshold))


def select(features: torch.Tensor, names: Sequence[str]) -> torch.Tensor:
    """The columns of ``features`` (built with FEATURES) that ``names`` asks for."""
    return features[:, [FEATURES.index(n) for n in names]]


CONTEXT_CHARS = 800  # the most of the previous text read as context (two sentences of 60 words fit)


def last_sentences(text: str, count: int) -> str:
    """The last ``count`` sentences of ``text`` joined by spaces, at most CONTEXT_CHARS characters of them (cut at
    a space)."""
    from mtfix.text.tokens import sentence_spans

    spans = sentence_spans(text)[-count:] if count > 0 else []
    tail = " ".join(" ".join(text[a:b].split()) for a, b in spans)
    if len(tail) > CONTEXT_CHARS:
        tail = tail[-CONTEXT_CHARS:]
        tail = tail[tail.find(" ") + 1:] if " " in tail else tail
    return tail


def document_contexts(texts: Sequence[str], count: int, before: str = "") -> list[str]:
    """What the language model reads before each of ``texts``, consecutive segments of one document: the last
    ``count`` sentences written before it (across segment boundaries; the first text's from ``before``, the text
    that came before them)."""
    out, tail = [], last_sentences(before, count)
    for text in texts:
        out.append(tail)
        if text.strip():
            tail = last_sentences(f"{tail} {text}" if tail else text, count)
    return out


def lm_gated(tagger: Sequence[float], gate: float) -> bool:
    """Whether the LM gate leaves a segment to the tagger: its highest tagger P(BAD) is under ``gate``."""
    return bool(tagger) and max(tagger) < gate


class FusedDetector:
    """The default detector: tagger + language model + candidate contrast, fused per word."""

    name = "fused"

    def __init__(self, tagger: Any, head: FusionHead, config: FusionConfig,
                 scorer: LanguageModelScorer | None = None, generator: CandidateGenerator | None = None,
                 threshold: float | None = None, lm_gate: float | None = None, alone: bool = False) -> None:
        self.tagger, self.head, self.config = tagger, head.eval(), config
        self.scorer = scorer or LanguageModelScorer()
        self.generator = generator or CandidateGenerator()
        self.threshold = config.default_threshold(alone) if threshold is None else threshold
        self.lm_gate = config.lm_gate if lm_gate is None else lm_gate
        # the previous sentences the LM reads before each segment (the head's own setting; 0 with ``alone``)
        self.context = 0 if alone else config.context
        # the document head and the threshold that follows the document (get_detector sets them where the
        # detector folder holds them and the operating point is the detector's own)
        self.document: Any = None
        self.follow: Any = None
        # the head (with its config) that scores the words of a document that reads as translated, where the
        # threshold follows the document (get_detector sets it where the detector folder holds one: translated/)
        self.translated: tuple[FusionHead, FusionConfig] | None = None

    @classmethod
    def load(cls, tagger_path: str, fusion_path: str, threshold: float | None = None,
             batch_size: int = 32, lm_gate: float | None = None, alone: bool = False) -> "FusedDetector":
        from mtfix.detect.tagger import TaggerDetector

        head, config = load_fusion(Path(fusion_path))
        return cls(TaggerDetector.load(tagger_path, batch_size=batch_size), head, config, threshold=threshold,
                   lm_gate=lm_gate, alone=alone)

    def contexts(self, texts: Sequence[str], before: str | None, documents: Sequence[int] | None = None
                 ) -> list[str] | None:
        """What the LM reads before each of ``texts`` (consecutive segments of one document, ``before`` the text
        that came before them; or with ``documents``, of several: this many texts each, each document read from
        its own first line): None where the detector reads every segment alone."""
        if not self.context:
            return None
        if documents is None:
            return document_contexts(texts, self.context, before or "")
        if before or sum(documents) != len(texts):
            raise ValueError("documents: sizes that add up to the texts, and no text before them")
        out: list[str] = []
        for at, size in zip(itertools.accumulate([0, *documents]), documents):
            out += document_contexts(texts[at:at + size], self.context)
        return out

    def gated(self, tagger: Sequence[float]) -> bool:
        """Whether a segment is left to the tagger: its highest P(BAD) is under the LM gate (and under the
        threshold, so a lower --threshold lowers the gate with it)."""
        return lm_gated(tagger, min(self.lm_gate, self.threshold))

    def evidence(self, texts: Sequence[str], contexts: Sequence[str] | None = None, siblings: int | None = None
                 ) -> list[tuple[WordScores, list[float]]]:
        """The LM's word scores (with candidate contrast) and the tagger's P(BAD), per text; a text the LM gate
        leaves to the tagger gets its tokens only (no LM scores). ``contexts``: per text, the document's previous
        sentences, which the LM reads first (the tagger reads the text alone); ``siblings``: how many pivot
        siblings a surprising word's candidates try, the best in context setting their contrast (None: the
        generator's own number, what the head was fitted on)."""
        tagger = self.tagger.word_probabilities(list(texts))
        asked = [i for i, probs in enumerate(tagger) if probs and not self.gated(probs)]
        scored = self.scorer.score([texts[i] for i in asked],
                                   gated_candidates(self.generator, self.config.gate_nats, siblings),
                                   self.config.full, [contexts[i] for i in asked] if contexts is not None else None)
        scores = [WordScores(tokenize(text), [], []) for text in texts]
        for i, found in zip(asked, scored):
            scores[i] = found
        for text, found in zip(texts, scores):
            found.lines = line_ids(text, found.tokens)
        return list(zip(scores, tagger))

    def probabilities(self, evidence: Sequence[tuple[WordScores, list[float]]],
                      head: tuple[FusionHead, FusionConfig] | None = None) -> list[list[float]]:
        """Calibrated P(BAD) per word, from the evidence; the tagger's own where the LM gate skipped the LM. The
        head (``head``: another head and its config; None: the detector's) reads the words of every LM-read segment
        in one call (each segment's lines numbered apart)."""
        fusion, config = head or (self.head, self.config)
        out: list[list[float]] = [list(tagger) for _, tagger in evidence]  # empty, gated, or not read by the LM
        read = [k for k, (scores, tagger) in enumerate(evidence)
                if scores.tokens and scores.surprisal and not self.gated(tagger)]
        if not read:
            return out
        with torch.inference_mode():
            features = [word_features(*evidence[k]) for k in read]
            groups, offset = [], 0
            for k in read:
                lines = line_groups(evidence[k][0]) + offset
                groups.append(lines)
                offset = int(lines.max()) + 1
            x = torch.cat(features)
            logits = fusion(select(x, config.features), torch.cat(groups))
            probs = config.word_probability(logits, x).tolist()
        start = 0
        for k, f in zip(read, features):
            out[k] = probs[start:start + len(f)]
            start += len(f)
        return out

    def word_probabilities(self, texts: Sequence[str], before: str | None = None) -> list[list[float]]:
        return self.probabilities(self.evidence(texts, self.contexts(texts, before)))

    def spans_from(self, evidence: Sequence[tuple[WordScores, list[float]]],
                   probabilities: Sequence[list[float]], threshold: float | Sequence[float] | None = None
                   ) -> list[list[Span]]:
        """Spans of consecutive flagged words (at ``threshold``: one for all texts, or one per text; None: the
        detector's), each carrying the evidence of its strongest word: the tagger's P(BAD), the LM's surprisal
        (nats), and the candidate that made the sentence most likely, by how much."""
        from mtfix.text.spans import word_spans

        threshold = self.threshold if threshold is None else threshold
        thresholds = [threshold] * len(evidence) if isinstance(threshold, (int, float)) else list(threshold)

        out = []
        for (scores, tagger), probs, threshold in zip(evidence, probabilities, thresholds):
            def why(i: int, scores: WordScores = scores, tagger: list[float] = tagger) -> dict[str, Any]:
                found: dict[str, Any] = {"tagger": round(tagger[i], 3)}
                if scores.surprisal:  # not where the LM gate left the segment to the tagger
                    found["surprisal"] = round(scores.surprisal[i], 2)
                if scores.contrast and scores.contrast[i]:
                    cand, value = max(scores.contrast[i], key=lambda cv: cv[1])
                    if value > 0:
                        found.update(candidate=cand.replacement, kind=cand.kind, contrast=round(value, 2))
                if scores.full and scores.full[i][1] is not None and scores.full[i][1] > 0:
                    found.update(lm_choice=scores.full_best[i][1], lm_contrast=round(scores.full[i][1], 2))
                return found
            out.append(word_spans(scores.tokens, probs, threshold, why))
        return out

    def detect(self, texts: Sequence[str], before: str | None = None, threshold: float | None = None,
               tallies: list[Any] | None = None, prior: Any = None, documents: Sequence[int] | None = None
               ) -> list[list[Span]]:
        """Spans of consecutive flagged words, each with the evidence that fired. ``texts`` are consecutive
        segments of one document, ``before`` the text that came before them: where the head reads context
        (FusionConfig.context), the LM reads each segment after the sentences before it. ``threshold``: the
        operating point of this call (None: the detector's own, which follows the document where the detector
        has a document head and a fitted ``follow``: then ``prior``, the document.Tally of the document read
        before ``texts``, says the texts are one document's, else each text is its own); ``tallies``: a list that
        gets each text's document.Tally; ``documents``: the texts are lines of several documents, this many each,
        each read after its own lines only, its lines one document for the threshold (one batch for several
        readers' texts; no ``prior``)."""
        from mtfix.detect.document import tally

        if documents is not None and prior is not None:
            raise ValueError("documents: each document is read from its first line; give no prior")

        evidence = self.evidence(texts, self.contexts(texts, before, documents), self.siblings(threshold))
        probabilities = self.probabilities(evidence)
        counted = [tally(scores.tokens, probs, tagger, scores.surprisal, scores.entropy)
                   for (scores, tagger), probs in zip(evidence, probabilities)]
        if tallies is not None:
            tallies += counted
        if not self.follows(threshold):
            return self.spans_from(evidence, probabilities, self.threshold if threshold is None else threshold)
        from mtfix.detect.document import text_probabilities

        # each text's document's MT probability (one document after ``prior``, several, or each text its own)
        found = text_probabilities(self.document, counted, prior, documents)
        thresholds = [self.follow.threshold(p, self.threshold) for p in found]
        if self.translated is not None:  # a translated document's words, scored by the head fitted on them
            again = [k for k, p in enumerate(found) if self.follow.translated(p)]
            for k, probs in zip(again, self.probabilities([evidence[k] for k in again], self.translated)):
                probabilities[k], thresholds[k] = probs, self.translated[1].threshold
        return self.spans_from(evidence, probabilities, thresholds)

    def follows(self, threshold: float | None) -> bool:
        """Whether a call at ``threshold`` (None: the detector's own) flags at the threshold that follows the
        document."""
        return threshold is None and self.follow is not None and self.document is not None

    def siblings(self, threshold: float | None) -> int | None:
        """How many pivot siblings a call at ``threshold`` tries (None: the generator's own): the threshold that
        follows the document was fitted on evidence with its own number (Follow.siblings), the others on the
        generator's."""
        return self.follow.siblings if self.follows(threshold) else None
