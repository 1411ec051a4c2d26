"""scripts/experiments/clean_budget.py: how far the clean-news rate of a threshold fitted on one sample drifts
on another."""
import pytest
import torch

from ..conftest import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("clean_budget")


def test_rows_that_share_a_sentence_share_a_group(script):
    texts = ["The cattle sold well. Prices rose.",  # a two-sentence window
             "Prices rose.",                        # one of its sentences alone
             "Prices  rose. Rain fell.",            # the same sentence, spaced otherwise, in another window
             "Nothing else happened here."]
    groups = script.overlap_groups(texts)
    assert groups[0] == groups[1] == groups[2]
    assert groups[3] != groups[0]


def test_the_other_half_sees_the_drift_of_a_threshold_fitted_on_one_half(script):
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(20_000, generator=g)
    groups = torch.arange(20_000) // 10  # 2,000 groups of 10 words
    rates = script.held_out_rates(probs, groups, [3.0, 30.0], draws=40, seed=1)
    for b, values in rates.items():
        mean = sum(values) / len(values)
        assert len(values) == 40
        assert abs(mean - b) < 0.25 * b  # unbiased on the whole ...
        assert max(values) > b > min(values)  # ... but each half drifts either way
    assert max(rates[3.0]) - min(rates[3.0]) > 0.5


def test_a_budget_list_with_a_bad_entry_is_refused_in_one_line(script, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        script.main(["--cache", str(tmp_path / "ev.pt"), "--data", "d", "--head", "h", "--budgets", "2,x"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--budgets: not a number of flags per 1,000 words: 'x'" in err
    with pytest.raises(SystemExit) as exit_:
        script.main(["--cache", str(tmp_path / "ev.pt"), "--data", "d", "--head", "h"])
    assert exit_.value.code == 2 and "ev.pt does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        script.main(["--cache", str(tmp_path / "ev.pt"), "--data", "d", "--head", "h", "--draws", "0"])
    assert exit_.value.code == 2 and "--draws must be at least 1, not 0" in capsys.readouterr().err
