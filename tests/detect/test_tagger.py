import random

import pytest
import torch
from transformers import AutoTokenizer, BertConfig

from mtfix.detect.encode import collate, encode
from mtfix.detect.tagger import ArtifactTagger, TaggerConfig, TaggerDetector, native_bf16, tagger_dtype
from mtfix.errors import InputError
from mtfix.text.tokens import tokenize
from mtfix.training.calibration import ece, fit_temperature
from mtfix.training.common import minilm_dir
from mtfix.training.tagger import labelled_windows


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(minilm_dir())


def tiny_model(window: int = 64) -> ArtifactTagger:
    torch.manual_seed(0)
    encoder = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128).to_dict()
    return ArtifactTagger(TaggerConfig(encoder=encoder, feature_dim=8, head_dim=16, window=window))


def test_windows_cover_every_word_of_a_long_segment(tokenizer):
    text = " ".join(f"word{i} and Explosion" for i in range(120))
    tokens = tokenize(text)
    windows = encode(tokenizer, text, tokens, window=64, overlap=8)
    assert len(windows) > 3 and all(len(w.input_ids) <= 64 for w in windows)
    covered = set()
    for w in windows:
        covered.update(range(w.lo, w.hi))
        assert w.input_ids[0] == tokenizer.cls_token_id and w.input_ids[-1] == tokenizer.sep_token_id
        assert all(0 < i < len(w.input_ids) - 1 for i in w.word_index)
    assert covered == set(range(len(tokens)))


def test_first_subword_positions_point_at_the_word(tokenizer):
    text = "The two guides met in Moscow."
    (w,) = encode(tokenizer, text, tokenize(text))
    pieces = tokenizer.convert_ids_to_tokens(w.input_ids)
    assert [pieces[i] for i in w.word_index] == ["the", "two", "guides", "met", "in", "moscow", "."]


def test_case_features_survive_the_uncased_encoder(tokenizer):
    a, b = "damaged in an explosion here", "damaged in an Explosion here"
    (wa,), (wb,) = encode(tokenizer, a, tokenize(a)), encode(tokenizer, b, tokenize(b))
    assert wa.input_ids == wb.input_ids  # the encoder cannot tell them apart
    assert wa.case != wb.case            # the features can


def test_tiny_tagger_learns_stray_capitals_and_round_trips_through_fp16(tokenizer, tmp_path):
    rng = random.Random(0)
    words = "the council said farmers would get water from the river in spring".split()
    rows = []
    for _ in range(64):
        ws = words[:]
        i = rng.randrange(1, len(ws))
        ws[i] = ws[i].capitalize()
        text = " ".join(ws)
        start = sum(len(w) + 1 for w in ws[:i])
        rows.append({"text": text, "source": "synthetic:casing",
                     "spans": [{"start": start, "end": start + len(ws[i]), "label": "casing", "fix": words[i],
                                "visible": True}]})
    windows = labelled_windows(rows, tokenizer, 1.0, window=64)
    model = tiny_model()
    ids = {id(p) for p in model.feature_parameters()}
    opt = torch.optim.AdamW([{"params": [p for p in model.parameters() if id(p) not in ids], "lr": 1e-3},
                             {"params": model.feature_parameters(), "lr": 1e-2}])
    model.train()
    for step in range(80):
        loss = model(**collate(windows[(step % 2) * 32:(step % 2) * 32 + 32])).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    text = "the council said Farmers would get water from the river in spring"
    found = {}
    for dtype in (torch.float32, torch.bfloat16):  # bf16: the default where the CPU computes it natively
        detector = TaggerDetector.load(str(tmp_path), dtype=dtype, threshold=0.5)
        assert detector.model.dtype == dtype
        (spans,) = detector.detect([text])
        assert [(s.start, s.end) for s in spans] == [(17, 24)]
        assert 0.5 <= spans[0].score <= 1.0
        found[dtype] = torch.tensor(detector.word_probabilities([text])[0])
    assert (found[torch.float32] - found[torch.bfloat16]).abs().max() < 0.03


def test_tagger_dtype_follows_the_environment_then_the_cpu(monkeypatch, tmp_path):
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        monkeypatch.setenv("MTFIX_TAGGER_DTYPE", name)
        assert tagger_dtype() == dtype
    monkeypatch.setenv("MTFIX_TAGGER_DTYPE", "fp16")
    with pytest.raises(InputError, match="MTFIX_TAGGER_DTYPE must be fp32 or bf16, not 'fp16'"):
        tagger_dtype()
    monkeypatch.delenv("MTFIX_TAGGER_DTYPE")
    for native, dtype in ((True, torch.bfloat16), (False, torch.float32)):
        monkeypatch.setattr("mtfix.detect.tagger.native_bf16", lambda native=native: native)
        assert tagger_dtype() == dtype


def test_native_bf16_reads_the_cpu_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu avx2 avx512f avx512_bf16 amx_tile\n")
    assert native_bf16(str(cpuinfo))
    cpuinfo.write_text("flags\t\t: fpu avx2 avx512f\n")
    assert not native_bf16(str(cpuinfo))
    assert not native_bf16(str(tmp_path / "missing"))


def test_long_input_is_not_truncated(tokenizer):
    detector = TaggerDetector(tiny_model(window=32), tokenizer, threshold=0.0)
    text = " ".join(["word"] * 200)
    (probs,) = detector.word_probabilities([text])
    assert len(probs) == 200
    (spans,) = detector.detect([text])
    assert spans[0].start == 0 and spans[-1].end == len(text)


def test_temperature_scaling_reduces_calibration_error():
    torch.manual_seed(0)
    labels = torch.randint(0, 2, (4000,))
    margin = (labels.float() * 2 - 1) * 1.0 + torch.randn(4000)
    logits = torch.stack([torch.zeros(4000), margin * 4], dim=1)  # over-confident by 4x
    t = fit_temperature(logits, labels)
    assert 1.7 < t < 2.5  # the true log-odds are 2x the margin: 4x / 2
    assert ece((logits / t).softmax(-1)[:, 1], labels) < ece(logits.softmax(-1)[:, 1], labels) / 2
