"""scripts/experiments/name_windows.py: which windows get a capitalised candidate, and the tables (reading the rows
needs the shipped models and the data set, outside the tests; the scoring is LanguageModelScorer.logprob_groups,
tested in tests/detect/test_lm.py)."""

import pytest

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
