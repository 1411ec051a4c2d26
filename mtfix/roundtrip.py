"""Real MT round trips through Debian's apertium (English -> pivot -> English), aligned into artifact spans."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

from .align import diff_edits
from .errors import MtfixError
from .spans import Span, apply_edits
from .text import tokenize

# pivot name -> (English to pivot, pivot to English) apertium modes
PIVOTS = {"spa": ("eng-spa", "spa-eng"), "cat": ("eng-cat", "cat-eng"), "glg": ("en-gl", "gl-en"),
          "epo": ("en-eo", "eo-en")}


class ApertiumMissing(MtfixError):
    """apertium or one of its language pairs is not installed."""


def check_apertium(pivots: Sequence[str]) -> None:
    """Fail with an install line when apertium or a pair is missing."""
    if shutil.which("apertium") is None:
        raise ApertiumMissing("apertium is not installed: apt-get install apertium apertium-eng-spa "
                              "apertium-eng-cat apertium-en-gl apertium-eo-en")
    modes = subprocess.run(["apertium", "-l"], capture_output=True, text=True).stdout.split()
    for pivot in pivots:
        for mode in PIVOTS[pivot]:
            if mode not in modes:
                raise ApertiumMissing(f"apertium mode {mode} is missing (apt-get install apertium-...)")


def start_round_trip(pivot: str, sentences: Sequence[str], workdir: Path) -> tuple[subprocess.Popen, Path]:
    """Start one round trip in the background; returns the process and the file it writes."""
    there, back = PIVOTS[pivot]
    source = workdir / f"{pivot}.in"
    target = workdir / f"{pivot}.out"
    source.write_text("".join(s.replace("\n", " ") + "\n" for s in sentences), encoding="utf-8")
    cmd = f"apertium -u {there} < {source} | apertium -u {back} > {target}"
    return subprocess.Popen(["bash", "-o", "pipefail", "-c", cmd], stderr=subprocess.PIPE), target


def round_trip(pivot: str, sentences: Sequence[str]) -> list[str | None]:
    """Each sentence after the round trip (None where apertium lost the line structure)."""
    with tempfile.TemporaryDirectory() as tmp:
        proc, target = start_round_trip(pivot, sentences, Path(tmp))
        return finish_round_trip(proc, target, len(sentences))


def finish_round_trip(proc: subprocess.Popen, target: Path, count: int) -> list[str | None]:
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise ApertiumMissing(f"apertium failed: {err.decode(errors='replace').strip()[:200]}")
    lines = target.read_text(encoding="utf-8", errors="replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != count:
        return [None] * count
    return [line.rstrip() for line in lines]


def _benign(original: str, replacement: str) -> bool:
    """Changes only apertium makes: case flips and spacing (neural MT does neither this way)."""
    return original.lower() == replacement.lower() or "".join(original.split()) == "".join(replacement.split())


def artifact_spans(original: str, trip: str, max_changed: float = 0.5) -> tuple[str, list[Span]] | None:
    """The round trip with apertium-only quirks undone, and spans whose fixes restore ``original``."""
    if any(mark in trip and mark not in original for mark in ("#", "@", "*")):
        return None
    # undo case flips and spacing changes first, then align what is left
    quirks = [e for e in diff_edits(trip, original) if _benign(trip[e.start:e.end], e.replacement)]
    text = apply_edits(trip, quirks)
    edits = diff_edits(text, original)
    changed = sum(len(tokenize(text[e.start:e.end])) or 1 for e in edits)
    if changed > max_changed * max(1, len(tokenize(text))):
        return None
    return text, [Span(e.start, e.end, "apertium", 1.0, (e.replacement,)) for e in edits]
