import importlib.util
import io
import tarfile
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str):
    """A script of scripts/ as a module (they are run, not installed), to test its functions."""
    path = SCRIPTS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

MT = [
    "In addition to these plants there are coniferous plants such as walnut , Maple .",
    "The floor coverings are called 4 MB disks .",
]
PE = [
    "In addition to these plants , there are conifers such as walnut , maple .",
    "The floppy disks are called 4 MB disks .",
]


def _tags(n_words: int, bad_words: set[int], bad_gaps: set[int]) -> str:
    """Interleaved gap/word tags: gap 0, word 0, gap 1, ..., word n-1, gap n."""
    tags = []
    for i in range(n_words + 1):
        tags.append("BAD" if i in bad_gaps else "OK")
        if i < n_words:
            tags.append("BAD" if i in bad_words else "OK")
    return " ".join(tags)


TAGS = [
    _tags(15, {7, 8, 13}, {5}),  # coniferous plants, Maple; a missing comma before "there"
    _tags(9, {1, 2}, set()),      # floor coverings
]


@pytest.fixture
def mlqe_tarball(tmp_path: Path) -> Path:
    """A two-sentence MLQE-PE split, packed like the real ones."""
    path = tmp_path / "xx-en-dev.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for ext, lines in (("mt", MT), ("pe", PE), ("tags", TAGS), ("src", ["x", "y"])):
            data = ("\n".join(lines) + "\n").encode()
            info = tarfile.TarInfo(f"xx-en-dev/dev.{ext}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


CLEAN = [
    "The council approved the new water plan for farmers in the district on Monday.",
    "Scientists say the drought has cut wheat yields across the region this year.",
    "The minister has signed the agreement with the two companies in Canberra.",
    "Their counties were hit hard by the storm that swept through the valley.",
    "Researchers found that the new vaccine protected most of the sheep in the trial.",
    "The two leaders discussed the need to improve relations between their countries.",
    "Growers expect prices to rise again once the harvest is finished next month.",
    "The report was released by the department after a long review of the scheme.",
]
TEST_ONLY = "This sentence belongs to the test set and must never be trained on here."


def _tar(path: Path, folder: str, files: dict[str, list[str]]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, lines in files.items():
            data = ("\n".join(lines) + "\n").encode()
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """A miniature ../shared/data: clean corpora and MLQE-PE splits for every pair."""
    import zipfile

    root = tmp_path_factory.mktemp("shared-data")
    corpora = root / "corpora"
    corpora.mkdir()
    sentences = [f"{s[:-1]} number {i}." for i in range(12) for s in CLEAN]
    (corpora / "abc-rural.txt").write_text("\n".join(sentences[:40] + [TEST_ONLY]) + "\n")
    (corpora / "abc-science.txt").write_text("\r\n".join(sentences[40:70]) + "\r\n")
    with zipfile.ZipFile(corpora / "state_union.zip", "w") as zf:
        zf.writestr("state_union/1999-Test.txt", "TITLE\n \nJanuary 1, 1999\n\n" + " ".join(sentences[70:]) + "\n")
    mlqe = root / "mlqe-pe"
    mlqe.mkdir()
    test_mt = [" ".join(TEST_ONLY[:-1].split()) + " .", "Another test sentence here ."]
    test_tags = [_tags(len(line.split()), set(), set()) for line in test_mt]
    for pair in ("ro-en", "et-en", "ne-en", "si-en", "ru-en", "en-de"):
        for split, folder in (("train", "train"), ("dev", "dev"), ("test20", "test")):
            mt, pe, tags = (MT, PE, TAGS) if split != "test20" else (test_mt, test_mt, test_tags)
            src = mt if pair == "en-de" else ["x", "y"]
            _tar(mlqe / f"{pair}-{folder}.tar.gz", f"{pair}-{split}",
                 {f"{split}.mt": mt, f"{split}.pe": pe, f"{split}.tags": tags, f"{split}.src": src})
    return root


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny tagger folder and a tiny (untrained) corrector folder that reads its encoder: for CLI and API
    tests of the plumbing, not of quality."""
    import shutil

    import torch
    from transformers import AutoTokenizer

    from mtfix.correct.seq2seq import CorrectorConfig, SpanCorrector
    from mtfix.points import write_points
    from mtfix.training.common import minilm_dir
    from mtfix.training.span_decoder import train_pieces

    from .detect.test_tagger import tiny_model

    tagger = tmp_path_factory.mktemp("tiny-tagger")
    tiny_model().save_pretrained(tagger)
    AutoTokenizer.from_pretrained(minilm_dir()).save_pretrained(tagger)
    corrector = tmp_path_factory.mktemp("tiny-corrector")
    pieces = train_pieces(iter(CLEAN * 30), corrector, vocab_size=300)
    torch.manual_seed(0)
    SpanCorrector(CorrectorConfig(vocab_size=pieces.size, d_model=32, layers=1, heads=2, ffn=64, dropout=0.0,
                                  sep_id=pieces.sep_id)).save_pretrained(corrector)
    write_points(corrector, plain_min_score=0.0)
    for extra in corrector.glob("pieces.vocab"):
        extra.unlink()
    shutil.rmtree(corrector / "__pycache__", ignore_errors=True)
    return tagger, corrector


@pytest.fixture
def inventions_allowed(monkeypatch):
    """The tiny untrained corrector writes non-words ("EEEE"), which `mtfix fix` never proposes (invents, tested
    in test_correct.py); tests of the plumbing around the edits let them through."""
    monkeypatch.setattr("mtfix.correct.guards.invents", lambda replacement, known: False)
