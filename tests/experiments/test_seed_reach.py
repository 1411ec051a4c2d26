"""scripts/experiments/seed_reach.py: the word kinds and the surprisal rule its tables rest on (the script itself
reads the shipped models and the cached dev evidence, outside the tests)."""
import argparse

import pytest
import torch

from mtfix.detect.fuse import FEATURES
from mtfix.text.tokens import tokenize

from ..conftest import load_script


@pytest.fixture(scope="module")
def reach():
    return load_script("seed_reach")


def test_positions_count_from_each_segments_first_word(reach):
    groups = torch.tensor([4, 4, 4, 7, 9, 9])
    assert reach.positions(groups).tolist() == [0, 1, 2, 0, 0, 1]


def test_comparable_words_are_known_non_stop_and_not_initial(reach):
    tokens = tokenize("Reset the post. Growers reset zxqvbn posts")
    kinds = {tok.text + str(i): reach.comparable(tokens, i) for i, tok in enumerate(tokens)}
    assert kinds["Reset0"] == (2, False)      # sentence-initial
    assert kinds["the1"][1] is False          # a stop word
    assert kinds["post2"] == (1, True)
    assert kinds["Growers4"] == (2, False)    # initial after the full stop
    assert kinds["reset5"] == (1, True)
    assert kinds["zxqvbn6"][1] is False       # not in the lexicon


def rows(**columns):
    """Evidence rows with only the named FEATURES columns set."""
    n = len(next(iter(columns.values())))
    x = torch.zeros(n, len(FEATURES))
    for name, values in columns.items():
        x[:, FEATURES.index(name)] = torch.tensor(values, dtype=torch.float32)
    return x


def test_the_surprisal_rule_takes_lower_case_known_words_deep_enough_in(reach):
    x = rows(case_1=[1, 1, 0, 1, 1, 1, 1], stopword=[0, 0, 0, 1, 0, 0, 0], initial=[0, 0, 0, 0, 1, 0, 0],
             zipf=[4 / 9, 4 / 9, 4 / 9, 4 / 9, 4 / 9, 2 / 9, 4 / 9], surprisal=[18, 16, 18, 18, 18, 18, 18])
    groups = torch.tensor([0, 1, 1, 1, 1, 1, 1])
    # 0: first of its segment; 1: not surprising enough; 2: capitalised; 3: a stop word; 4: initial; 5: rare;
    # 6: taken, the sixth word of its segment
    assert reach.surprisal_rule(x, groups, 17.0, 0).tolist() == [True, False, False, False, False, False, True]
    assert reach.surprisal_rule(x, groups, 17.0, 5).tolist() == [False, False, False, False, False, False, True]
    assert reach.surprisal_rule(x, groups, 17.0, 6).tolist() == [False] * 7
    assert reach.surprisal_rule(x, groups, 15.0, 0).tolist() == [True, True, False, False, False, False, True]


def test_number_lists_refuse_what_is_not_a_number(reach):
    assert reach.number_list(float)("16,17.5") == [16.0, 17.5]
    assert reach.number_list(int)("0,8") == [0, 8]
    with pytest.raises(argparse.ArgumentTypeError):
        reach.number_list(int)("0,x")


def test_bad_arguments_end_in_one_line(reach, tmp_path, capsys):
    with pytest.raises(SystemExit):
        reach.main(["--lm", "gpt9", "--data", str(tmp_path)])
    assert "unknown language model 'gpt9'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        reach.main(["--data", str(tmp_path / "none")])
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        reach.main(["--data", str(tmp_path), "--floors", "17", "--cache", str(tmp_path / "ev.pt")])
    assert "ev.pt does not exist" in capsys.readouterr().err


def test_cohesion_is_higher_for_a_word_that_fits_its_line(reach):
    texts = ["Farmers picked ripe mangoes from the orchard trees",
             "Farmers picked ripe carburettors from the orchard trees"]
    spans = [(20, 27), (20, 32)]
    assert [t[s:e] for t, (s, e) in zip(texts, spans)] == ["mangoes", "carburettors"]
    fits, odd = reach.cohesion(texts, spans)
    assert -1.0 <= odd < fits <= 1.0
