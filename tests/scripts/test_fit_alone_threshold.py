"""scripts/fit_alone_threshold.py: the threshold for text read alone, fitted on the head's clean news read alone."""
import json

import pytest
import torch

from mtfix.detect.fuse import FEATURES, FusionConfig, FusionHead, load_config, save_fusion

from ..conftest import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("fit_alone_threshold")


def head_folder(tmp_path, context):
    folder = tmp_path / "detector"
    torch.manual_seed(0)
    save_fusion(FusionHead(len(FEATURES), 8), FusionConfig(hidden=8, threshold=0.99, context=context),
                folder / "fused", {"config": {"clean_flags_per_1k": 20.0, "context": context, "seed": 3, "out": "x"}})
    return folder


def test_the_threshold_keeps_the_news_read_alone_at_the_heads_budget_and_is_written(script, tmp_path, monkeypatch,
                                                                                    capsys):
    folder = head_folder(tmp_path, context=2)
    g = torch.Generator().manual_seed(1)
    news = {"x": torch.rand(5_000, len(FEATURES), generator=g) * 4 - 2, "segment": torch.arange(5_000) // 25,
            "line": torch.zeros(5_000, dtype=torch.long)}
    seen = []
    monkeypatch.setattr("mtfix.training.fusion.news_alone_evidence",
                        lambda config, log, detector: seen.append(config) or news)
    assert script.main(["--data", "d", "--model", str(folder), "--cache", str(tmp_path / "c.pt"), "--write"]) == 0
    config = load_config(folder / "fused")
    assert seen[0].seed == 3 and seen[0].data == "d" and seen[0].context == 2  # the head's own draw
    from mtfix.detect.fuse import load_fusion
    from mtfix.training.fusion import news_probabilities

    head, _ = load_fusion(folder / "fused")
    flagged = int((news_probabilities(head, config, news) >= config.alone_threshold).sum())
    assert flagged == 100  # 20 per 1,000 of 5,000 words
    assert config.threshold == 0.99 and "written to" in capsys.readouterr().out


def test_a_head_without_context_or_a_record_is_a_one_line_error(script, tmp_path):
    folder = head_folder(tmp_path, context=0)
    with pytest.raises(SystemExit, match="reads every segment alone"):
        script.main(["--data", "d", "--model", str(folder)])
    (folder / "fused" / "training.json").unlink()
    with pytest.raises(SystemExit, match="training.json is missing"):
        script.main(["--data", "d", "--model", str(folder)])
    assert json.loads((folder / "fused" / "config.json").read_text()).get("alone_threshold") is None
