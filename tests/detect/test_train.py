import json

import datasets
import pytest
from transformers import AutoTokenizer, BertConfig, BertModel

from mtfix.cli import main
from mtfix.detect.tagger import TaggerDetector
from mtfix.training.common import minilm_dir

SENTENCE = "The council said farmers would get water from the river in spring."


def rows(n: int, source: str = "synthetic") -> list[dict]:
    """``n`` one-sentence rows: clean news and, every other row, a stray capital from ``source``."""
    out = []
    for i in range(n):
        if i % 2:
            out.append({"text": SENTENCE, "spans": [], "reference": SENTENCE, "source": "clean:abc-rural"})
        else:
            text = SENTENCE.replace("farmers", "Farmers")
            out.append({"text": text, "reference": SENTENCE, "source": f"{source}:casing",
                        "spans": [{"start": 17, "end": 24, "label": "casing", "fix": "farmers", "visible": True}]})
    return out


def test_mtfix_train_detector_end_to_end(tmp_path, capsys):
    data = tmp_path / "dataset"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows(40)),
                          "dev": datasets.Dataset.from_list(rows(20))}).save_to_disk(str(data))
    encoder = tmp_path / "encoder"
    BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                         max_position_embeddings=128)).save_pretrained(encoder)
    AutoTokenizer.from_pretrained(minilm_dir()).save_pretrained(encoder)
    out = tmp_path / "detector"
    code = main(["train", "detector", "--data", str(data), "--out", str(out), "--encoder", str(encoder),
                 "--mix", json.dumps({"clean": 20, "synthetic": 20}), "--epochs", "3", "--batch-size", "8",
                 "--lr-encoder", "1e-3", "--lr-features", "1e-2"])
    assert code == 0
    record = json.loads((out / "training.json").read_text())
    assert record["train_segments"] == 40 and record["temperature"] > 0 and 0 <= record["threshold"] <= 1
    assert record["config"]["device"] == "cpu" and record["steps"] == 15  # 40 one-sentence rows, batches of 8, 3 passes
    assert record["ece_after"] <= record["ece_before"] + 1e-6
    detector = TaggerDetector.load(str(out))
    assert detector.threshold == record["threshold"]
    (spans,) = detector.detect([SENTENCE.replace("farmers", "Farmers")])
    assert [(s.start, s.end) for s in spans] == [(17, 24)]
    assert "saved" in capsys.readouterr().err


def test_corrector_trains_on_exported_rows_with_a_given_pieces_model(tmp_path, tiny_models):
    """The rented-GPU path: the run's rows written to one file, then a run on exactly them that reuses an
    existing pieces model (no data set, no sentencepiece training)."""
    from mtfix.training.span_decoder import CorrectorTrainConfig, export_rows, read_rows, sampled_rows, train_corrector

    tagger, corrector = tiny_models
    data = tmp_path / "dataset"
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(rows(40)),
                               "dev": datasets.Dataset.from_list(rows(20))})
    dd.save_to_disk(str(data))
    config = CorrectorTrainConfig(data=str(data), out="", tagger=str(tagger), mix={"clean": 10, "synthetic": 12},
                                  dev_rows=3, d_model=32, heads=2, layers=1, ffn=64, epochs=1, batch_size=8)
    n_train, n_dev = export_rows(config, tmp_path / "rows.jsonl.xz")
    assert (n_train, n_dev) == (22, 6)  # dev_rows caps each family's dev draw
    train_rows, dev_rows = read_rows(tmp_path / "rows.jsonl.xz")
    _, _, want_train, want_dev = sampled_rows(datasets.load_from_disk(str(data)), config)
    assert train_rows == [{k: r[k] for k in ("text", "source", "spans")} for r in want_train]
    assert dev_rows == [{k: r[k] for k in ("text", "source", "spans")} for r in want_dev]
    config.data, config.rows, config.out = "", str(tmp_path / "rows.jsonl.xz"), str(tmp_path / "out")
    with pytest.raises(ValueError, match="pieces"):
        train_corrector(config, log=lambda msg: None)
    config.pieces = str(corrector / "pieces.model")
    record = train_corrector(config, log=lambda msg: None)
    assert record["steps"] >= 1 and record["train_spans"] > 0
    assert (tmp_path / "out" / "pieces.model").read_bytes() == (corrector / "pieces.model").read_bytes()
    assert json.loads((tmp_path / "out" / "training.json").read_text())["config"]["rows"] == config.rows


@pytest.mark.parametrize("script", ["detector", "corrector"])
@pytest.mark.parametrize(("device", "message"), [("tpu", "--device must be cpu or cuda, not 'tpu'"),
                                                 ("cuda", "--device cuda: this machine has no CUDA GPU")])
def test_train_refuses_a_device_it_cannot_use_in_one_line(script, device, message, tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", script, "--data", str(tmp_path / "dataset"), "--out", str(tmp_path / "out"),
              "--device", device])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("script", ["detector", "corrector"])
@pytest.mark.parametrize("mix", ["{bad", "[3]"])
def test_train_refuses_a_mix_that_is_not_a_json_object_in_one_line(script, mix, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", script, "--data", str(tmp_path / "dataset"), "--out", str(tmp_path / "out"), "--mix", mix])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --mix: not a JSON object: '{mix}'" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
