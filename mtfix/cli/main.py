"""The mtfix command line: one module per command, each adding its parser and running it; this one joins them
and turns every error into one line."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from mtfix import __version__
from mtfix.cli.clean import parser_clean
from mtfix.cli.data import parser_data
from mtfix.cli.detect import parser_detect
from mtfix.cli.fix import parser_fix
from mtfix.cli.options import check_numbers
from mtfix.cli.score import parser_score
from mtfix.cli.serve import parser_serve
from mtfix.cli.train import TRAINERS, cmd_train, parser_train
from mtfix.errors import InputError, MtfixError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mtfix", description="Find and repair machine-translation artifacts in English article text.")
    parser.add_argument("--version", action="version", version=f"mtfix {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser_detect(sub)
    parser_score(sub)
    parser_data(sub)
    parser_train(sub)
    parser_fix(sub)
    parser_clean(sub)
    parser_serve(sub)
    return parser


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
        if args.command in ("data", "score"):
            check_numbers(args)  # the stages' settings check their own as they are made
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
