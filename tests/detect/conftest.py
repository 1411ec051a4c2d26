"""The detector tests' shared fixtures: MiniLM's tokenizer and a tiny language model on it."""
import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from mtfix.detect.lm import LanguageModelScorer
from mtfix.training.common import minilm_dir


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(minilm_dir())


@pytest.fixture(scope="module")
def scorer(tokenizer):
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
    return LanguageModelScorer(model.eval(), tokenizer, batch_size=2)


@pytest.fixture
def fused_at(tmp_path, tokenizer):
    """Lays out a tiny tagger with an untrained fusion head in fused/ that flags from ``threshold``, as
    models/detector is laid out; returns the folder."""
    from mtfix.detect.fuse import FEATURES, FusionConfig, FusionHead, save_fusion

    from .test_tagger import tiny_model

    def make(threshold: float):
        tiny_model().save_pretrained(tmp_path)
        tokenizer.save_pretrained(tmp_path)
        save_fusion(FusionHead(len(FEATURES), 8), FusionConfig(hidden=8, threshold=threshold), tmp_path / "fused")
        return tmp_path

    return make
