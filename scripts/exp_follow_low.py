"""Experiment (docs/decisions.md): the follow point's drop (follow_low) with every pivot sibling tried, from the
cached 40-sibling readings of `mtfix train document`: word recall / precision of the round trips and clean flags
per 1,000 on the fitting and held-out documents, per drop.

    python scripts/exp_follow_low.py runs/document/read40.jsonl
"""
import json
import sys
from pathlib import Path

from mtfix.cli.data import SHARED_DATA
from mtfix.detect.document import Follow, load_follow, load_heads
from mtfix.models import MODELS
from mtfix.points import read_points
from mtfix.training.document import build_docs, follow_figures, word_rows

folder = MODELS / "detector"
head = load_heads(folder)["fused"]; follow = load_follow(folder); default = read_points(folder)["fused_threshold"]
read = {}
for line in Path(sys.argv[1]).read_text().splitlines():
    row = json.loads(line); read[row["id"]] = row
for role in ("fit", "test"):
    docs = [d for d in build_docs(SHARED_DATA, 13, 40, 8) if d.role == role and d.id in read]
    rows = word_rows(docs, read, head)
    for low in (0.1, 0.125, 0.15, 0.175, 0.2, 0.225, 0.25):
        f = Follow(follow.cut, low, follow.high)
        print(role, low, json.dumps(follow_figures(rows, lambda p: f.threshold(p, default))))
