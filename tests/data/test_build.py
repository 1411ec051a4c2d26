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


def test_each_sentence_of_running_text_knows_the_sentences_before_it():
    from mtfix.data.build import Doc, contexts_of, previous_sentences

    docs = [Doc(["The rain came.", "Farmers were glad.", "The river rose.", "Roads closed."], "clean:abc-rural",
                "train"),
            Doc(["Unrelated one.", "Unrelated two."], "clean:wikipedia", "train"),
            Doc(["The rain came.", "A second document repeats it."], "clean:state-union", "dev")]
    previous = previous_sentences(docs, 2)
    assert previous[norm("Roads closed.")] == "Farmers were glad. The river rose."
    assert previous[norm("Farmers were glad.")] == "The rain came."
    assert norm("The rain came.") not in previous  # a document's first sentence has none
    assert norm("Unrelated two.") not in previous  # Wikipedia's sentences are not running text
    assert previous[norm("A second document repeats it.")] == "The rain came."
    assert previous_sentences(docs, 1)[norm("Roads closed.")] == "The river rose."
    rows = [{"text": "The river rise. Roads closed.", "reference": "The river rose. Roads closed."},  # a window
            {"text": "Roads closed.", "reference": ""},            # clean rows: the text is the reference
            {"text": "Unrelated two.", "reference": "Unrelated two."}]
    assert contexts_of(rows, previous) == ["The rain came. Farmers were glad.", "Farmers were glad. The river rose.",
                                           ""]


def test_fusion_rows_are_read_after_their_documents_sentences_when_asked(monkeypatch):
    from mtfix.data.build import Doc
    from mtfix.training.evidence import FusionTrainConfig, row_contexts

    monkeypatch.setattr("mtfix.data.build.documents", lambda data_dir: [
        Doc(["The rain came.", "Farmers were glad."], "clean:abc-rural", "train")])
    rows = [{"text": "Farmers were glad.", "reference": "Farmers were glad."}]
    assert row_contexts(FusionTrainConfig(data="d", tagger="t", out="o"), rows) is None  # context 0: alone
    assert row_contexts(FusionTrainConfig(data="d", tagger="t", out="o", context=2), rows) == ["The rain came."]


def test_a_damaged_rows_context_carries_artifacts_of_its_own_and_a_clean_rows_does_not():
    from mtfix.data.build import damaged, sentences
    from mtfix.data.corrupt import Resources

    resources = Resources(lambda w: {}, lambda w: 3.0 if w.isalpha() else 0.0, ["confidante"])
    context = "The two leaders met at noon today. The river rose quickly after the rain."
    rows = [{"text": "Farmers were glad.", "source": "clean:abc-rural"},
            {"text": "Farmers were glda.", "source": "synthetic:non-word"},
            {"text": "Nothing before it.", "source": "synthetic:casing"}]
    out = damaged([context, context, ""], rows, 1.0, seed=3, resources=resources)
    assert out[0] == context and out[2] == ""  # a clean document stays clean; no context, none made
    assert out[1] != context and len(sentences(out[1])) == 2
    changed = [a != b for a, b in zip(sentences(out[1]), sentences(context))]
    assert all(changed)  # rate 1: every sentence before it carries an artifact
    assert damaged([context, context, ""], rows, 1.0, seed=3, resources=resources) == out  # seeded by the row
    assert damaged([context], rows[1:2], 0.0, resources=resources) == [context]


def test_fusion_rows_contexts_are_damaged_when_asked(monkeypatch):
    from mtfix.data.build import Doc
    from mtfix.data.corrupt import Resources
    from mtfix.training.evidence import FusionTrainConfig, row_contexts

    monkeypatch.setattr("mtfix.data.build.documents", lambda data_dir: [
        Doc(["The two leaders met at noon today.", "Farmers were glad."], "clean:abc-rural", "train")])
    monkeypatch.setattr("mtfix.data.build.default_resources", lambda lm=False: Resources(
        lambda w: {}, lambda w: 3.0 if w.isalpha() else 0.0, ["confidante"]))
    rows = [{"text": "Farmers were glda.", "reference": "Farmers were glad.", "source": "synthetic:non-word"}]
    config = FusionTrainConfig(data="d", tagger="t", out="o", context=2, damage=1.0)
    (context,) = row_contexts(config, rows)
    assert context != "The two leaders met at noon today." and context.count(" ") >= 5
