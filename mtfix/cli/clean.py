"""`mtfix clean`: a whole corpus through detect (and fix), resumably (the work is mtfix.clean's)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mtfix.cli.options import model_options, round_trip_option
from mtfix.errors import InputError


def cmd_clean(args: argparse.Namespace) -> int:
    from mtfix.clean import CleanConfig, clean
    from mtfix.clean.corpus import check_input, count_records, guess_format
    from mtfix.render import corpus_progress

    if args.fast and args.method not in (None, "model"):
        raise InputError("--fast is the tagger alone: it goes with no --method, or --method model")
    config = CleanConfig(input=args.input, output=args.output, input_format=args.input_format,
                         output_format=args.output_format, text_field=args.text_field, policy=args.policy,
                         suggest=args.suggest, min_score=args.min_score, swap_score=args.swap_score,
                         max_density=args.max_density, max_mt_probability=args.max_mt_probability,
                         chunk_size=args.chunk_size, workers=args.workers, engine=args.engine,
                         ray_address=args.ray_address, fast=args.fast, method=args.method,
                         threshold=args.threshold, lm_gate=args.lm_gate, model=args.model,
                         corrector=args.corrector, device=args.device, alone=args.alone,
                         batch_size=args.batch_size, restart=args.restart)
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
    p.add_argument("--policy", choices=["annotate", "fix", "filter"], default="annotate",
                   help="annotate: add the fields only (default); fix: also replace the text by the fixed text "
                        "(edits scoring at least --min-score; the original kept in original_TEXTFIELD); filter: "
                        "route records above --max-density (or --max-mt-probability) to OUT.filtered (same format)")
    p.add_argument("--suggest", action="store_true", help="annotate/filter: run the corrector too and add its edits")
    p.add_argument("--min-score", type=float, default=None, help="the corrector's edit threshold (fix, --suggest)")
    p.add_argument("--swap-score", type=float, default=None,
                   help="the corrector's bar for meaning swaps (fix, --suggest; see mtfix fix --help)")
    round_trip_option(p)
    p.add_argument("--max-density", type=float, default=10.0,
                   help="filter: records with more flagged words per 100 than this are filtered (default 10)")
    p.add_argument("--max-mt-probability", type=float, default=None, metavar="P",
                   help="filter: also filter the documents whose MT probability (mt_probability: the calibrated "
                        "probability that the document went through machine translation) is above P; each record "
                        "of JSONL, CSV, parquet or a dataset is a document, a plain-text input (without --alone) one "
                        "document whole")
    p.add_argument("--text-field", default="text", help="the field or column holding the text (default: text)")
    p.add_argument("--input-format", default="auto", choices=["auto", "jsonl", "text", "csv", "parquet", "dataset"])
    p.add_argument("--output-format", default="auto", choices=["auto", "jsonl", "text", "csv", "parquet", "dataset"],
                   help="auto: as OUT's extension, else as the input (see -o); text writes the fixed text alone, "
                        "one line per input record (--policy fix or filter: plain text cannot hold spans)")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes, each loading the models once (at most one per core, and as many as "
                        "free memory holds)")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local (default), or ray: the same pipeline on Ray Data, --workers actors")
    p.add_argument("--ray-address", default=None, help="a Ray cluster to join (default: a local Ray instance)")
    p.add_argument("--chunk-size", type=int, default=64, help="records per checkpointed chunk (default 64)")
    p.add_argument("--restart", action="store_true", help="ignore (and remove) an existing checkpoint")
    model_options(p)
    p.set_defaults(func=cmd_clean)
