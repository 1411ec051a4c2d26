"""Experiment (docs/decisions.md): the review point (--review) where the threshold follows the document: read with
every pivot sibling (the follow point's) against three, and lower in documents that read as translated. From the
cached readings of `mtfix train document` (three siblings: runs/document/read.jsonl as made before
follow_siblings; up to 40: read40.jsonl); the shipped head, follow cut and review point.

    python scripts/exp_review_follow.py
"""
from __future__ import annotations

import json
from pathlib import Path

from mtfix.cli.data import SHARED_DATA
from mtfix.detect.document import load_follow, load_heads
from mtfix.models import MODELS
from mtfix.points import read_points
from mtfix.training.document import build_docs, follow_figures, word_rows


def main() -> None:
    folder = MODELS / "detector"
    head, follow, review = load_heads(folder)["fused"], load_follow(folder), read_points(folder)["review"]
    for cache in ("runs/document/read.jsonl", "runs/document/read40.jsonl"):
        read = {}
        for line in Path(cache).read_text().splitlines():
            row = json.loads(line)
            read[row["id"]] = row
        for role in ("fit", "test"):
            rows = word_rows([d for d in build_docs(SHARED_DATA, 13, 40, 8) if d.role == role and d.id in read],
                             read, head)
            policies = {"review": lambda p: review,
                        "review, translated 0.05": lambda p: 0.05 if p >= follow.cut else review,
                        "review, translated 0.08": lambda p: 0.08 if p >= follow.cut else review}
            for name, policy in policies.items():
                print(Path(cache).name, role, name, json.dumps(follow_figures(rows, policy)))


if __name__ == "__main__":
    main()
