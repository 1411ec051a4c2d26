"""Errors meant for people: the CLI prints their message on one line and exits non-zero."""


class MtfixError(Exception):
    """A problem the user can fix; its message is the whole story."""

    exit_code = 1


class InputError(MtfixError):
    """An input file that cannot be read as asked."""


class NotBuiltError(MtfixError):
    """A model the command needs is not there (not found where mtfix looks, or not trained yet)."""

    exit_code = 2
