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
