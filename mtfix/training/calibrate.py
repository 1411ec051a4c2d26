"""`mtfix train calibrate`: the operating points of a model folder (points.json, mtfix.points), shown or set.

The points are chosen on dev data by the fits that measure them (each trainer for the default it fits;
scripts/fit_review_point.py, scripts/fit_alone_threshold.py and scripts/eval_corrector.py fit for the review
point, the threshold for text read alone and the corrector's bars), which write them through the same function;
this command shows them and sets one chosen from a sweep by hand."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mtfix.points import COUNTS, FILE, POINTS, read_points, write_points


def point(text: str) -> tuple[str, float | None]:
    """NAME=VALUE (a number, or none to remove the point)."""
    name, sep, value = text.partition("=")
    if not sep or name not in POINTS:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with NAME one of {', '.join(POINTS)}, got {text!r}")
    if value.lower() == "none":
        return name, None
    if name in COUNTS:
        from mtfix.training.common import siblings_count

        return name, siblings_count(value)
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: expected a number or none, got {value!r}") from None
    if not 0.0 <= number <= 1.0 and name != "picky":
        raise argparse.ArgumentTypeError(f"{name} is a probability: give a value from 0 to 1, not {value}")
    if name == "picky" and not 0.0 < number <= 1.0:
        raise argparse.ArgumentTypeError(f"picky is a factor on the threshold: give a value in (0, 1], not {value}")
    return name, number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mtfix train calibrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", metavar="FOLDER", help="a model folder (models/detector, models/rewriter, ...)")
    parser.add_argument("--set", dest="points", metavar="NAME=VALUE", type=point, action="append", default=[],
                        help="set an operating point (none removes it); the points: "
                             + "; ".join(f"{k}: {v}" for k, v in POINTS.items()))
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"mtfix: {folder} is not a folder", file=sys.stderr)
        return 1
    found = write_points(folder, **dict(args.points)) if args.points else read_points(folder)
    if not found:
        print(f"mtfix: {folder} holds no operating points", file=sys.stderr)
        return 1
    width = max(map(len, found))
    for name, value in found.items():
        print(f"{name:<{width}}  {value:<8g}  {POINTS.get(name, '')}")
    if args.points:
        print(f"written to {folder / FILE}", file=sys.stderr)
    return 0
