"""A model folder's operating points live in one file (points.json), read by one function and written by one."""
import json
import shutil

import pytest

from mtfix.models import MODELS
from mtfix.points import DEFAULTS, FILE, POINTS, read_points, write_points


def test_the_shipped_folders_hold_their_points_in_points_json_and_nowhere_else():
    detector = read_points(MODELS / "detector")
    assert {"threshold", "fused_threshold", "alone", "review", "alone_review", "lm_gate", "follow_cut", "follow_low",
            "follow_high", "follow_siblings", "picky"} <= set(detector)
    # read in context a word has more evidence than read alone, so the same clean budget sits lower; in context the
    # threshold follows the document's MT probability, down where it reads as translated, up where it does not
    assert detector["review"] < detector["fused_threshold"] < detector["alone"]
    assert detector["follow_low"] < detector["fused_threshold"] < detector["follow_high"]
    assert {"min_score", "swap_score", "plain_min_score", "round_trip_min_score",
            "round_trip_swap_score"} <= set(read_points(MODELS / "corrector"))
    assert {"min_score", "swap_score"} <= set(read_points(MODELS / "rewriter"))
    legacy = {"detector/config.json": ("threshold",),
              "detector/fused/config.json": ("threshold", "lm_gate", "review_threshold", "alone_threshold",
                                             "alone_review_threshold"),
              "detector/document.json": ("follow",), "corrector/config.json": ("min_score",),
              "corrector/rerank.json": ("min_score", "swap_score"), "rewriter/rerank.json": ("min_score", "swap_score")}
    for file, keys in legacy.items():
        raw = json.loads((MODELS / file).read_text())
        assert not set(keys) & set(raw), file  # no second copy that could disagree


def test_a_folder_from_before_points_json_is_read_where_it_kept_them(tmp_path):
    (tmp_path / "fused").mkdir()
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mtfix-tagger", "threshold": 0.6}))
    (tmp_path / "fused" / "config.json").write_text(json.dumps({"threshold": 0.3, "review_threshold": 0.1,
                                                                "lm_gate": 0.15}))
    (tmp_path / "document.json").write_text(json.dumps({"follow": {"cut": 0.9, "low": 0.2}}))
    assert read_points(tmp_path) == {"threshold": 0.6, "fused_threshold": 0.3, "review": 0.1, "lm_gate": 0.15,
                                     "follow_cut": 0.9, "follow_low": 0.2, "picky": DEFAULTS["picky"]}
    decoder = tmp_path / "decoder"
    decoder.mkdir()
    (decoder / "config.json").write_text(json.dumps({"model_type": "mtfix-corrector", "min_score": 0.5}))
    (decoder / "rerank.json").write_text(json.dumps({"s2s": 1.0, "min_score": 0.85, "swap_score": 0.9}))
    assert read_points(decoder) == {"plain_min_score": 0.5, "min_score": 0.85, "swap_score": 0.9,
                                    "round_trip_min_score": 0.7, "round_trip_swap_score": 0.7}
    assert read_points(tmp_path / "nothing") == {} and read_points(None) == {}


def test_write_points_merges_removes_and_refuses_unknown_names(tmp_path):
    assert write_points(tmp_path, min_score=0.5, swap_score=0.7) == {"min_score": 0.5, "swap_score": 0.7}
    assert write_points(tmp_path, swap_score=None, min_score=0.4) == {"min_score": 0.4}
    assert json.loads((tmp_path / FILE).read_text()) == {"min_score": 0.4}
    with pytest.raises(ValueError, match="unknown operating point 'min_scor'"):
        write_points(tmp_path, min_scor=0.3)


def test_the_loaders_read_the_points_that_calibrate_sets(tiny_models, tmp_path, capsys):
    from mtfix.correct.base import Rerank
    from mtfix.correct.span_decoder import bars
    from mtfix.detect.tagger import TaggerDetector
    from mtfix.training.calibrate import main

    tagger = tmp_path / "tagger"
    shutil.copytree(tiny_models[0], tagger)
    assert main([str(tagger), "--set", "threshold=0.9"]) == 0
    assert TaggerDetector.load(str(tagger)).threshold == 0.9
    assert TaggerDetector.load(str(tagger), threshold=0.2).threshold == 0.2  # a threshold given wins
    assert "threshold" in capsys.readouterr().out
    Rerank(s2s=2.0, min_score=0.6, swap_score=0.8).save(tmp_path / "rerank.json")
    assert "min_score" not in json.loads((tmp_path / "rerank.json").read_text())
    assert read_points(tmp_path)["swap_score"] == 0.8
    main([str(tmp_path), "--set", "min_score=0.3", "--set", "swap_score=none"])
    loaded = Rerank.load(tmp_path / "rerank.json")
    assert (loaded.s2s, loaded.min_score, loaded.swap_score) == (2.0, 0.3, None)
    main([str(tmp_path), "--set", "follow_siblings=12"])
    assert read_points(tmp_path)["follow_siblings"] == 12
    main([str(tmp_path), "--set", "follow_score=0.35"])
    loaded = Rerank.load(tmp_path / "rerank.json")
    assert loaded.follow_score == 0.35 and "follow_score" not in json.loads((tmp_path / "rerank.json").read_text())
    assert bars(loaded, None, None) == (0.3, None, 0.35)  # the bar in translated documents, unless a bar is given
    assert bars(loaded, 0.5, None) == (0.5, None, None) and bars(loaded, None, 0.7) == (0.3, 0.7, None)
    assert bars(None, None, None, 0.6) == (0.6, None, None)  # no reranker: the decoder's plain bar


def test_calibrate_refuses_bad_points_in_one_line(tmp_path, capsys):
    from mtfix.cli import main

    for bad, message in (("min_score=2", "is a probability"), ("nope=0.1", "NAME one of"),
                         ("picky=0", "a factor on the threshold"), ("lm_gate=x", "expected a number"),
                         ("follow_siblings=0.5", "whole number from 1 to 40"), ("follow_siblings=0", "from 1 to 40")):
        with pytest.raises(SystemExit) as exit:
            main(["train", "calibrate", str(tmp_path), "--set", bad])
        assert exit.value.code == 2 and message in capsys.readouterr().err
    assert main(["train", "calibrate", str(tmp_path / "missing")]) == 1
    assert capsys.readouterr().err.strip() == f"mtfix: {tmp_path / 'missing'} is not a folder"
    assert main(["train", "calibrate", str(tmp_path)]) == 1  # an empty folder holds no points
    assert set(POINTS) >= {"picky", "round_trip_min_score"}


def test_fused_points_follow_the_head_folder(tmp_path):
    """A head inside a detector folder (FOLDER/fused) keeps its points in FOLDER/points.json; a head of its own
    keeps them in its config."""
    from mtfix.detect.fuse import FEATURES, FusionConfig, FusionHead, load_config, save_fusion

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mtfix-tagger"}))
    save_fusion(FusionHead(len(FEATURES), 8), FusionConfig(hidden=8, threshold=0.3, review_threshold=0.1),
                tmp_path / "fused")
    assert "threshold" not in json.loads((tmp_path / "fused" / "config.json").read_text())
    assert read_points(tmp_path) == {"fused_threshold": 0.3, "review": 0.1, "lm_gate": 0.0}
    write_points(tmp_path, fused_threshold=0.25)
    assert load_config(tmp_path / "fused").threshold == 0.25
    save_fusion(FusionHead(len(FEATURES), 8), FusionConfig(hidden=8, threshold=0.4), tmp_path / "alone")
    assert json.loads((tmp_path / "alone" / "config.json").read_text())["threshold"] == 0.4
    assert load_config(tmp_path / "alone").threshold == 0.4
