"""The mtfix command line (`mtfix COMMAND`): main.py joins one module per command."""
from mtfix.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
