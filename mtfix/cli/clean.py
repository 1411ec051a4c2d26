"""`mtfix clean`: a whole corpus through detect (and fix), resumably (the work is mtfix.clean's)."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from mtfix.cli.options import correct_settings, model_options
from mtfix.settings import CleanSettings


def cmd_clean(args: argparse.Namespace) -> int:
    from mtfix.clean import CleanConfig, clean
    from mtfix.clean.corpus import check_input, count_records, guess_format
    from mtfix.render import corpus_progress

    config = CleanConfig.from_args(args, **asdict(correct_settings(args)))
    check_input(args.input)  # before the progress bar counts records: a FIFO would hang it
    total = count_records(args.input, guess_format(args.input, args.input_format))
    with corpus_progress(f"cleaning {args.input}", total) as advance:
        summary = clean(config, advance, warn=lambda msg: print(f"mtfix: {msg}", file=sys.stderr))
    print(json.dumps({k: summary[k] for k in ("records", "written", "rejected", "filtered", "words",
                                               "flagged_words", "flags_per_100_words", "edits", "seconds")}),
          file=sys.stderr)
    print(f"mtfix: wrote {args.output} ({summary['written']:,} records); summary in {args.output}.summary.html"
          + (f"; {summary['rejected']:,} rejected records in {args.output}.rejects.jsonl" if summary["rejected"]
             else ""), file=sys.stderr)
    return 1 if summary["rejected"] else 0  # as detect and fix: some records could not be read


def parser_clean(sub: Any) -> None:
    """The `mtfix clean` command's options."""
    p = sub.add_parser("clean", help="clean a whole corpus, resumably", description=(
        "Run a corpus through the detector (and, with --policy fix or --suggest, the corrector). Every input "
        "record is written to OUT in input order with fields added: spans, density (flagged words per 100), "
        "mt_probability (the probability that the record's document went through machine translation), and "
        "edits and fixed where corrected; blank lines of a plain-text input stay in place. Unusable records "
        "(invalid UTF-8, empty or missing text, binary, over-long or truncated lines) go to OUT.rejects.jsonl "
        "with their line, reason and raw content, and the exit status is 1. A summary is written to "
        "OUT.summary.json and OUT.summary.html. Killed at any moment, the same command resumes from its "
        "checkpoint (OUT.journal; one run at a time per OUT); outputs appear, whole, only at the end. The input "
        "is never modified, and no file or folder mtfix did not write is replaced."))
    p.add_argument("input", metavar="IN", help="JSONL, plain text (one record per line), CSV, parquet, or the "
                                               "folder of a saved datasets dataset")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="the output: its format is the one its extension names (.jsonl, .csv, .parquet, .txt), "
                        "else IN's (plain text gives JSONL, or the fixed text with --policy fix)")
    CleanSettings.options(p, ("policy", "suggest"))
    CleanSettings.options(p, ("min_score", "swap_score", "conservative", "round_trip"),
                          min_score="the corrector's edit threshold (fix, --suggest)",
                          swap_score="the corrector's bar for meaning swaps (fix, --suggest; see mtfix fix --help)")
    CleanSettings.options(p, ("max_density", "max_mt_probability", "text_field", "input_format", "output_format",
                              "workers", "engine", "ray_address", "chunk_size", "restart"))
    model_options(p)
    p.set_defaults(func=cmd_clean)
