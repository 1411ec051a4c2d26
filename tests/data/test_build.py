import json

import pytest

from mtfix.data.build import BuildConfig, check_example, norm, run_build, sentences, split_of
from mtfix.data.examples import Example

from ..conftest import TEST_ONLY


@pytest.fixture(scope="module")
def built(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("built")
    config = BuildConfig(data_dir=data_dir, seed=5, apertium_per_pivot=20,
                         synthetic_per_split={"train": 40, "dev": 10, "test": 10})
    summary = run_build(config, out, None, "test", log=lambda msg: None)
    return out, summary, config


def test_build_writes_dataset_parquet_and_card(built):
    import datasets

    out, summary, _ = built
    dd = datasets.load_from_disk(str(out / "dataset"))
    assert set(dd) == {"train", "dev", "test"}
    assert dd["train"].column_names == ["text", "spans", "reference", "source"]
    for split in ("train", "dev", "test"):
        assert (out / "parquet" / f"{split}.parquet").exists()
    card = (out / "data.md").read_text()
    assert "## What each source cannot teach" in card and "## Twenty examples" in card
    assert json.loads((out / "summary.json").read_text())["train"]["segments"] == len(dd["train"])


def test_every_source_is_present_and_clean_text_is_at_least_half(built):
    import datasets

    out, summary, _ = built
    train = datasets.load_from_disk(str(out / "dataset"))["train"]
    families = {s.split(":")[0] for s in train["source"]}
    assert {"clean", "mlqe-pe", "apertium", "synthetic"} <= families
    assert summary["train"]["clean_share"] >= 0.5
    test_sources = set(datasets.load_from_disk(str(out / "dataset"))["test"]["source"])
    assert not any(s.startswith("apertium:") and s != "apertium:glg" for s in test_sources)
    assert not any(s == "apertium:glg" for s in train["source"])


def test_every_example_checks_out(built):
    import datasets

    out, _, _ = built
    for split, ds in datasets.load_from_disk(str(out / "dataset")).items():
        for row in ds:
            check_example(Example(row["text"], row["spans"], row["reference"], row["source"]))
            for span in row["spans"]:
                assert span["label"] and isinstance(span["visible"], bool)


def test_no_test_sentence_in_train_or_dev(built):
    import datasets

    out, summary, _ = built
    dd = datasets.load_from_disk(str(out / "dataset"))
    for split in ("train", "dev"):
        for row in dd[split]:
            assert norm(TEST_ONLY) not in (norm(row["text"]), norm(row["reference"]))
    assert summary["leaks"]["test_sentences_checked"] > 0


def test_build_is_reproducible(built, tmp_path):
    import datasets

    out, _, config = built
    run_build(config, tmp_path, None, "test", log=lambda msg: None)
    first = datasets.load_from_disk(str(out / "dataset"))["train"].to_list()
    again = datasets.load_from_disk(str(tmp_path / "dataset"))["train"].to_list()
    assert first == again


def test_check_example_refuses_bad_spans():
    with pytest.raises(ValueError, match="not the reference"):
        check_example(Example("two guides", [{"start": 4, "end": 10, "fix": "chiefs"}], "two leaders", "x"))
    with pytest.raises(ValueError, match="overlap"):
        check_example(Example("abcdef", [{"start": 0, "end": 3, "fix": "x"}, {"start": 2, "end": 4, "fix": "y"}],
                              "", "x"))


def test_sentence_splitting_and_stable_splits():
    assert sentences("Mr. Smith left. Then it rained! “Why?” she asked.") == \
        ["Mr. Smith left.", "Then it rained!", "“Why?” she asked."]
    assert split_of("Some sentence.") == split_of("some sentence")
