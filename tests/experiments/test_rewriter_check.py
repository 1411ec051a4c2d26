"""scripts/experiments/rewriter_check.py: the third stage and the budget table it is judged by (collecting the scores
needs the shipped models and the data set, outside the tests)."""
import pickle
import random

import pytest

from ..conftest import load_script


@pytest.fixture(scope="module")
def check():
    return load_script("rewriter_check")


def records(n=400, seed=0):
    """Toy rows: clean news words with a keep log-probability near 0, synthetic BAD words the rewriter would
    change (keep far below 0) but the head finds only half suspicious, and a pivot swap row like them."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        p = [rng.uniform(0.0, 0.3) for _ in range(10)]
        out.append({"source": "clean:abc-rural", "p": p, "y": [0] * 10, "w": [1.0] * 10,
                    "keep": {j: rng.uniform(-1.5, 0.0) for j in range(10) if p[j] >= 0.03}})
        bad = {"p": [0.2, 0.01], "y": [1, 0], "w": [1.0, 1.0], "keep": {0: rng.uniform(-9.0, -6.0)}}
        out.append({"source": "synthetic:pivot", **bad})
        out.append({"source": "swap:pivot", **bad})
    return out


def test_the_stage_learns_that_a_word_the_rewriter_would_change_is_bad(check):
    weights, bias = check.fit(records())
    assert float(weights[1]) < 0  # the lower log P(keep), the higher P(BAD)
    row = records(1)[1]
    assert check.probabilities(row, (weights, bias))[0] > 0.9 > row["p"][0]
    assert check.probabilities(row, None) == row["p"]
    assert check.probabilities(row, (weights, bias))[1] == row["p"][1]  # a word the rewriter never read keeps its P


def test_measure_reads_the_budget_on_the_other_half(check):
    data = records()
    fitted, read = data[::2], data[1::2]
    head = check.measure(fitted, read, None, 10.0)
    assert head["news per 1k"] == pytest.approx(10.0, abs=5.0)
    assert head["synthetic"] == 0.0 and head["pivot"] == 0.0  # 0.2 sits under clean words as high as 0.3
    staged = check.measure(fitted, read, check.fit(fitted), 10.0)
    assert staged["synthetic"] == 1.0 and staged["pivot"] == 1.0
    assert staged["news per 1k"] == pytest.approx(10.0, abs=5.0)  # 2,000 clean words a half: a few either way


def test_report_writes_both_halves_at_both_budgets(check, tmp_path):
    path = tmp_path / "scores.pkl"
    with open(path, "wb") as f:
        pickle.dump({"screen": 0.03, "rows": records()}, f)
    out = tmp_path / "table.md"
    assert check.main(["--report", str(path), "--out", str(out)]) == 0
    table = out.read_text()
    assert table.count("| head + rewriter |") == 4 and table.count("| head |") == 4
    with pytest.raises(SystemExit):
        check.main([])
