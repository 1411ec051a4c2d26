"""`mtfix detect`: flag artifact spans in a text or JSONL file."""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from typing import Any

from mtfix.cli.options import detect_settings
from mtfix.settings import DetectSettings
from mtfix.text.outputs import OutputFile


def cmd_detect(args: argparse.Namespace) -> int:
    from mtfix.detect import detect_segments, load_detector, settings_point
    from mtfix.device import place, resolve, use
    from mtfix.render import Highlighter, progress
    from mtfix.text.formats import read_segments

    settings = detect_settings(args)  # checked before the input is read
    segments = read_segments(args.input, args.input_format, args.text_field)
    first = next(segments, None)  # a missing, empty or binary input fails here, before any model loads
    segments = itertools.chain([first] if first else [], segments)
    device = resolve(settings.device)
    use(device)
    alone = settings.alone  # else the lines of a plain-text file are one document: one MT probability
    detector = load_detector(settings)
    place(detector, device)
    threshold = settings_point(settings)[0]  # spans below a given (or --review's) threshold are dropped
    threshold = threshold if threshold is not None else 0.0
    out = OutputFile(args.output, [args.input])
    highlighter = Highlighter(out.stream, not alone) if args.format == "pretty" else None
    bad = total = 0
    complete = False
    try:
        with progress("detecting", args.input) as advance:
            for segment, doc in detect_segments(detector, segments, settings.batch_size, threshold, not alone):
                total += 1
                advance(segment)
                if doc is None:
                    bad += 1
                    print(f"mtfix: {args.input} line {segment.line}: {segment.error} (skipped)", file=sys.stderr)
                    if highlighter is None:
                        out.write(json.dumps({"format_version": 1, "line": segment.line, "text": None,
                                              "spans": [], "error": segment.error}) + "\n")
                    continue
                if highlighter is not None:
                    highlighter.show(doc)
                else:
                    out.write(json.dumps(doc.to_json(), ensure_ascii=False) + "\n")
        complete = True
    finally:
        out.close(complete)
    if bad:
        print(f"mtfix: {bad} of {total} records could not be read; the others were processed", file=sys.stderr)
        return 1
    return 0


def parser_detect(sub: Any) -> None:
    """The `mtfix detect` command's options."""
    p = sub.add_parser("detect", help="flag artifact spans", description=(
        "Flag machine-translation artifacts. Input: plain text (one segment per line) or JSONL; "
        "'-' reads standard input. Output: the text with flagged spans highlighted, or JSONL. Each record also "
        "carries mt_probability: the calibrated probability that its document went through machine translation "
        "(a plain-text file is one document, every line carrying the file's value, printed above the text; a JSONL "
        "record, or a line with --alone, is its own)."))
    p.add_argument("input", metavar="FILE", help="text or JSONL file, or - for standard input")
    DetectSettings.options(p, ("method", "fast", "model"))
    p.add_argument("--format", default="pretty", choices=["pretty", "jsonl"],
                   help="pretty: coloured text for reading (default); jsonl: the detection format")
    DetectSettings.options(p, ("threshold", "lm_gate", "alone", "review", "batch_size", "device"))
    p.add_argument("--input-format", default="auto", choices=["auto", "text", "jsonl"],
                   help="auto: JSONL for .jsonl/.json/.ndjson files, plain text otherwise")
    p.add_argument("--text-field", default="text", help="JSONL field holding the text (default: text)")
    p.add_argument("-o", "--output", help="write here instead of standard output")
    p.set_defaults(func=cmd_detect)
