import io
import tarfile
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

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
