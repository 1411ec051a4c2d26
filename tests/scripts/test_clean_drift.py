"""scripts/clean_drift.py: a threshold fitted on one source of clean news, read on the others."""
from pathlib import Path

import pytest
import torch

from ..conftest import load_script

HEAD = Path(__file__).resolve().parents[2] / "models" / "detector" / "fused"


@pytest.fixture(scope="module")
def script():
    return load_script("clean_drift")


def test_a_threshold_fitted_on_calm_news_flags_more_of_a_noisier_source(script):
    g = torch.Generator().manual_seed(0)
    calm = torch.rand(10_000, generator=g) * 0.9           # nothing above 0.9
    noisy = 0.3 + torch.rand(10_000, generator=g) * 0.7     # a tenth above 0.93
    probs = torch.cat([calm, noisy])
    sources = ["rural"] * 10_000 + ["speeches"] * 10_000
    rates, words, worst = script.drift(probs, sources, shipped=0.95, per_1k=2.0)
    t, per_source = rates["rural"]
    assert words == {"rural": 10_000, "speeches": 10_000}
    assert abs(per_source["rural"] - 2.0) <= 0.1          # fitted there: the budget
    assert per_source["speeches"] > 50 and worst == per_source["speeches"]
    t2, per_source2 = rates["speeches"]
    assert t2 > t and abs(per_source2["speeches"] - 2.0) <= 0.1 and per_source2["rural"] == 0.0
    shipped = rates["shipped"]
    assert shipped[0] == 0.95 and shipped[1]["rural"] == 0.0 and shipped[1]["speeches"] > 0


def test_missing_inputs_are_one_line_errors(script, capsys, tmp_path):
    (tmp_path / "head").mkdir()
    with pytest.raises(SystemExit) as exit_:
        script.main(["--head", str(tmp_path / "head"), "--evidence", str(tmp_path / "ev.pt"), "--data", "d"])
    assert exit_.value.code == 2 and "--head: no fusion head at" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        script.main(["--head", str(HEAD), "--evidence", str(tmp_path / "ev.pt"), "--data", "d"])
    assert exit_.value.code == 2 and "--evidence: no such file at" in capsys.readouterr().err
