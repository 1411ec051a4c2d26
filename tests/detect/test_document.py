"""The document's MT probability: tallies that add, the head, and every output that carries it."""
import json
import math
import shutil

import pytest

from mtfix.detect.document import FAST_FEATURES, FEATURES, DocumentHead, Tally, features, load_heads, save_heads, tally
from mtfix.text.tokens import tokenize

from ..clean_helpers import run
from ..conftest import CLEAN


def head(names=FAST_FEATURES, centre=0.2, scale=0.1):
    """A head that reads the mean word probability only: P = sigmoid(3 (mean_p - centre) / scale)."""
    weights = tuple(3.0 if n == "mean_p" else 0.0 for n in names)
    return DocumentHead(tuple(names), tuple(centre if n == "mean_p" else 0.0 for n in names),
                        tuple(scale if n == "mean_p" else 1.0 for n in names), weights, 0.0)


def test_a_tally_counts_words_not_punctuation_and_tallies_add():
    text = "The two guides , who met , left ."
    tokens = tokenize(text)
    probs = [0.05, 0.2, 0.95, 0.0, 0.4, 0.6, 0.0, 0.1, 0.0]
    t = tally(tokens, probs, surprisal=[3.0] * 9, entropy=[2.0] * 9)
    assert (t.words, t.p10, t.p30, t.p50, t.p90) == (6, 5, 3, 2, 1)
    assert t.p == pytest.approx(0.05 + 0.2 + 0.95 + 0.4 + 0.6 + 0.1) and t.lm_words == 6
    assert t.surprisal == pytest.approx(18.0) and t.surprising == 0
    half = tally(tokens[:4], probs[:4]) + tally(tokens[4:], probs[4:])
    assert half.words == 6 and half.p == pytest.approx(t.p) and half.lm_words == 0  # no LM read: none counted
    assert Tally.from_json(json.loads(json.dumps(t.to_json()))) == t
    x = features(t)
    assert set(FEATURES) <= set(x) and x["mean_p"] == pytest.approx(t.p / 6) and x["log_words"] == math.log1p(6)


def test_the_head_rises_with_the_evidence_and_survives_saving(tmp_path):
    h = head(FEATURES)
    low = h.probability(Tally(words=10, p=0.5))
    high = h.probability(Tally(words=10, p=5.0))
    assert 0 < low < 0.5 < high < 1 and h.probability(Tally()) is None
    save_heads({"fused": h, "fast": head()}, tmp_path)
    loaded = load_heads(tmp_path)
    assert loaded["fused"].probability(Tally(words=10, p=5.0)) == high and set(loaded) == {"fused", "fast"}
    assert load_heads(tmp_path / "elsewhere") == {}


def test_fit_head_separates_and_measure_reports_auc_per_family():
    from mtfix.training.document import Doc, fit_head, measure

    rows = []
    for k in range(30):
        for family, p in (("clean", 0.02), ("synthetic", 0.3), ("mqm", 0.12)):
            doc = Doc(f"{family}{k}", family, "clean:abc-science" if family == "clean" else family, "fit", ["x"] * 4)
            rows.append((doc, 4, Tally(words=40, p=40 * (p + 0.001 * k), p50=int(40 * p))))
    fitted = fit_head(rows, FAST_FEATURES)
    report = measure(fitted, rows)
    assert report["documents"]["synthetic"] == 1.0 and report["documents"]["mqm"] == 1.0
    assert report["count"]["clean"] == 30 and 0 <= report["ece"] < 0.5
    assert fitted.probability(rows[0][2]) < 0.5 < fitted.probability(rows[1][2])


@pytest.fixture
def fast_folder(tiny_models, tmp_path):
    """The tiny tagger with a document head for --fast."""
    folder = tmp_path / "tagger"
    shutil.copytree(tiny_models[0], folder)
    save_heads({"fast": head(centre=0.5, scale=0.3)}, folder)  # the tiny tagger's words sit near 0.5
    return folder


def expected(folder, lines):
    """The head's probability of ``lines`` read as one document, from the tagger's own word probabilities."""
    from mtfix.detect.tagger import TaggerDetector

    tagger = TaggerDetector.load(str(folder))
    total = Tally()
    for line, probs in zip(lines, tagger.word_probabilities(lines)):
        total = total + tally(tokenize(line), probs)
    return round(load_heads(folder)["fast"].probability(total), 4)


def test_detect_gives_a_text_file_one_probability_and_each_jsonl_record_its_own(fast_folder, tmp_path, capsys):
    lines = CLEAN[:3]
    text = tmp_path / "in.txt"
    text.write_text("\n".join(lines) + "\n")
    code, out, _ = run(capsys, "detect", text, "--fast", "--model", fast_folder, "--format", "jsonl",
                       "--batch-size", 2)
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and len(rows) == 3
    assert {r["mt_probability"] for r in rows} == {expected(fast_folder, lines)}  # across batches: one document
    code, out, _ = run(capsys, "detect", text, "--fast", "--model", fast_folder, "--format", "jsonl", "--alone")
    alone = [json.loads(x)["mt_probability"] for x in out.splitlines()]
    assert alone == [expected(fast_folder, [line]) for line in lines]
    records = tmp_path / "in.jsonl"
    records.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(lines)))
    code, out, _ = run(capsys, "detect", records, "--fast", "--model", fast_folder, "--format", "jsonl")
    assert [json.loads(x)["mt_probability"] for x in out.splitlines()] == alone
    code, out, _ = run(capsys, "detect", text, "--fast", "--model", fast_folder)
    assert out.splitlines()[0].startswith("this document reads as") and "P(machine-translated) = " in out
    assert out.count("P(machine-translated)") == 1
    code, out, _ = run(capsys, "detect", text, "--method", "spell", "--format", "jsonl")
    assert code == 0 and all("mt_probability" not in json.loads(x) for x in out.splitlines())


def test_a_segment_read_in_pieces_is_tallied_whole(fast_folder):
    from mtfix.detect import get_detector

    detector = get_detector("model", model_path=str(fast_folder))
    long = " ".join(CLEAN * 12)  # over MAX_PIECE characters: read sentence group by group
    tallies = []
    detector.detect([long, CLEAN[0]], tallies=tallies)
    words = [t for t in tokenize(long) if t.text.isalpha()]
    assert len(tallies) == 2 and tallies[0].words >= len(words) and tallies[1].words == len(CLEAN[0].split())


def test_clean_carries_it_and_filters_on_it(fast_folder, tmp_path, capsys):
    from mtfix.clean import CleanConfig, clean

    lines = CLEAN[:5]
    text = tmp_path / "in.txt"
    text.write_text("\n".join(lines) + "\n")
    summary = clean(CleanConfig(input=str(text), output=str(tmp_path / "out.jsonl"), fast=True,
                                model=str(fast_folder), chunk_size=2))
    rows = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert {r["mt_probability"] for r in rows} == {expected(fast_folder, lines)}  # across chunks: one document
    assert sum(summary["mt_probability"]) == 1 and summary["document_mt_probability"] == rows[0]["mt_probability"]
    assert "machine translation" in (tmp_path / "out.jsonl.summary.html").read_text()
    records = tmp_path / "in.jsonl"
    records.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(lines)))
    probs = [expected(fast_folder, [line]) for line in lines]
    limit = sorted(probs)[2]
    summary = clean(CleanConfig(input=str(records), output=str(tmp_path / "f.jsonl"), fast=True,
                                model=str(fast_folder), policy="filter", max_mt_probability=limit, max_density=100))
    kept = [json.loads(x) for x in (tmp_path / "f.jsonl").read_text().splitlines()]
    gone = [json.loads(x) for x in (tmp_path / "f.filtered.jsonl").read_text().splitlines()]
    assert [r["mt_probability"] for r in kept] == [p for p in probs if p <= limit]
    assert [r["mt_probability"] for r in gone] == [p for p in probs if p > limit]
    assert summary["written"] == len(kept) and summary["filtered"] == len(gone) >= 1 and len(set(probs)) > 1
    assert sum(summary["mt_probability"]) == 5
    for extra, message in (([], "give --policy filter"), (["--policy", "filter", "--method", "spell"],
                                                          "needs a detector with a document head")):
        code, _, err = run(capsys, "clean", records, "-o", tmp_path / "x.jsonl", "--max-mt-probability", 0.5,
                           "--model", fast_folder, *extra)
        assert code == 1 and message in err
    code, _, err = run(capsys, "clean", records, "-o", tmp_path / "x.jsonl", "--max-mt-probability", 1.5)
    assert code == 1 and "is a probability" in err


def test_the_server_answers_the_documents_probability(fast_folder):
    import mtfix
    from mtfix.serve.app import Checker

    checker = Checker(mtfix.load(fast=True, model=str(fast_folder)), fix=False)
    found = checker(CLEAN[:2], False)
    assert [len(x) for x in found] == [3, 3]
    assert checker.mt_probability([t for _, _, t in found]) == expected(fast_folder, CLEAN[:2])


def test_the_check_answer_carries_the_requests_probability_from_all_its_lines():
    from starlette.testclient import TestClient

    from mtfix.serve.app import build_app

    class Counting:
        def __call__(self, texts, picky, requests=None):
            return [([], [], Tally(words=len(t.split()))) for t in texts]

        def mt_probability(self, tallies):
            return sum(t.words for t in tallies) / 100

    client = TestClient(build_app(Counting()))
    answer = client.post("/v2/check", data={"language": "en-US", "text": "one two three\n\nfour five"}).json()
    assert answer["mtfix"] == {"mt_probability": 0.05} and answer["matches"] == []


def test_documents_are_also_read_at_their_first_lines():
    from mtfix.training.document import Doc, examples

    doc = Doc("d", "clean", "clean:abc-rural", "fit", ["a"] * 5)
    read = {"d": {"fast": [Tally(words=k + 1, p=0.1).to_json() for k in range(5)]}}
    sizes = [(n, t.words) for _, n, t in examples([doc], read, "fast")]
    assert sizes == [(1, 1), (2, 3), (4, 10), (5, 15)]  # 1, 2, 4 lines and the whole; no 8 in five lines


@pytest.mark.parametrize("what", ["document", "classes"])
def test_every_trainer_prints_its_help(what, capsys):
    from mtfix.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["train", what, "--help"])
    assert stop.value.code == 0 and f"mtfix train {what}" in capsys.readouterr().out


@pytest.fixture
def fused_folder(fused_at):
    """A tiny fused detector whose own threshold flags no word (0.99)."""
    return fused_at(0.99)


@pytest.mark.parametrize("translated", [True, False])
def test_the_default_threshold_follows_the_document(fused_folder, scorer, monkeypatch, translated):
    from mtfix.detect import get_detector
    from mtfix.detect.document import Follow

    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)
    sure = DocumentHead(("log_words",), (0.0,), (1.0,), (0.0,), 30.0 if translated else -30.0)
    save_heads({"fused": sure}, fused_folder, Follow(cut=0.9, low=0.0))
    texts = CLEAN[:2]
    followed = get_detector("fused", model_path=str(fused_folder)).detect(texts, prior=Tally())
    assert all(followed) is translated  # from 0 in a translated document: every word; else 0.99: none
    alone = get_detector("fused", model_path=str(fused_folder)).detect(texts)  # each text its own document
    assert alone == followed
    fixed = get_detector("fused", threshold=0.99, model_path=str(fused_folder)).detect(texts, prior=Tally())
    assert fixed == [[], []]  # an operating point given: it stands
    unfollowed = get_detector("fused", model_path=str(fused_folder), follow=False).detect(texts, prior=Tally())
    assert unfollowed == [[], []]
    read_alone = get_detector("fused", model_path=str(fused_folder), alone=True).detect(texts, prior=Tally())
    assert read_alone == [[], []]  # fitted on text read in context: text read alone keeps its own threshold


def test_the_threshold_rises_in_a_document_that_does_not_read_as_translated(fused_at, scorer, monkeypatch):
    from mtfix.detect import get_detector
    from mtfix.detect.document import Follow, load_follow

    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)
    folder = fused_at(0.0)  # its own threshold flags every word
    texts = CLEAN[:2]
    for translated in (True, False):
        sure = DocumentHead(("log_words",), (0.0,), (1.0,), (0.0,), 30.0 if translated else -30.0)
        save_heads({"fused": sure}, folder, Follow(cut=0.9, low=0.0, high=1.0))
        found = get_detector("fused", model_path=str(folder)).detect(texts, prior=Tally())
        assert all(found) if translated else found == [[], []]  # under the cut: from 1.0, which no word reaches
        given = get_detector("fused", threshold=0.0, model_path=str(folder)).detect(texts, prior=Tally())
        assert all(given)  # an operating point given stands in either
    assert load_follow(folder) == Follow(0.9, 0.0, 1.0)


def test_where_the_threshold_follows_the_detector_tries_the_follow_points_siblings(fused_at, scorer, monkeypatch):
    """The follow point was fitted on evidence that tries its number of pivot siblings; every other operating point
    on the generator's own three."""
    from mtfix.detect import get_detector
    from mtfix.detect.document import Follow, load_follow

    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)
    folder = fused_at(0.5)
    save_heads({"fused": head(FEATURES)}, folder, Follow(cut=0.9, low=0.1, high=0.6, siblings=40))
    assert load_follow(folder) == Follow(0.9, 0.1, 0.6, 40)
    assert json.loads((folder / "points.json").read_text())["follow_siblings"] == 40

    def asked(**options):
        detector = get_detector("fused", model_path=str(folder), **options)
        limits = []

        def siblings(word, limit=None):
            limits.append(limit)
            return []

        detector.inner.generator.siblings = siblings
        detector.detect(["The two guides started the talks in Berlin yesterday ."], prior=Tally())
        return set(limits)

    assert asked() == {40}
    assert asked(threshold=0.5) == {None} and asked(follow=False) == {None} and asked(alone=True) == {None}


def test_train_document_reads_again_what_was_read_with_other_siblings(tmp_path):
    from mtfix.detect.fuse import FusionConfig
    from mtfix.detect.lm import WordScores
    from mtfix.training.document import Doc, read_docs

    class Reader:
        config = FusionConfig(threshold=0.5)

        def __init__(self):
            self.asked = []

        def contexts(self, lines, before):
            return [before] * len(lines)

        def evidence(self, lines, contexts, siblings):
            self.asked.append(siblings)
            return [(WordScores(tokenize(line), [], []), [0.6] * len(tokenize(line))) for line in lines]

        def probabilities(self, evidence):
            return [tagger for _, tagger in evidence]

    docs = [Doc("a", "clean", "clean:abc", "fit", ["One line here ."]),
            Doc("s", "mlqe-pe", "mlqe-pe:ro-en", "sentence", ["A sentence alone ."])]
    cache, reader = tmp_path / "read.jsonl", Reader()
    read = read_docs(reader, docs, cache, log=lambda msg: None, siblings=40)
    assert reader.asked == [40, None]  # a sentence read alone tries the generator's own, as text read alone does
    assert read["a"]["siblings"] == 40 and read["a"]["flagged"] == [3]
    read_docs(reader, docs, cache, log=lambda msg: None, siblings=40)
    assert reader.asked == [40, None]  # cached
    read_docs(reader, docs, cache, log=lambda msg: None)
    assert reader.asked == [40, None, None]  # the document again, with the generator's own; the sentence stands


def test_the_follow_point_never_crosses_the_detectors_own_threshold():
    from mtfix.detect.document import Follow

    follow = Follow(cut=0.8, low=0.2, high=0.36)
    assert [follow.threshold(p, 0.28) for p in (0.9, 0.8, 0.79, None)] == [0.2, 0.2, 0.36, 0.36]
    assert follow.threshold(0.9, 0.1) == 0.1 and follow.threshold(0.1, 0.5) == 0.5  # a drop, a rise: never the other
    assert Follow(0.8, 0.2).threshold(0.1, 0.28) == 0.28  # no rise fitted: the detector's own


def test_the_rise_is_the_lowest_that_keeps_clean_news_to_its_rate():
    from mtfix.training.document import Doc, fit_high

    def doc(family, source, p, probs, bad=False):
        return (Doc(source, family, source, "fit", ["x"]), p, probs, [bad] * len(probs))

    news = doc("clean", "clean:abc-rural", 0.1, [0.29, 0.31, 0.35] + [0.0] * 7)  # 10 words, 3 flags at 0.28
    translated = doc("synthetic", "synthetic", 0.95, [0.25] * 10, bad=True)
    sure = doc("clean", "clean:state-union", 0.9, [0.25] + [0.0] * 9)  # over the cut: read at the drop, 0.2
    high, tried = fit_high([news, translated, sure], cut=0.8, low=0.2, default=0.28, rate=100)
    assert high == 0.32  # 4 flags in 20 words at 0.28, 3 at 0.30, 2 at 0.32
    assert [(t["high"], t["clean flags per 1k"]) for t in tried][:3] == [(0.3, 150.0), (0.32, 100.0), (0.34, 100.0)]
    assert all(t["synthetic"]["recall"] == 1.0 for t in tried)  # over the cut: its words keep the drop (0.2)
    assert fit_high([news], cut=0.8, low=0.2, default=0.28, rate=300) == (None, [])  # the default keeps it already
    loud = doc("clean", "clean:abc-rural", 0.1, [0.9] * 10)
    assert fit_high([loud], cut=0.8, low=0.2, default=0.28, rate=0)[0] == 0.5  # none does: the highest tried


class _Recorder:
    """A corrector that proposes nothing and keeps what each call was told of the documents."""

    def __init__(self):
        self.calls = []

    def correct(self, texts, spans, translated=None):
        self.calls.append(translated)
        return [[] for _ in texts]


@pytest.mark.parametrize("translated", [True, False])
def test_the_correctors_bars_follow_the_document_where_the_threshold_does(fused_folder, scorer, monkeypatch,
                                                                        translated):
    import mtfix
    from mtfix.detect.document import Follow

    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)
    sure = DocumentHead(("log_words",), (0.0,), (1.0,), (0.0,), 30.0 if translated else -30.0)
    save_heads({"fused": sure}, fused_folder, Follow(cut=0.9, low=0.0))
    fixer = mtfix.load(model=str(fused_folder))
    fixer._corrector = recorder = _Recorder()
    fixer.fix(CLEAN[:2])
    fixer.fix(CLEAN[:2], one_document=False)
    assert recorder.calls == [[translated] * 2] * 2
    fixer.fix(CLEAN[:2], threshold=0.5)  # an operating point given: nothing follows
    alone = mtfix.load(model=str(fused_folder), alone=True)  # text read alone keeps its own threshold and bars
    alone._corrector = recorder
    alone.fix(CLEAN[:2])
    assert recorder.calls[2:] == [None, None]


def test_one_document_or_each_its_own(fused_folder, scorer, monkeypatch):
    """A head that finds a long text translated and a short one not: read as one document, the short text's
    words follow the long one's verdict; read each alone, they do not."""
    import mtfix
    from mtfix.detect.document import Follow

    monkeypatch.setattr("mtfix.detect.fuse.LanguageModelScorer", lambda: scorer)
    words = DocumentHead(("log_words",), (0.0,), (1.0,), (10.0,), -25.0)  # P > 0.5 from about 12 words on
    save_heads({"fused": words}, fused_folder, Follow(cut=0.5, low=0.0))
    fixer = mtfix.load(model=str(fused_folder))
    texts = [" ".join(CLEAN[:3]), "Prices rose."]
    together = fixer.detect(texts, one_document=True)
    apart = fixer.detect(texts)  # this head reads no context: each text its own document
    assert together[1] and not apart[1] and together[0] and apart[0]
    assert fixer.detect(texts, one_document=False) == apart
    getattr(fixer.detector, "inner", fixer.detector).context = 2  # a head that reads context
    assert fixer.detect(texts, documents=[1, 1]) == apart  # two documents of a line each: neither after the other
    # the two lines as one document of a batch (a server request): the short line follows the document's verdict
    tallies = []
    both = fixer.detect([*texts, "Prices rose."], documents=[2, 1], tallies=tallies)
    assert both[1] and not both[2]
    assert fixer.mt_probability(tallies[:2]) > 0.5 > fixer.mt_probability(tallies[2:])
    recorder = _Recorder()
    fixer._corrector = recorder
    fixer.fix([*texts, "Prices rose."], documents=[2, 1])
    assert recorder.calls == [[True, True, False]]  # the corrector's bars follow each document likewise


def test_the_scoring_files_flag_each_documents_words_at_its_policys_threshold(tmp_path):
    from mtfix.training.document import Doc, write_scoring

    doc = Doc("s", "synthetic", "synthetic", "test", ["Two guides met ."], spans=[[(4, 10)]])
    clean = Doc("c", "clean", "clean:abc-science", "test", ["Prices rose ."])
    read = {"s": {"probs": [[0.1, 0.4, 0.2, 0.0]]}, "c": {"probs": [[0.3, 0.1, 0.0]]}}
    rows = [(doc, 0.9, [0.1, 0.4, 0.2], [False, True, False]), (clean, 0.1, [0.3, 0.1], [False, False])]
    write_scoring(rows, read, {"low": lambda p: 0.25 if p >= 0.8 else 0.5}, tmp_path)
    gold = json.loads((tmp_path / "synthetic.gold.jsonl").read_text())
    (pred,) = [json.loads(x) for x in (tmp_path / "synthetic-low.pred.jsonl").read_text().splitlines()]
    assert [s["text"] for s in gold["spans"]] == ["guides"] and [s["text"] for s in pred["spans"]] == ["guides"]
    (kept,) = [json.loads(x) for x in (tmp_path / "clean-low.pred.jsonl").read_text().splitlines()]
    assert kept["spans"] == []  # its document reads as clean: 0.5, which 0.3 does not reach


@pytest.mark.parametrize("option,bad", [("--clean-rate", "-1"), ("--clean-rate", "x"), ("--siblings", "0"),
                                        ("--siblings", "41"), ("--siblings", "2.5")])
def test_train_document_refuses_a_bad_number_in_one_line(capsys, option, bad):
    from mtfix.training.document import main

    with pytest.raises(SystemExit) as stop:
        main([option, bad])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert option in err and "Traceback" not in err
