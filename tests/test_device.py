import pytest
import torch

from mtfix.cli import main
from mtfix.detect import Bounded
from mtfix.device import place, resolve
from mtfix.errors import InputError


def test_auto_is_the_cpu_where_there_is_no_gpu_and_a_gpu_where_there_is(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve("auto") == resolve(None) == "cpu" and resolve("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve("auto") == "cuda" and resolve("cuda:0") == "cuda:0"


def test_a_gpu_asked_for_where_there_is_none_is_a_one_line_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="no CUDA GPU"):
        resolve("cuda")
    with pytest.raises(InputError, match="auto, cpu or cuda"):
        resolve("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(InputError, match="1 CUDA GPU"):
        resolve("cuda:3")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    text = tmp_path / "a.txt"
    text.write_text("The two guides met.\n")
    for command in (["detect", "--method", "spell"], ["fix"]):
        assert main([*command, str(text), "--device", "cuda"]) == 1
        err = capsys.readouterr().err
        assert "no CUDA GPU" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


class Holder:  # a detector-like object of mtfix's, holding a model two levels down
    name = "holder"

    def __init__(self):
        self.tagger = type("Inner", (), {"__module__": "mtfix.fake"})()
        self.tagger.model = torch.nn.Linear(2, 2)
        self.foreign = {"weights": torch.nn.Linear(2, 2)}

    def detect(self, texts):
        return [[] for _ in texts]


Holder.__module__ = "mtfix.fake"


def test_place_moves_every_model_a_detector_holds():
    holder = Holder()
    place(Bounded(holder), "meta")  # a device every machine has: nothing is computed there
    assert holder.tagger.model.weight.device.type == "meta"
    assert holder.foreign["weights"].weight.device.type == "meta"
    outside = type("Outside", (), {})()  # not mtfix's: never walked into
    outside.model = torch.nn.Linear(2, 2)
    place(outside, "meta")
    assert outside.model.weight.device.type == "cpu"
