"""scripts/experiments/sweep_fusion.py: the clean-news budget columns (the script itself runs on cached evidence,
outside the
tests)."""
import argparse

import pytest
import torch

from ..conftest import load_script


@pytest.fixture(scope="module")
def sweep():
    return load_script("sweep_fusion")


def test_budget_list_reads_numbers_and_refuses_the_rest(sweep):
    assert sweep.budget_list("1,3,10") == [1.0, 3.0, 10.0]
    for bad in ("1,x", "0", "1000", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            sweep.budget_list(bad)


def test_budget_columns_trade_clean_flags_for_mcc(sweep):
    # 1,000 clean words: ten of them look as suspicious as the BAD words (0.9), the rest 0.1
    news = torch.full((1000,), 0.1)
    news[:10] = 0.9
    gold = torch.tensor([True] * 50 + [False] * 50)
    probs = torch.where(gold, 0.9, 0.1)
    probs[50:55] = 0.5  # five OK words between the two
    cells = [c.strip() for c in sweep.budget_columns(probs, news, gold, [1.0, 20.0]).strip(" |").split("|")]
    # at 1 flag per 1,000 clean words the threshold rises above 0.9: nothing flagged, MCC 0
    assert cells[0] == "0.000"
    # at 20 per 1,000 every BAD word is flagged and the five middling OK words too
    flagged = probs >= 0.1 + 1e-6
    assert cells[1] == f"{sweep.word_mcc(flagged, gold):.3f}" and flagged.sum() == 55
    # the best over thresholds separates the classes perfectly (MCC 1) and costs the ten clean flags
    assert cells[2] == "1.000 at 10.0"


def test_grid_entries_weigh_mlqe_pe_or_each_family_named(sweep):
    assert sweep.family_weights(2) == {"mlqe-pe": 2.0}
    assert sweep.family_weights({"mlqe-pe": 3, "clean": 6}) == {"mlqe-pe": 3, "clean": 6}
    assert sweep.weighting_name(1.0, {"mlqe-pe": 3, "clean": 6}) == "invisible 1, MLQE-PE x3, clean x6"
    assert sweep.seed_list("13,14") == [13, 14]
    with pytest.raises(argparse.ArgumentTypeError):
        sweep.seed_list("13,x")


@pytest.mark.parametrize("argv, message", [
    (["--members", "0"], "--members must be at least 1"),
    (["--members", "4", "--seeds", "13,15"], "--seeds must lie at least 4 apart"),
    (["--stack", "-2"], "--stack: a width is 0 or more, not -2"),
    (["--stack-weight", '{"synthetic": 2}'], "--stack-weight needs --stack"),
    (["--head", "no-such-head"], "--head: no-such-head holds no fusion head"),
    (["--clean-flags", "-1"], "--clean-flags: flags per 1,000 words lie above 0 and below 1000, not -1"),
])
def test_members_are_checked_before_any_evidence_loads(sweep, monkeypatch, capsys, tmp_path, argv, message):
    monkeypatch.setattr("sys.argv", ["sweep_fusion.py", "--cache", str(tmp_path / "absent.pt"), *argv])
    with pytest.raises(SystemExit) as exit_:
        sweep.main()
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_stacked_heads_need_evidence_with_its_lines(sweep, monkeypatch, capsys, tmp_path):
    from mtfix.detect.fuse import FEATURES

    n = 6
    part = {"x": torch.zeros(n, len(FEATURES)), "y": torch.zeros(n), "invisible": torch.zeros(n, dtype=torch.bool),
            "segment": torch.tensor([0, 0, 0, 1, 1, 1])}  # collected before lines were recorded: no "line"
    torch.save({"train": part, "news": part, "family": ["clean", "clean"]}, tmp_path / "old.pt")
    monkeypatch.setattr("sys.argv", ["sweep_fusion.py", "--cache", str(tmp_path / "old.pt"), "--stack", "8"])
    with pytest.raises(SystemExit) as exit_:
        sweep.main()
    assert exit_.value.code == 2 and "holds no line numbers" in capsys.readouterr().err


def test_a_stacked_sweep_runs_on_evidence_with_lines_and_scores_synthetic_precision(sweep, monkeypatch, capsys,
                                                                                   tmp_path):
    from mtfix.detect.fuse import FEATURES

    g = torch.Generator().manual_seed(0)
    n_segments, words = 20, 5
    x = torch.randn(n_segments * words, len(FEATURES), generator=g)
    x[::words, 0] = 2.0  # every segment's first word BAD: the held-out synthetic segment has one to find
    part = {"x": x, "y": (x[:, 0] > 1.0).float(), "invisible": torch.zeros(len(x), dtype=torch.bool),
            "segment": torch.arange(n_segments).repeat_interleave(words), "line": torch.zeros(len(x), dtype=torch.long)}
    families = ["synthetic", "mlqe-pe", "clean", "apertium"] * (n_segments // 4)
    torch.save({"train": part, "news": part, "family": families}, tmp_path / "ev.pt")
    monkeypatch.setattr("sys.argv", ["sweep_fusion.py", "--cache", str(tmp_path / "ev.pt"), "--stack", "4",
                                     "--hidden", "4", "--grid", "[[1, 2]]", "--stack-weight", '{"synthetic": 2}'])
    sweep.main()
    header, _, _tagger, head = capsys.readouterr().out.strip().splitlines()
    assert "held-out dev synthetic recall | held-out dev synthetic MCC |" in header
    assert head.startswith("| invisible 1, MLQE-PE x2, stacked (4 hidden), second stage invisible 1, synthetic x2 |")
    assert all(-1.0 <= float(cell) <= 1.0 for cell in head.strip(" |").split("|")[1:])


def _saved_head(tmp_path):
    """Evidence (tmp_path/ev.pt: 8 segments of 5 words, the first BAD and its tagger column 1) and a saved head
    (tmp_path/head) whose second stage flags exactly the words the tagger column marks; the evidence's words."""
    from mtfix.detect.fuse import CONTEXT, FEATURES, FusionConfig, FusionHead, save_fusion

    n_segments, words = 8, 5
    x = torch.zeros(n_segments * words, len(FEATURES))
    x[::words, 0] = 1.0  # the first word of each segment BAD, and the tagger column says so
    part = {"x": x, "y": x[:, 0].clone(), "invisible": torch.zeros(len(x), dtype=torch.bool),
            "segment": torch.arange(n_segments).repeat_interleave(words), "line": torch.zeros(len(x), dtype=torch.long)}
    torch.save({"train": part, "news": {**part, "y": torch.zeros(len(x))}, "family": ["synthetic"] * n_segments},
               tmp_path / "ev.pt")
    second = FusionHead(len(FEATURES) + len(CONTEXT), 0)
    with torch.no_grad():  # the second stage reads the tagger column alone: flags exactly the BAD words
        second.nets[0].weight.zero_()
        second.nets[0].weight[0, 0] = 10.0
        second.nets[0].bias.fill_(-5.0)
    save_fusion(FusionHead(len(FEATURES), 4, second=second), FusionConfig(hidden=4, stack=0), tmp_path / "head")
    return part


def test_a_saved_head_is_scored_as_it_is_without_fitting_one(sweep, monkeypatch, capsys, tmp_path):
    from mtfix.detect.fuse import load_fusion

    _saved_head(tmp_path)
    assert load_fusion(tmp_path / "head")[1].stack == 0
    monkeypatch.setattr("sys.argv", ["sweep_fusion.py", "--cache", str(tmp_path / "ev.pt"), "--grid", "[]",
                                     "--head", str(tmp_path / "head"), "--clean-flags", "500"])
    sweep.main()
    header, _, _tagger, saved = capsys.readouterr().out.strip().splitlines()
    assert saved.startswith(f"| saved head {tmp_path / 'head'} |")
    assert [float(cell) for cell in saved.strip(" |").split("|")[1:]][1] == 1.0  # every held-out artifact found


def test_train_news_joins_the_budgets_pool(sweep, monkeypatch, capsys, tmp_path):
    part = _saved_head(tmp_path)
    x = part["x"]
    argv = ["sweep_fusion.py", "--cache", str(tmp_path / "ev.pt"), "--grid", "[]", "--head", str(tmp_path / "head"),
            "--clean-flags", "500", "--train-news"]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as exit_:
        sweep.main()
    assert exit_.value.code == 2 and "ev.news.pt does not exist" in capsys.readouterr().err
    # train news where every word reads like an artifact: with dev's 20% of such words, 60% of the pool; a budget
    # of 500 per 1,000 then puts the threshold above them all
    torch.save({"news": {**part, "x": torch.ones_like(x), "y": torch.zeros(len(x))}}, tmp_path / "ev.news.pt")
    sweep.main()
    saved = capsys.readouterr().out.strip().splitlines()[-1]
    assert [float(cell) for cell in saved.strip(" |").split("|")[1:]][1] == 0.0  # dev news alone: 1.0 (above)
