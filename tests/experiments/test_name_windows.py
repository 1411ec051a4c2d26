"""scripts/experiments/name_windows.py: which windows get a capitalised candidate, the likelihood it is scored by,
and the tables (reading the rows needs the shipped models and the data set, outside the tests)."""
import math

import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from mtfix.detect.train import minilm_dir

from ..conftest import load_script


@pytest.fixture(scope="module")
def windows():
    return load_script("name_windows")


def test_a_lower_case_word_after_a_name_and_a_lower_case_pair_get_capitals(windows):
    text = "He read the Finance times on Monday. The white house said so."
    got = [(text[s:e], r) for s, e, r in windows.windows(text)]
    assert ("times", "Times") in got and ("white house", "White House") in got
    assert all(not r.startswith("The") for _, r in got)  # function words and sentence starts are left alone
    assert ("read", "Read") not in got  # after "He", a sentence's first word: not a name


def test_log_likelihoods_score_the_text_after_the_prefix():
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2)).eval()
    script = load_script("name_windows")
    short, longer = script.log_likelihoods(model, tokenizer, "Rain fell.", ["farms", "farms were dry"])
    alone = script.log_likelihoods(model, tokenizer, "", ["farms"])[0]
    assert longer < short < 0 and alone < 0 and not math.isclose(alone, short)  # padding changes nothing else
    assert script.log_likelihoods(model, tokenizer, "Rain fell.", ["farms"])[0] == pytest.approx(short, abs=1e-4)


def test_report_matches_the_clean_budget_of_head_and_windows_together(windows):
    news = [{"source": "clean:abc-rural", "p": [0.1, 0.9 if k == 0 else 0.2], "y": [0, 0],
             "words": [(0, 3), (4, 8)], "windows": [(0, 3, 5.0 if k < 2 else -3.0)]} for k in range(500)]
    calque = {"source": "synthetic:calque", "p": [0.1, 0.1], "y": [1, 0], "words": [(0, 3), (4, 8)],
              "windows": [(0, 3, 9.0)]}
    table = windows.report({"rows": news + [calque], "threshold": 0.5})
    assert "| shipped head at 0.500 | 1.00 | 0.000 |" in table  # one clean word of 1,000 flagged by the head
    # no clean word allowed (0.5 of 1,000 words): above the best clean window's 5 nats, which the calque's 9 pass
    assert "| windows alone, gain >= 5.00 nats | 0.00 | 1.000 |" in table
    assert "| windows alone, gain >= -3.00 nats | 2.00 | 1.000 |" in table  # 2 per 1,000: every clean window
    assert "| head at 0.500 + windows >= 5.00 nats | 1.00 | 1.000 |" in table  # found at no clean cost
