"""Real MT round trips through Debian's apertium (English -> pivot -> English), aligned into artifact spans."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from mtfix.errors import MtfixError
from mtfix.text.align import diff_edits
from mtfix.text.spans import Span, apply_edits
from mtfix.text.tokens import tokenize

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


def _run(pivot: str, sentences: Sequence[str], workdir: Path) -> list[str | None] | None:
    """One apertium pipeline over ``sentences``; None when apertium fails on one of them."""
    there, back = PIVOTS[pivot]
    source = workdir / f"{pivot}-{id(sentences)}.in"
    source.write_text("".join(s.replace("\n", " ") + "\n" for s in sentences), encoding="utf-8")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", f"apertium -u {there} | apertium -u {back}"],
                          stdin=open(source, "rb"), capture_output=True)
    source.unlink()
    if done.returncode != 0:
        return None
    lines = done.stdout.decode("utf-8", errors="replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != len(sentences):
        return [None] * len(sentences)
    return [line.rstrip() for line in lines]


def round_trip(pivot: str, sentences: Sequence[str], chunk: int = 1000,
               progress: Callable[[int], None] = lambda n: None) -> list[str | None]:
    """Each sentence after the round trip; None where apertium failed on it or lost the line structure.
    A chunk that apertium fails on is halved until the bad sentences are isolated and dropped."""
    out: list[str | None] = []
    with tempfile.TemporaryDirectory() as tmp:
        pending = [list(sentences[i:i + chunk]) for i in range(0, len(sentences), chunk)]
        while pending:
            part = pending.pop(0)
            result = _run(pivot, part, Path(tmp))
            if result is None and len(part) > 1:
                half = len(part) // 2
                pending[:0] = [part[:half], part[half:]]
                continue
            out += result if result is not None else [None] * len(part)
            progress(len(part))
    return out


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
