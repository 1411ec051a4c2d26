"""`mtfix serve`: LanguageTool's HTTP API and the review page (the work is mtfix.serve's)."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from mtfix.errors import InputError


def parser_serve(sub: Any) -> None:
    """The `mtfix serve` command's options."""
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


def cmd_serve(args: argparse.Namespace) -> int:
    from mtfix.clean import check_workers

    try:
        from mtfix.serve.app import ServeConfig, serve
    except ImportError as err:
        raise InputError(f"mtfix serve needs its web stack ({err.name} is missing): pip install 'mtfix[serve]'") \
            from None
    check_workers(args.workers, args.fast)
    if not 0 < args.port < 65536:
        raise InputError(f"--port must be from 1 to 65535, not {args.port}")
    print(f"mtfix: loading the models, then serving http://{args.host}:{args.port}/ (the LanguageTool API at "
          f"/v2/check; Ctrl-C stops)", file=sys.stderr)
    serve(args.host, args.port, args.workers, args.fast, args.threshold, args.model, args.corrector,
          not args.no_fix, ServeConfig(max_text_length=args.max_text_length, allow_origin=args.allow_origin))
    return 0
