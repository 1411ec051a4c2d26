"""The mtfix command line: detect, fix, clean, score, data, train, serve."""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from mtfix import __version__
from mtfix.detect import METHODS, default_method
from mtfix.errors import InputError, MtfixError
from mtfix.text.outputs import OutputFile


def read_alone(args: argparse.Namespace) -> bool:
    """Whether each segment is read alone: --alone, or JSONL input (each record its own document); the lines of a
    plain-text file are read as one document."""
    from mtfix.text.formats import guess_format

    return args.alone or guess_format(args.input, args.input_format) == "jsonl"


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
    detector = get_detector(args.method or default_method(args.fast, args.model), args.threshold, args.model,
                            args.batch_size, args.lm_gate, read_alone(args))
    place(detector, device)
    threshold = args.threshold if args.threshold is not None else 0.0
    out = OutputFile(args.output, [args.input])
    highlighter = Highlighter(out.stream) if args.format == "pretty" else None
    bad = total = 0
    complete = False
    try:
        with progress("detecting", args.input) as advance:
            for segment, doc in detect_segments(detector, segments, args.batch_size, threshold):
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


def _fixed_record(segment: Any, doc: Any, text_field: str) -> str:
    """--apply output: the fixed line, or for JSONL the record with its text replaced (the original kept)."""
    if segment.record is None:
        return doc.fixed + segment.eol
    record = dict(segment.record)
    record[text_field] = doc.fixed
    record[f"original_{text_field}"] = doc.text
    return json.dumps(record, ensure_ascii=False) + "\n"


class _FixWriter:
    """Writes fix results as they come: a diff, JSONL, or the fixed text; a file is written under a temporary
    name and renamed when complete, so an interrupted run never leaves half a file."""

    def __init__(self, fmt: str, args: argparse.Namespace) -> None:
        self.fmt, self.text_field = fmt, args.text_field
        self.file = OutputFile(args.output, [args.input])
        self.view = None
        if fmt == "diff":
            from mtfix.render import DiffView

            self.view = DiffView(self.file.stream)

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


# --conservative --round-trip: the span decoder's settings for round-trip articles, chosen on synthetic dev
# (docs/decisions.md); its defaults are chosen on MLQE-PE dev, where edits without the
# source hurt
ROUND_TRIP = {"min_score": 0.7, "swap_score": 0.7}


def _round_trip_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--conservative", action="store_true",
                   help="for one-way MT where the source is the authority: the MiniLM span decoder "
                        "(models/corrector) at its bar chosen on MLQE-PE dev, which edits far less than the "
                        "default LM corrector (models/rewriter)")
    p.add_argument("--round-trip", action="store_true",
                   help="the default's behaviour (round-trip articles); with --conservative: the span decoder "
                        "at --min-score 0.7 --swap-score 0.7, unless given")


def _apply_round_trip(args: argparse.Namespace) -> None:
    """--conservative chooses the span decoder (a --corrector of its own); --round-trip with it fills in the
    decoder's round-trip settings that were not given."""
    if not getattr(args, "conservative", False):
        return
    from mtfix.models import shipped_corrector

    if getattr(args, "corrector", None):
        raise InputError("--conservative is the shipped span decoder: give it or --corrector, not both")
    if shipped_corrector() is None:
        raise InputError("--conservative needs the span decoder in models/corrector, and there is none")
    args.corrector = str(shipped_corrector())
    if getattr(args, "round_trip", False):
        for name, value in ROUND_TRIP.items():
            if getattr(args, name, None) is None:
                setattr(args, name, value)


PROBABILITIES = ("threshold", "min_score", "swap_score", "lm_gate")
AT_LEAST_ONE = ("batch_size", "workers", "chunk_size", "max_clean", "max_text_length")
AT_LEAST_ZERO = ("bootstrap", "synthetic", "apertium_per_pivot", "max_density", "seed")


def _check_options(args: argparse.Namespace) -> None:
    """Numbers out of range give a one-line error before any model loads (never a traceback later)."""
    def flag(name: str) -> str:
        return "--" + name.replace("_", "-")

    for name in PROBABILITIES:
        value = getattr(args, name, None)
        if value is not None and not 0.0 <= value <= 1.0:  # (NaN fails this too)
            raise InputError(f"{flag(name)} is a probability: give a value from 0 to 1, not {value:g}")
    if getattr(args, "lm_gate", None) is not None and (getattr(args, "fast", False)
                                                       or getattr(args, "method", None) not in (None, "fused")):
        raise InputError("--lm-gate is the fused detector's (it decides which segments the language model reads): "
                         "it goes with neither --fast nor another --method")
    for names, low in ((AT_LEAST_ONE, 1), (AT_LEAST_ZERO, 0)):
        for name in names:
            value = getattr(args, name, None)
            if value is not None and not value >= low:
                raise InputError(f"{flag(name)} must be at least {low}, not {value:g}")
    if getattr(args, "review", False):
        _apply_review(args)


def _apply_review(args: argparse.Namespace) -> None:
    """--review: the fused detector's review point (its review threshold, for text read alone where the input is,
    every segment read by the LM)."""
    from mtfix.detect import review_point

    if args.threshold is not None or args.lm_gate is not None:
        raise InputError("--review sets the threshold and the LM gate itself: give it without --threshold and "
                         "--lm-gate")
    if args.fast or args.method not in (None, "fused"):
        raise InputError("--review is a point of the fused detector: it goes with neither --fast nor another "
                         "--method")
    args.threshold, args.lm_gate = review_point(args.model, read_alone(args))


def cmd_fix(args: argparse.Namespace) -> int:
    from mtfix.api import fix_segments, load
    from mtfix.render import progress
    from mtfix.text.formats import read_segments

    if args.fast and args.method not in (None, "model"):
        raise InputError("--fast is the tagger alone: it goes with no --method, or --method model")
    fmt = args.format or ("text" if args.apply or args.output or args.interactive else "diff")
    if args.interactive:
        if args.input == "-":
            raise InputError("--interactive reads your answers from the terminal: give the text as a FILE, not -")
        if not sys.stdin.isatty():
            raise InputError("--interactive needs a terminal to ask in; without one use --format jsonl or --apply")
    segments = read_segments(args.input, args.input_format, args.text_field)
    first = next(segments, None)  # a missing, empty or binary input fails here, before any model loads
    segments = itertools.chain([first] if first else [], segments)
    mt = load(args.method, args.threshold, args.model, args.batch_size, args.fast, args.corrector, args.min_score,
              args.swap_score, args.lm_gate, args.device, alone=read_alone(args))
    writer = _FixWriter(fmt, args)
    bad = total = 0
    held: list[tuple[Any, Any]] = []  # --interactive: everything is reviewed before anything is written
    complete = False
    try:
        with progress("fixing", args.input) as advance:
            for segment, doc in fix_segments(mt, segments, args.batch_size):
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


def cmd_clean(args: argparse.Namespace) -> int:
    from mtfix.clean import CleanConfig, clean
    from mtfix.clean.corpus import check_input, count_records, guess_format
    from mtfix.render import corpus_progress

    if args.fast and args.method not in (None, "model"):
        raise InputError("--fast is the tagger alone: it goes with no --method, or --method model")
    config = CleanConfig(input=args.input, output=args.output, input_format=args.input_format,
                         output_format=args.output_format, text_field=args.text_field, policy=args.policy,
                         suggest=args.suggest, min_score=args.min_score, swap_score=args.swap_score,
                         max_density=args.max_density,
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


def _load_gold(path: str, part: str = "all") -> list[Any]:
    from mtfix.data.mlqe import MLQEError, read_mlqe
    from mtfix.text.formats import read_documents

    p = Path(path)
    if p.suffix.lower() == ".tsv":
        from mtfix.data.mqm import read_mqm

        return list(read_mqm(p, part))
    if p.is_dir() or path.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            return list(read_mlqe(p))
        except MLQEError as err:
            raise InputError(str(err)) from None
    return list(read_documents(path))


def cmd_score(args: argparse.Namespace) -> int:
    from mtfix.render import score_table
    from mtfix.score import AlignmentError, Settings, clean_rates, score
    from mtfix.text.formats import read_documents

    if not args.gold and not args.clean:
        raise InputError("give --gold and --pred, or --clean, or both (see mtfix score --help)")
    if bool(args.gold) != bool(args.pred):
        raise InputError("--gold and --pred go together")
    settings = Settings(args.threshold, args.normalise, args.bootstrap, args.seed)
    result: dict[str, Any] = {"signature": settings.signature()}
    if args.gold:
        try:
            result = score(_load_gold(args.gold, args.part), list(read_documents(args.pred)), settings)
        except AlignmentError as err:
            raise InputError(f"{args.pred} does not match {args.gold}: {err}") from None
    if args.clean:
        result["clean"] = clean_rates(list(read_documents(args.clean)), args.threshold)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(score_table(result, args.gold, args.pred, args.clean))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    if args.action in ("mlqe", "mqm"):
        from mtfix.text.formats import write_jsonl

        if args.action == "mqm" and not str(args.path or "").lower().endswith(".tsv"):
            raise InputError("mtfix data mqm needs an MQM .tsv file (e.g. ../shared/data/mqm/mqm-ted-zhen.tsv)")
        docs = _load_gold(args.path, args.part)
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
        raise InputError(f"{data_dir} does not hold mlqe-pe/ and corpora/ (see --data-dir)")
    synthetic = {"train": args.synthetic, "dev": max(1, args.synthetic // 20), "test": max(1, args.synthetic // 15)}
    config = BuildConfig(data_dir=data_dir, seed=args.seed, apertium_per_pivot=args.apertium_per_pivot,
                         synthetic_per_split=synthetic, mlqe=not args.no_mlqe, apertium=not args.no_apertium,
                         max_clean=args.max_clean, multi_word=args.multi_word,
                         lm_plausible=args.lm_plausible)
    command = "mtfix data build " + " ".join(sys.argv[3:]) if len(sys.argv) > 3 else "mtfix data build"
    run_build(config, Path(args.output), Path(args.card) if args.card else None, command,
              log=lambda msg: print(f"mtfix: {msg}", file=sys.stderr))
    return 0


TRAINERS = {"detector": ("tagger", "the artifact tagger, on the output of mtfix data build"),
            "fusion": ("fusion", "the head that fuses the tagger with language-model evidence"),
            "classes": ("classes", "the class head that names each span's kind of artifact"),
            "rewriter": ("rewriter", "LoRA adapters on SmolLM2 that rewrite a marked span (the default corrector)"),
            "corrector": ("span_decoder", "the span decoder on the detector's encoder states (--conservative)")}


def cmd_train(args: argparse.Namespace) -> int:
    import importlib

    module = importlib.import_module(f"mtfix.training.{TRAINERS[args.what][0]}")
    return int(module.main(args.rest))


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtfix", description="Find and repair machine-translation artifacts in English article text.")
    parser.add_argument("--version", action="version", version=f"mtfix {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("detect", help="flag artifact spans", description=(
        "Flag machine-translation artifacts. Input: plain text (one segment per line) or JSONL; "
        "'-' reads standard input. Output: the text with flagged spans highlighted, or JSONL."))
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
                        "190,000 dev and train news words for the fused detector, at 3 on dev news for --fast)")
    p.add_argument("--lm-gate", type=float, default=None, metavar="P",
                   help="the fused detector reads a segment with the language model only where the tagger's "
                        "highest P(BAD) in it reaches P; elsewhere the tagger's own P(BAD) stands (default: the "
                        "model's own; the shipped model's is 0: the language model reads every segment, since "
                        "wrong-sense words sit in lines the tagger finds clean; a gate such as 0.15 spares it "
                        "about half of clean news, for speed over recall)")
    p.add_argument("--alone", action="store_true", help=ALONE_HELP)
    _review_option(p)
    p.add_argument("--batch-size", type=int, default=32, help="segments per batch (default 32)")
    _device_option(p)
    p.add_argument("--input-format", default="auto", choices=["auto", "text", "jsonl"],
                   help="auto: JSONL for .jsonl/.json/.ndjson files, plain text otherwise")
    p.add_argument("--text-field", default="text", help="JSONL field holding the text (default: text)")
    p.add_argument("-o", "--output", help="write here instead of standard output")
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("score", help="score predictions against gold", description=(
        "Score detection and correction output against gold: word-level MCC and F1, span P/R/F0.5 (exact and "
        "partial overlap), edit P/R/F0.5, chrF and TER against the reference next to the unchanged input, and "
        "do-no-harm rates on clean text. Intervals are 95% bootstrap intervals over segments."))
    p.add_argument("--gold", help="gold JSONL, an MLQE-PE tarball or folder, or an MQM .tsv file (its raters' "
                                  "errors as spans labelled Severity:Category, recall reported per label)")
    p.add_argument("--part", choices=["dev", "held-out", "all"], default="all",
                   help="MQM gold: the development part, the held-out part (split by source segment), or all")
    p.add_argument("--pred", help="predictions JSONL (detection or correction format), same segments in order")
    p.add_argument("--clean", metavar="FILE", help="predictions on clean text: flags and edits per 1,000 words")
    p.add_argument("--threshold", type=float, default=0.0, help="ignore predictions scoring below this")
    p.add_argument("--normalise", action="store_true", help="compare fixes ignoring case and whitespace")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (0: no intervals)")
    p.add_argument("--seed", type=int, default=12345, help="bootstrap seed")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_score)

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
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"),
                   help="where mlqe-pe/ and corpora/ are (default: ../shared/data beside the checkout)")
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

    p = sub.add_parser("train", help="train a model", description=(
        "Train one of mtfix's models on the data set mtfix data build writes; 'mtfix train WHAT --help' lists each "
        "trainer's options. Data and model folders are arguments (--data, --out), never read from the checkout."))
    trainers = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    for what, (_, summary) in TRAINERS.items():
        t = trainers.add_parser(what, help=summary, add_help=False)
        t.add_argument("rest", nargs=argparse.REMAINDER)
        t.set_defaults(func=cmd_train)

    p = sub.add_parser("fix", help="propose fixes and review them", description=(
        "Detect artifacts and propose a fix for each flagged span (the seq2seq corrector in models/corrector; an "
        "edit only where it beats keeping the original). Output: a coloured word-level diff (deletions red, "
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
    p.add_argument("--min-score", type=float, default=None,
                   help="propose an edit only when its calibrated probability of being right reaches this "
                        "(default: the corrector's own, chosen on dev)")
    p.add_argument("--swap-score", type=float, default=None,
                   help="the bar for meaning swaps (a content word put in place of an unrelated one: 'guides' -> "
                        "'leaders'), when above --min-score; lower it for round-trip articles, where wrong-sense "
                        "words are common (default: the corrector's own, chosen on dev)")
    _round_trip_option(p)
    p.add_argument("--interactive", action="store_true",
                   help="review each edit in the terminal: accept, reject, pick an alternative, type your own, "
                        "undo, quit and save; then write the text with the accepted edits")
    _model_options(p)
    _review_option(p)
    p.add_argument("--input-format", default="auto", choices=["auto", "text", "jsonl"])
    p.add_argument("--text-field", default="text", help="JSONL field holding the text (default: text)")
    p.set_defaults(func=cmd_fix)

    p = sub.add_parser("clean", help="clean a whole corpus, resumably", description=(
        "Run a corpus through the detector (and, with --policy fix or --suggest, the corrector). Every input "
        "record is written to OUT in input order with fields added: spans, density (flagged words per 100), and "
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
                        "route records above --max-density to OUT.filtered (same format)")
    p.add_argument("--suggest", action="store_true", help="annotate/filter: run the corrector too and add its edits")
    p.add_argument("--min-score", type=float, default=None, help="the corrector's edit threshold (fix, --suggest)")
    p.add_argument("--swap-score", type=float, default=None,
                   help="the corrector's bar for meaning swaps (fix, --suggest; see mtfix fix --help)")
    _round_trip_option(p)
    p.add_argument("--max-density", type=float, default=10.0,
                   help="filter: records with more flagged words per 100 than this are filtered (default 10)")
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
    _model_options(p)
    p.set_defaults(func=cmd_clean)

    p = sub.add_parser("serve", help="answer LanguageTool's HTTP API, for editors", description=(
        "Serve mtfix over LanguageTool's HTTP API (/v2/check, /v2/languages, /v2/healthcheck, /v2/maxtextlength), "
        "so that any LanguageTool client (ltex in VS Code, Obsidian's LanguageTool plugins, Emacs' langtool, "
        "browser add-ons) pointed at http://HOST:PORT shows mtfix's flags and fixes inline; and a review page at "
        "http://HOST:PORT/. The models load once, then requests are answered; concurrent requests are read "
        "together. Ctrl-C or SIGTERM stops it after the requests in flight."))
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1: this "
                                                        "machine only; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8081, help="the port (default 8081, LanguageTool's own)")
    p.add_argument("--fast", action="store_true", help="detect with the tagger alone (no language model)")
    p.add_argument("--threshold", type=float, default=None, help="detection threshold (as in detect); a "
                   "request with level=picky flags at 0.7 of it")
    p.add_argument("--no-fix", action="store_true",
                   help="flags only, with the detector's own candidates as replacements (no corrector: faster)")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes, each loading the models (at most one per core)")
    p.add_argument("--max-text-length", type=int, default=50_000,
                   help="the longest text accepted, in UTF-16 units as LanguageTool counts (default 50000)")
    p.add_argument("--allow-origin", default="*",
                   help="the Access-Control-Allow-Origin for browser clients (default *)")
    p.add_argument("--model", help="a trained detector folder instead of models/detector")
    p.add_argument("--corrector", help="a trained corrector folder (LM rewriter adapters, or a span decoder) "
                                       "instead of models/rewriter")
    p.add_argument("--conservative", action="store_true",
                   help="replacements from the MiniLM span decoder (models/corrector: faster, and far fewer) "
                        "instead of the LM corrector")
    p.set_defaults(func=cmd_serve)
    return parser


def cmd_serve(args: argparse.Namespace) -> int:
    from mtfix.clean import check_workers
    from mtfix.serve.app import ServeConfig, serve

    check_workers(args.workers, args.fast)
    if not 0 < args.port < 65536:
        raise InputError(f"--port must be from 1 to 65535, not {args.port}")
    print(f"mtfix: loading the models, then serving http://{args.host}:{args.port}/ (the LanguageTool API at "
          f"/v2/check; Ctrl-C stops)", file=sys.stderr)
    serve(args.host, args.port, args.workers, args.fast, args.threshold, args.model, args.corrector,
          not args.no_fix, ServeConfig(max_text_length=args.max_text_length, allow_origin=args.allow_origin))
    return 0


ALONE_HELP = ("read each segment alone. By default the lines of a plain-text file are read as one document, each "
              "after the sentences before it, where the detector was fitted to read them so (records of JSONL, "
              "and for clean of CSV, parquet and datasets, are each read alone): give --alone for a file of "
              "unrelated sentences. Text read alone is flagged at "
              "the detector's threshold for it (higher: SmolLM2 finds a sentence without its context less fluent)")


def _model_options(p: argparse.ArgumentParser) -> None:
    """The options that choose the models, shared by fix and clean."""
    p.add_argument("--fast", action="store_true", help="detect with the tagger alone (no language model)")
    p.add_argument("--method", default=None, choices=list(METHODS), help="detection method (as in detect)")
    p.add_argument("--threshold", type=float, default=None, help="detection threshold (as in detect)")
    p.add_argument("--lm-gate", type=float, default=None, metavar="P",
                   help="the fused detector's language-model gate (as in detect)")
    p.add_argument("--alone", action="store_true", help=ALONE_HELP)
    p.add_argument("--model", help="a trained detector folder instead of models/detector")
    p.add_argument("--corrector", help="a trained corrector folder (LM rewriter adapters, or a span decoder) "
                                       "instead of models/rewriter")
    p.add_argument("--batch-size", type=int, default=32, help="segments per batch (default 32)")
    _device_option(p)


def _review_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--review", action="store_true",
                   help="the review point, for one article under your eyes: every segment read by the language "
                        "model and a lower threshold (fitted at 10 flags per 1,000 words of clean news, against "
                        "the default's 2.25): more of the wrong-sense words, more false flags to pass over")


def _device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", metavar="{auto,cpu,cuda}",
                   help="where the models run: auto (default) is a CUDA GPU where there is one, else the CPU; "
                        "cuda or cuda:N asks for a GPU (an error where there is none)")


def _quiet_transformers() -> None:
    """transformers' loading bars and notes about our own model classes are noise to a user of the CLI."""
    import os

    if os.environ.get("MTFIX_VERBOSE"):
        return
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) >= 2 and argv[0] == "train" and argv[1] in TRAINERS:
        # each trainer parses its own options (argparse would take them for mtfix's own)
        args = argparse.Namespace(command="train", what=argv[1], rest=argv[2:], func=cmd_train)
    else:
        args = parser.parse_args(argv)
    _quiet_transformers()
    previous = _terminate_as_interrupt()
    try:
        _apply_round_trip(args)
        _check_options(args)
        if args.command == "data" and args.action in ("mlqe", "mqm") and not args.path:
            raise InputError(f"mtfix data {args.action} needs the path of "
                             + ("an MLQE-PE tarball or folder" if args.action == "mlqe" else "an MQM .tsv file"))
        code = int(args.func(args))
        sys.stdout.flush()  # a full disk or closed pipe behind standard output is reported here, in one line
        return code
    except MtfixError as err:
        print(f"mtfix: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("mtfix: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _drop_stdout()
        return 0
    except OSError as err:  # an output that cannot be written (a full disk, standard output to /dev/full)
        _drop_stdout()
        where = f" {err.filename}" if err.filename else ""
        print(f"mtfix: cannot write{where}: {err.strerror or err}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)


def _terminate_as_interrupt() -> Any:
    """SIGTERM (kill, a job scheduler's stop) unwinds as Ctrl-C does, so that temporary files are removed and the
    checkpoint is closed; `mtfix serve` installs its own handlers while it runs. Returns the handler it replaced."""
    import signal
    import threading

    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, interrupt)


def _drop_stdout() -> None:
    """Point standard output at /dev/null, so that Python's own flush at exit does not fail a second time."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
