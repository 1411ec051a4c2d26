"""`mtfix serve`: LanguageTool's HTTP API and the review page (the work is mtfix.serve's)."""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

from mtfix.cli.options import correct_settings
from mtfix.errors import InputError
from mtfix.settings import ServeSettings


def parser_serve(sub: Any) -> None:
    """The `mtfix serve` command's options."""
    p = sub.add_parser("serve", help="answer LanguageTool's HTTP API, for editors", description=(
        "Serve mtfix over LanguageTool's HTTP API (/v2/check, /v2/languages, /v2/healthcheck, /v2/maxtextlength), "
        "so that any LanguageTool client (ltex in VS Code, Obsidian's LanguageTool plugins, Emacs' langtool, "
        "browser add-ons) pointed at http://HOST:PORT shows mtfix's flags and fixes inline; and a review page at "
        "http://HOST:PORT/. The models load once, then requests are answered; concurrent requests are read "
        "together. Ctrl-C or SIGTERM stops it after the requests in flight."))
    ServeSettings.options(p, ("host", "port", "fast"))
    ServeSettings.options(p, ("threshold",), threshold="detection threshold (as in detect); a request with "
                                                       "level=picky flags at 0.7 of it")
    ServeSettings.options(p, ("no_fix", "workers", "max_text_length", "allow_origin", "model", "corrector"))
    ServeSettings.options(p, ("conservative",), conservative="replacements from the MiniLM span decoder "
                          "(models/corrector: faster, and far fewer) instead of the LM corrector")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from mtfix.clean import check_workers

    settings = ServeSettings.from_args(args, **asdict(correct_settings(args)))
    try:
        from mtfix.serve.app import serve
    except ImportError as err:
        raise InputError(f"mtfix serve needs its web stack ({err.name} is missing): pip install 'mtfix[serve]'") \
            from None
    check_workers(settings.workers, settings.fast)
    print(f"mtfix: loading the models, then serving http://{settings.host}:{settings.port}/ (the LanguageTool API "
          f"at /v2/check; Ctrl-C stops)", file=sys.stderr)
    serve(settings)
    return 0
