"""scripts/experiments/gate_fusion.py: the gate as the dev table applies it (the script itself runs on cached evidence,
outside the tests)."""
import argparse

import pytest
import torch

from ..conftest import load_script


@pytest.fixture(scope="module")
def gate():
    return load_script("gate_fusion")


def test_gated_words_keep_the_tagger_where_their_segment_is_quiet(gate):
    segment = torch.tensor([0, 0, 1, 1, 1, 2])
    tagger = torch.tensor([0.05, 0.08, 0.02, 0.30, 0.01, 0.11])
    fused = torch.tensor([0.90, 0.10, 0.60, 0.70, 0.20, 0.50])
    assert gate.segment_max(tagger, segment).tolist() == pytest.approx([0.08, 0.08, 0.30, 0.30, 0.30, 0.11])
    # segment 0 (highest 0.08) is left to the tagger; segment 1 (0.30) is not; segment 2 sits on the gate
    assert gate.gated(fused, tagger, segment, 0.11).tolist() == pytest.approx([0.05, 0.08, 0.6, 0.7, 0.2, 0.5])
    assert torch.equal(gate.gated(fused, tagger, segment, 0.0), fused)


def test_gate_list_reads_gates_and_refuses_the_rest(gate):
    assert gate.gate_list("0,0.1,0.25") == [0.0, 0.1, 0.25]
    for bad in ("0,x", "1", "-0.1", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            gate.gate_list(bad)


def test_write_stores_the_gate_and_refuses_one_above_the_threshold(gate, tmp_path, capsys):
    from mtfix.detect.fuse import FEATURES, FusionConfig, FusionHead, load_fusion, save_fusion

    save_fusion(FusionHead(len(FEATURES), 8), FusionConfig(hidden=8, threshold=0.35), tmp_path / "fused")
    evidence = tmp_path / "evidence.pt"
    torch.save({}, evidence)
    args = ["--model", str(tmp_path), "--cache", str(evidence), "--unused-dev", str(evidence)]
    assert gate.main(args + ["--write", "0.12"]) == 0
    assert load_fusion(tmp_path / "fused")[1].lm_gate == 0.12
    with pytest.raises(SystemExit):
        gate.main(args + ["--write", "0.5"])
    assert "--write must lie in [0, the threshold 0.350)" in capsys.readouterr().err
