"""`mtfix data`: build the training and evaluation data, read MLQE-PE and MQM, export a split as gold."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from mtfix.cli.score import load_gold
from mtfix.errors import InputError
from mtfix.text.outputs import OutputFile

SHARED_DATA = Path(os.environ.get("MTFIX_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data")


def cmd_data(args: argparse.Namespace) -> int:
    if args.action in ("mlqe", "mqm"):
        from mtfix.text.formats import write_jsonl

        if args.action == "mqm" and not str(args.path or "").lower().endswith(".tsv"):
            raise InputError("mtfix data mqm needs an MQM .tsv file (e.g. ../shared/data/mqm/mqm-ted-zhen.tsv)")
        docs = load_gold(args.path, args.part)
        with OutputFile(args.output, [args.path]) as out:
            write_jsonl((d.to_json() for d in docs), out)
        print(f"mtfix: wrote {len(docs)} gold documents", file=sys.stderr)
        return 0
    if args.action == "export":
        return _export(args)
    from mtfix.data.build import BuildConfig, run_build

    if not args.output:
        raise InputError("mtfix data build needs -o OUT, the folder to write the data set to")
    data_dir = Path(args.data_dir)
    if not (data_dir / "mlqe-pe").is_dir() or not (data_dir / "corpora").is_dir():
        raise InputError(f"{data_dir} does not hold mlqe-pe/ and corpora/: give --data-dir (or set MTFIX_DATA)")
    synthetic = {"train": args.synthetic, "dev": max(1, args.synthetic // 20), "test": max(1, args.synthetic // 15)}
    config = BuildConfig(data_dir=data_dir, seed=args.seed, apertium_per_pivot=args.apertium_per_pivot,
                         synthetic_per_split=synthetic, mlqe=not args.no_mlqe, apertium=not args.no_apertium,
                         max_clean=args.max_clean, multi_word=args.multi_word,
                         lm_plausible=args.lm_plausible)
    command = "mtfix data build " + " ".join(sys.argv[3:]) if len(sys.argv) > 3 else "mtfix data build"
    run_build(config, Path(args.output), Path(args.card) if args.card else None, command,
              log=lambda msg: print(f"mtfix: {msg}", file=sys.stderr))
    return 0


def _export(args: argparse.Namespace) -> int:
    """A split of a built data set as gold JSONL, optionally only the sources starting with --source."""
    import datasets

    from mtfix.text.formats import Document, write_jsonl
    from mtfix.text.spans import Span

    if not args.path or not Path(args.path).is_dir():
        raise InputError("mtfix data export needs the DatasetDict folder written by mtfix data build")
    try:
        split = datasets.load_from_disk(args.path)[args.split]
    except (FileNotFoundError, KeyError, ValueError) as err:
        raise InputError(f"cannot read split {args.split!r} of {args.path}: {err}") from None
    prefixes = tuple(p for p in args.source.split(",") if p)
    count = 0
    with OutputFile(args.output, [args.path]) as out:
        for row in split:
            if prefixes and not row["source"].startswith(prefixes):
                continue
            spans = [Span(s["start"], s["end"], s["label"], 1.0, (s["fix"],)) for s in row["spans"]]
            write_jsonl([Document(row["text"], spans, row["reference"], row["source"]).to_json()], out)
            count += 1
    print(f"mtfix: wrote {count} gold documents", file=sys.stderr)
    return 0


def parser_data(sub: Any) -> None:
    """The `mtfix data` command's options."""
    p = sub.add_parser("data", help="build gold and training data", description=(
        "mlqe PATH: turn an MLQE-PE split (tarball or folder) into gold JSONL. "
        "mqm FILE.tsv [--part dev|held-out|all]: MQM-annotated MT (WMT's TSV) as gold JSONL, every system output a "
        "document, the raters' errors its spans (Severity:Category), split by source segment into a development "
        "and a held-out part. "
        "build -o OUT: build the labelled training data (MLQE-PE train/dev, apertium round trips, synthetic "
        "EN-DE-EN artifacts, and a majority of clean prose) as a datasets DatasetDict in OUT/dataset, parquet "
        "in OUT/parquet, and a data card OUT/data.md. Needs apertium and trans-de-en from Debian. "
        "export DATASET --split test [--source PREFIX]: a built split as gold JSONL."))
    p.add_argument("action", choices=["mlqe", "mqm", "build", "export"])
    p.add_argument("path", nargs="?", help="mlqe: the MLQE-PE tarball or folder; export: the dataset folder")
    p.add_argument("--split", default="test", help="export: which split (default test)")
    p.add_argument("--part", choices=["dev", "held-out", "all"], default="all",
                   help="mqm: the development part, the held-out part, or all (default)")
    p.add_argument("--source", default="",
                   help="export: only sources starting with this (comma-separated: any of them), e.g. synthetic:pivot")
    p.add_argument("-o", "--output", help="mlqe: the gold JSONL (default standard output); build: the folder")
    p.add_argument("--data-dir", default=str(SHARED_DATA),
                   help="where mlqe-pe/ and corpora/ are (default: $MTFIX_DATA, else ../shared/data beside a source "
                        "checkout)")
    p.add_argument("--seed", type=int, default=13, help="random seed (default 13)")
    p.add_argument("--apertium-per-pivot", type=int, default=10_000,
                   help="training sentences sent through each apertium pivot (default 10000)")
    p.add_argument("--synthetic", type=int, default=42_000, help="synthetic training examples (default 42000)")
    p.add_argument("--multi-word", action="store_true",
                   help="build: also multi-word damage among the synthetic kinds (two or three neighbouring "
                        "corruptions as one span; two clauses swapped); off by default, so that the default "
                        "build's splits stay those the shipped figures were measured on")
    p.add_argument("--lm-plausible", action="store_true",
                   help="build: also fluent wrong words drawn from what SmolLM2 finds likely at a place (not "
                        "its top choice; the original and its inflections left out): what no dictionary lists; "
                        "runs the language model, off by default for the same reason as --multi-word")
    p.add_argument("--no-apertium", action="store_true", help="leave out the apertium round trips")
    p.add_argument("--no-mlqe", action="store_true", help="leave out MLQE-PE")
    p.add_argument("--max-clean", type=int, help="use at most this many clean sentences (for quick trials)")
    p.add_argument("--card", help="also write the data card here (e.g. docs/data.md)")
    p.set_defaults(func=cmd_data)
