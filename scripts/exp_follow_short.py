"""What the threshold's rise below the follow cut costs on short texts: each fitting (or --test: held-out)
document of `mtfix train document` read at its first 1, 2, 4 and 8 lines (a short request to the server, a short
article), its MT probability from those lines alone; word recall and precision of the labelled round trips and
clean news flags per 1,000, with the threshold following the document downwards only against both ways. From the
cached readings (`mtfix train document --cache`), the shipped head and follow point."""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from mtfix.cli.data import SHARED_DATA
from mtfix.detect.document import Follow, load_follow, load_heads
from mtfix.models import MODELS
from mtfix.points import read_points
from mtfix.training.document import build_docs, follow_figures, word_rows, write_scoring


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", default="runs/document/read.jsonl")
    parser.add_argument("--test", action="store_true")
    parser.add_argument("--score-dir", help="also write the whole documents' gold and predictions, for mtfix score")
    args = parser.parse_args()
    folder = MODELS / "detector"
    head = load_heads(folder)["fused"]
    follow = load_follow(folder)
    default = read_points(folder)["fused_threshold"]
    read = {}
    for line in Path(args.cache).read_text().splitlines():
        row = json.loads(line)
        read[row["id"]] = row
    role = "test" if args.test else "fit"
    docs = [d for d in build_docs(SHARED_DATA, 13, 40, 8) if d.role == role and d.id in read]
    drop = Follow(follow.cut, follow.low)
    print(f"follow: {follow}; default {default:.3f}; {role} documents")
    for size in (1, 2, 4, 8):
        cut = [replace(d, lines=d.lines[:size], spans=d.spans[:size] if d.spans is not None else None) for d in docs]
        short = {d.id: {k: v[:size] if isinstance(v, list) else v for k, v in read[d.id].items()} for d in cut}
        rows = word_rows(cut, short, head)
        under = {f: f"{sum(p < follow.cut for d, p, *_ in rows if d.family == f)}/"
                    f"{sum(d.family == f for d, *_ in rows)}" for f in ("clean", "synthetic", "apertium")}
        policies = {"default": lambda p: default, "drop": lambda p: drop.threshold(p, default),
                    "follow": lambda p: follow.threshold(p, default)}
        if size == 8 and args.score_dir:
            write_scoring(rows, short, policies, Path(args.score_dir))
        for name, policy in policies.items():
            print(size, name, json.dumps(follow_figures(rows, policy)), "under the cut:" if name == "default" else "",
                  json.dumps(under) if name == "default" else "")


if __name__ == "__main__":
    main()
