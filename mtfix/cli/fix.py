"""`mtfix fix`: propose a fix for each flagged span, as a diff, the fixed text, JSONL, or interactively."""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from typing import Any

from mtfix.cli.options import correct_settings, detect_settings, model_options, read_alone
from mtfix.errors import InputError
from mtfix.settings import CorrectSettings, DetectSettings
from mtfix.text.outputs import OutputFile


def _fixed_record(segment: Any, doc: Any, text_field: str) -> str:
    """--apply output: the fixed line, or for JSONL the record with its text replaced (the original kept) and its
    MT probability."""
    if segment.record is None:
        return doc.fixed + segment.eol
    record = dict(segment.record)
    record[text_field] = doc.fixed
    record[f"original_{text_field}"] = doc.text
    if doc.mt_probability is not None:
        record["mt_probability"] = doc.mt_probability
    return json.dumps(record, ensure_ascii=False) + "\n"


class FixWriter:
    """Writes fix results as they come: a diff, JSONL, or the fixed text; a file is written under a temporary
    name and renamed when complete, so an interrupted run never leaves half a file."""

    def __init__(self, fmt: str, args: argparse.Namespace) -> None:
        self.fmt, self.text_field = fmt, args.text_field
        self.file = OutputFile(args.output, [args.input])
        self.view = None
        if fmt == "diff":
            from mtfix.render import DiffView

            self.view = DiffView(self.file.stream, whole=not read_alone(args))

    def write(self, segment: Any, doc: Any) -> None:
        if doc is None:
            if self.fmt == "jsonl":
                self.file.write(json.dumps({"format_version": 1, "line": segment.line, "text": None, "spans": [],
                                           "error": segment.error}) + "\n")
        elif self.view is not None:
            self.view.show(doc)
        elif self.fmt == "jsonl":
            self.file.write(json.dumps(doc.to_json(), ensure_ascii=False) + "\n")
        else:
            self.file.write(_fixed_record(segment, doc, self.text_field))

    def close(self, complete: bool) -> None:
        self.file.close(complete)


def cmd_fix(args: argparse.Namespace) -> int:
    from mtfix.api import fix_segments, from_settings
    from mtfix.render import progress
    from mtfix.text.formats import read_segments

    detect, correct = detect_settings(args), correct_settings(args)  # checked before the input is read
    fmt = args.format or ("text" if args.apply or args.output or args.interactive else "diff")
    if args.interactive:
        if args.input == "-":
            raise InputError("--interactive reads your answers from the terminal: give the text as a FILE, not -")
        if not sys.stdin.isatty():
            raise InputError("--interactive needs a terminal to ask in; without one use --format jsonl or --apply")
    segments = read_segments(args.input, args.input_format, args.text_field)
    first = next(segments, None)  # a missing, empty or binary input fails here, before any model loads
    segments = itertools.chain([first] if first else [], segments)
    alone = detect.alone  # else the lines of a plain-text file are one document: one MT probability
    mt = from_settings(detect, correct)
    writer = FixWriter(fmt, args)
    bad = total = 0
    held: list[tuple[Any, Any]] = []  # --interactive: everything is reviewed before anything is written
    complete = False
    try:
        with progress("fixing", args.input) as advance:
            for segment, doc in fix_segments(mt, segments, detect.batch_size, whole=not alone):
                total += 1
                advance(segment)
                if doc is None:
                    bad += 1
                    print(f"mtfix: {args.input} line {segment.line}: {segment.error} (skipped)", file=sys.stderr)
                if args.interactive:
                    held.append((segment, doc))
                else:
                    writer.write(segment, doc)
        if args.interactive:
            from mtfix.review import Review

            def ask(prompt: str) -> str:  # the questions go to stderr: stdout may carry the fixed text
                sys.stderr.write(prompt)
                sys.stderr.flush()
                return input()

            reviewed = iter(Review([d for _, d in held if d is not None], ask=ask, out=sys.stderr).run())
            for segment, doc in held:
                writer.write(segment, next(reviewed) if doc is not None else None)
        complete = True
    finally:
        writer.close(complete)
    if bad:
        print(f"mtfix: {bad} of {total} records could not be read; the others were processed", file=sys.stderr)
        return 1
    return 0


def parser_fix(sub: Any) -> None:
    """The `mtfix fix` command's options."""
    p = sub.add_parser("fix", help="propose fixes and review them", description=(
        "Detect artifacts and propose a fix for each flagged span (the LM rewriter: SmolLM2 with the adapters in "
        "models/rewriter; --conservative: the span decoder in models/corrector; an edit only where it beats keeping "
        "the original). Output: a coloured word-level diff (deletions red, "
        "insertions green, each edit's score; piped or with NO_COLOR: [-old-]{+new+}[score], and [?span?] for a "
        "flagged span with no confident fix), or with --apply / -o the fixed text, or --format jsonl (the "
        "correction format, with alternatives). --interactive walks through the edits one by one. Text outside "
        "accepted edits is never changed."))
    p.add_argument("input", metavar="FILE", help="text or JSONL file, or - for standard input")
    p.add_argument("--apply", action="store_true", help="write the fixed text (to standard output, or -o)")
    p.add_argument("-o", "--output", help="write here (default: the fixed text; written whole or not at all)")
    p.add_argument("--format", choices=["diff", "text", "jsonl"], default=None,
                   help="diff: the word-level diff (default without --apply / -o); text: the fixed text (default with "
                        "--apply or -o; JSONL input keeps its records, the original in original_TEXTFIELD); "
                        "jsonl: the correction format")
    CorrectSettings.options(p, ("min_score", "swap_score", "conservative", "round_trip"))
    p.add_argument("--interactive", action="store_true",
                   help="review each edit in the terminal: accept, reject, pick an alternative, type your own, "
                        "undo, quit and save; then write the text with the accepted edits")
    model_options(p)
    DetectSettings.options(p, ("review",))
    p.add_argument("--input-format", default="auto", choices=["auto", "text", "jsonl"])
    p.add_argument("--text-field", default="text", help="JSONL field holding the text (default: text)")
    p.set_defaults(func=cmd_fix)
