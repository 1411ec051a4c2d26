"""The span corrector model: encoder states with the span marked, and a small decoder that writes the replacement.

The decoder reads ``<bos> original pieces <sep>`` and writes the replacement's pieces and ``<eos>``, cross-attending
to the encoder's states of the sentence, to which a learned marker vector is added on the span's subwords (or on
the subword where something is to be inserted). The encoder is the detector's own MiniLM ("tagger": its states
are reused, one encoder pass per sentence serves detection and the correction of every span in it) or a small
encoder over the decoder's cased sentencepiece pieces, trained from scratch ("scratch").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn
from transformers import BertConfig, BertModel, PretrainedConfig, PreTrainedModel
from transformers.utils import ModelOutput

from mtfix.models import init_weights

NONE, INSIDE, INSERT = 0, 1, 2  # marker ids: an ordinary subword, one inside the span, the place of an insertion


class CorrectorConfig(PretrainedConfig):
    """Decoder sizes, the encoder kind, the special piece ids, and the calibration of the keep-or-edit score."""

    model_type = "mtfix-corrector"

    def __init__(self, vocab_size: int = 8000, d_model: int = 384, layers: int = 3, heads: int = 6, ffn: int = 1024,
                 dropout: float = 0.1, max_len: int = 48, encoder: str = "tagger",
                 scratch_encoder: dict[str, Any] | None = None, tagger_sha1: str = "", pad_id: int = 0,
                 bos_id: int = 2, eos_id: int = 3, sep_id: int = 4, edit_temperature: float = 1.0,
                 edit_bias: float = 0.0, encoder_hidden: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder_hidden = encoder_hidden or d_model  # the encoder states' width (projected to d_model)
        self.vocab_size, self.d_model, self.layers, self.heads, self.ffn = vocab_size, d_model, layers, heads, ffn
        self.dropout, self.max_len, self.encoder = dropout, max_len, encoder
        self.scratch_encoder = scratch_encoder
        self.tagger_sha1 = tagger_sha1  # the detector whose encoder states this decoder was trained on
        self.pad_id, self.bos_id, self.eos_id, self.sep_id = pad_id, bos_id, eos_id, sep_id
        # P(edit is right) = sigmoid((logp(edit) - logp(keep)) / temperature + bias), fitted on dev; the bar an edit
        # must reach is the folder's operating point (points.json: plain_min_score)
        self.edit_temperature, self.edit_bias = edit_temperature, edit_bias


@dataclass
class CorrectorOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None  # (spans, length, vocab)


def scratch_encoder_config(vocab_size: int, d_model: int = 384) -> dict[str, Any]:
    """A small BERT over the sentencepiece pieces, for the stand-alone encoder-decoder."""
    return BertConfig(vocab_size=vocab_size, hidden_size=d_model, num_hidden_layers=3,
                      num_attention_heads=max(1, d_model // 64), intermediate_size=4 * d_model,
                      max_position_embeddings=512, pad_token_id=0).to_dict()


class SpanCorrector(PreTrainedModel):
    """Marker-added encoder states as memory; a pre-norm transformer decoder with tied input/output embeddings."""

    config_class = CorrectorConfig
    base_model_prefix = "corrector"

    def __init__(self, config: CorrectorConfig) -> None:
        super().__init__(config)
        d = config.d_model
        self.encoder = (BertModel(BertConfig(**config.scratch_encoder), add_pooling_layer=False)
                        if config.encoder == "scratch" else None)
        self.bridge = nn.Linear(config.encoder_hidden, d) if config.encoder_hidden != d else None
        self.marker = nn.Embedding(3, d)
        self.memory_norm = nn.LayerNorm(d)
        self.embed = nn.Embedding(config.vocab_size, d)
        self.position = nn.Embedding(config.max_len, d)
        layer = nn.TransformerDecoderLayer(d, config.heads, config.ffn, config.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, config.layers)
        self.norm = nn.LayerNorm(d)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        init_weights(module)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The scratch encoder's states (the tagger kind gets its states from the detector)."""
        assert self.encoder is not None, "this corrector reads the detector's encoder states"
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def memory(self, states: torch.Tensor, marks: torch.Tensor) -> torch.Tensor:
        if self.bridge is not None:
            states = self.bridge(states)
        return self.memory_norm(states + self.marker(marks))

    def decode(self, memory: torch.Tensor, memory_mask: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """Next-piece logits at every position of ``input_ids`` (spans, length)."""
        length = input_ids.size(1)
        x = self.embed(input_ids) + self.position(torch.arange(length, device=input_ids.device).clamp(
            max=self.config.max_len - 1))
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool, device=x.device), diagonal=1)
        h = self.decoder(x, memory, tgt_mask=causal, tgt_key_padding_mask=input_ids == self.config.pad_id,
                         memory_key_padding_mask=memory_mask == 0, tgt_is_causal=True)
        return nn.functional.linear(self.norm(h), self.embed.weight)

    def forward(self, states: torch.Tensor, memory_mask: torch.Tensor, marks: torch.Tensor,
                input_ids: torch.Tensor, labels: torch.Tensor | None = None) -> CorrectorOutput:
        """``states`` (spans, T, d): encoder states of each span's sentence; ``labels``: ``input_ids`` shifted
        left with -100 wherever no loss is taken (the prompt, padding)."""
        logits = self.decode(self.memory(states, marks), memory_mask, input_ids)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1),
                                               ignore_index=-100)
        return CorrectorOutput(loss=loss, logits=logits)

    def edit_probability(self, gain: torch.Tensor) -> torch.Tensor:
        """Calibrated P(the edit is right) from logp(edit) - logp(keep)."""
        return torch.sigmoid(gain / self.config.edit_temperature + self.config.edit_bias)


def prompt(config: CorrectorConfig, original: Sequence[int]) -> list[int]:
    """The decoder's forced start: ``<bos> original <sep>``."""
    return [config.bos_id, *original, config.sep_id]


def teacher_batch(config: CorrectorConfig, originals: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """input_ids and labels for teacher forcing: loss on the target's pieces and <eos> only."""
    rows = []
    for original, target in zip(originals, targets):
        head = prompt(config, original)[: config.max_len // 2]
        rows.append((head, [*target][: config.max_len - len(head) - 1] + [config.eos_id]))
    width = max(len(h) + len(t) for h, t in rows)
    ids = torch.full((len(rows), width), config.pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, (head, tail) in enumerate(rows):
        seq = head + tail
        ids[i, :len(seq)] = torch.tensor(seq)
        labels[i, len(head) - 1:len(seq) - 1] = torch.tensor(tail)
    return ids, labels


def sequence_logprob(model: SpanCorrector, memory: torch.Tensor, memory_mask: torch.Tensor,
                     originals: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]) -> torch.Tensor:
    """log P(target + <eos> | original, context) for each row (memory already marked)."""
    ids, labels = teacher_batch(model.config, originals, targets)
    logp = model.decode(memory, memory_mask, ids).float().log_softmax(-1)
    mask = labels >= 0
    picked = logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * mask).sum(-1)


def beam_search(model: SpanCorrector, memory: torch.Tensor, memory_mask: torch.Tensor,
                originals: Sequence[Sequence[int]], beams: int = 4, max_new: int = 16
                ) -> list[list[tuple[list[int], float]]]:
    """The n-best replacements (piece ids, total log-probability with <eos>) for each span, best first."""
    config = model.config
    n = len(originals)
    heads = [prompt(config, o)[: config.max_len // 2] for o in originals]
    # live hypotheses: (span, pieces so far, logp)
    live: list[tuple[int, list[int], float]] = [(i, [], 0.0) for i in range(n)]
    done: list[list[tuple[list[int], float]]] = [[] for _ in range(n)]
    for step in range(max_new + 1):
        if not live:
            break
        seqs = [heads[i] + pieces for i, pieces, _ in live]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), config.pad_id, dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, :len(s)] = torch.tensor(s)
        rows = torch.tensor([i for i, _, _ in live])
        logits = model.decode(memory[rows], memory_mask[rows], ids)
        last = torch.tensor([len(s) - 1 for s in seqs])
        logp = logits[torch.arange(len(seqs)), last].float().log_softmax(-1)
        if step == max_new:  # out of room: only <eos> may follow
            keep = torch.full_like(logp, float("-inf"))
            keep[:, config.eos_id] = logp[:, config.eos_id]
            logp = keep
        top = logp.topk(beams, dim=-1)
        top_lp, top_id = top.values.tolist(), top.indices.tolist()  # one copy off the device, not one per beam
        grown: list[list[tuple[int, list[int], float]]] = [[] for _ in range(n)]
        for r, (i, pieces, lp) in enumerate(live):
            for k in range(beams):
                grown[i].append((i, pieces + [top_id[r][k]], lp + top_lp[r][k]))
        live = []
        for i in range(n):
            kept = 0
            for _, pieces, lp in sorted(grown[i], key=lambda h: -h[2]):
                if pieces[-1] == config.eos_id:
                    done[i].append((pieces[:-1], lp))
                elif kept < beams:
                    live.append((i, pieces, lp))
                    kept += 1
            done[i] = sorted(done[i], key=lambda h: -h[1])[:beams]
        # log-probabilities only fall: a span is finished once its beams-th result beats its best live one
        live = [h for h in live if len(done[h[0]]) < beams or h[2] > done[h[0]][-1][1]]
    return [sorted(d, key=lambda h: -h[1]) for d in done]
