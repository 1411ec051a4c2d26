"""`mtfix score`: detection and correction against gold, and do-no-harm rates on clean text."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mtfix.errors import InputError


def load_gold(path: str, part: str = "all") -> list[Any]:
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
            result = score(load_gold(args.gold, args.part), list(read_documents(args.pred)), settings)
        except AlignmentError as err:
            raise InputError(f"{args.pred} does not match {args.gold}: {err}") from None
    if args.clean:
        result["clean"] = clean_rates(list(read_documents(args.clean)), args.threshold)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(score_table(result, args.gold, args.pred, args.clean))
    return 0


def parser_score(sub: Any) -> None:
    """The `mtfix score` command's options."""
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
