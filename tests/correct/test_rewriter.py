import random

import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from mtfix.correct.rewriter import (Rewriter, RewriterConfig, encode_pair, pairs_from_rows, prompt, save, target_loss,
                                    train)
from mtfix.detect.train import minilm_dir


def tiny_lm():
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())  # any fast tokenizer will do; its [SEP] ends a fix
    tokenizer.eos_token = "[SEP]"
    model = LlamaForCausalLM(LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
    return model, tokenizer


def test_the_prompt_marks_the_span_and_an_insertion_point():
    marked = prompt("a pariad here", 2, 8)
    assert "Text: a [[pariad]] here" in marked and "Marked: pariad" in marked
    assert "Text: two [[]]leaders" in prompt("two leaders", 4, 4)


def test_pairs_keep_visible_mlqe_spans_and_add_keep_examples():
    rows = [{"text": "a pariad here", "source": "synthetic:non-word",
             "spans": [{"start": 2, "end": 8, "label": "non-word", "fix": "pariah"}]},
            {"text": "he go home", "source": "mlqe-pe:ro-en",
             "spans": [{"start": 3, "end": 5, "label": "morphology", "fix": "goes", "visible": True},
                       {"start": 6, "end": 10, "label": "meaning", "fix": "house", "visible": False}]},
            {"text": "all is well", "source": "clean:abc", "spans": []}]
    pairs = pairs_from_rows(rows, random.Random(0), keep_share=0.0)
    targets = sorted(t for _, t in pairs)
    assert "pariah" in targets and "goes" in targets and "house" not in targets
    assert any(t in ("all", "is", "well", "all is", "is well") for t in targets)  # the clean row: a keep example


def test_training_lowers_the_target_loss_and_saved_adapters_reload_the_same(tmp_path):
    model, tokenizer = tiny_lm()
    pairs = [(prompt("a pariad here", 2, 8), "pariah"), (prompt("in one explosion", 3, 6), "an")] * 40
    eos = tokenizer.eos_token_id
    ids, start = encode_pair(tokenizer, *pairs[0], eos)
    batch = torch.tensor([ids])
    config = RewriterConfig(rank=4, alpha=8, lr=2e-2, batch_size=8, minutes=5, max_examples=240, seed=0, warmup=1)
    with torch.no_grad():
        before = target_loss(add_nothing(model), batch, torch.ones_like(batch), [start]).item()
    adapted = train(model, tokenizer, pairs, config, log=lambda _: None)
    with torch.no_grad():
        after = target_loss(adapted, batch, torch.ones_like(batch), [start]).item()
    assert after < before - 0.2 and config.examples_seen == 240 and config.steps == 30
    save(adapted, tmp_path / "rw", config)
    assert (tmp_path / "rw" / "adapter_model.safetensors").exists() and (tmp_path / "rw" / "rewriter.json").exists()
    first = Rewriter(adapted, tokenizer).nbest([("a pariad here", 2, 8), ("two leaders", 4, 4)], n=3)
    base, _ = tiny_lm()
    again = Rewriter.load(str(tmp_path / "rw"), base=base, tokenizer=tokenizer).nbest(
        [("a pariad here", 2, 8), ("two leaders", 4, 4)], n=3)
    assert len(first) == 2 and all(1 <= len(o) <= 3 for o in first)
    assert all(a[0] >= b[0] for o in first for a, b in [(o[i][1:], o[i + 1][1:]) for i in range(len(o) - 1)])
    assert [[t for t, _ in o] for o in first] == [[t for t, _ in o] for o in again]  # fp16 adapters: same choices


def add_nothing(model):
    """The base model seen through the same interface as an adapted one (get_base_model)."""
    class Plain:
        def get_base_model(self):
            return model
    return Plain()
