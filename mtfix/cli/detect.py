"""`mtfix detect`: flag artifact spans in a text or JSONL file."""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from typing import Any

from mtfix.cli.options import ALONE_HELP, device_option, read_alone, review_option
from mtfix.detect import METHODS, default_method
from mtfix.errors import InputError
from mtfix.text.outputs import OutputFile


def cmd_detect(args: argparse.Namespace) -> int:
    from mtfix.detect import detect_segments, get_detector
    from mtfix.device import place, resolve, use
    from mtfix.render import Highlighter, progress
    from mtfix.text.formats import read_segments

    if args.fast and args.method not in (None, "model"):
        raise InputError("--fast is the tagger alone: it goes with no --method, or --method model")
    segments = read_segments(args.input, args.input_format, args.text_field)
    first = next(segments, None)  # a missing, empty or binary input fails here, before any model loads
    segments = itertools.chain([first] if first else [], segments)
    device = resolve(args.device)
    use(device)
    alone = read_alone(args)  # else the lines of a plain-text file are one document: one MT probability
    detector = get_detector(args.method or default_method(args.fast, args.model), args.threshold, args.model,
                            args.batch_size, args.lm_gate, alone)
    place(detector, device)
    threshold = args.threshold if args.threshold is not None else 0.0
    out = OutputFile(args.output, [args.input])
    highlighter = Highlighter(out.stream, not alone) if args.format == "pretty" else None
    bad = total = 0
    complete = False
    try:
        with progress("detecting", args.input) as advance:
            for segment, doc in detect_segments(detector, segments, args.batch_size, threshold, not alone):
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
    p.add_argument("--method", default=None, choices=list(METHODS),
                   help="fused (the default): the tagger in models/detector with SmolLM2 language-model evidence "
                        "and candidate contrast, each span saying which evidence fired; model: the tagger alone "
                        "(what --fast picks, about 30 times the words per second: bench_detect.py); spell: words "
                        "missing from an English lexicon (the baseline); lm: zero-shot SmolLM2 surprisal (score = "
                        "nats / 16, so 0.5 flags words above 8 nats); all-ok / all-bad: flag nothing / every word "
                        "(trivial baselines)")
    p.add_argument("--fast", action="store_true",
                   help="the tagger alone, without the language model: faster, blind to most wrong-sense words")
    p.add_argument("--model", help="a trained detector folder to use instead of models/detector (for fused, "
                                   "with its fusion head in FOLDER/fused)")
    p.add_argument("--format", default="pretty", choices=["pretty", "jsonl"],
                   help="pretty: coloured text for reading (default); jsonl: the detection format")
    p.add_argument("--threshold", type=float, default=None,
                   help="flag words whose calibrated probability reaches this (default: the model's own, chosen "
                        "on clean news to keep unseen clean news under 3 flags per 1,000 words: fitted at 2.25 on "
                        "190,000 dev and train news words for the fused detector, at 3 on dev news for --fast; the "
                        "fused detector's drops in a document that reads as machine-translated, as its "
                        "document.json says: to 0.2 from an MT probability of 0.8 for the shipped one, on text read "
                        "in context)")
    p.add_argument("--lm-gate", type=float, default=None, metavar="P",
                   help="the fused detector reads a segment with the language model only where the tagger's "
                        "highest P(BAD) in it reaches P; elsewhere the tagger's own P(BAD) stands (default: the "
                        "model's own; the shipped model's is 0: the language model reads every segment, since "
                        "wrong-sense words sit in lines the tagger finds clean; a gate such as 0.15 spares it "
                        "about half of clean news, for speed over recall)")
    p.add_argument("--alone", action="store_true", help=ALONE_HELP)
    review_option(p)
    p.add_argument("--batch-size", type=int, default=32, help="segments per batch (default 32)")
    device_option(p)
    p.add_argument("--input-format", default="auto", choices=["auto", "text", "jsonl"],
                   help="auto: JSONL for .jsonl/.json/.ndjson files, plain text otherwise")
    p.add_argument("--text-field", default="text", help="JSONL field holding the text (default: text)")
    p.add_argument("-o", "--output", help="write here instead of standard output")
    p.set_defaults(func=cmd_detect)
