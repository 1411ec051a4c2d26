"""Where mtfix writes: checks that an output never lands on an input, a folder or a file mtfix did not make,
and text outputs written whole or not at all."""
from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable

from mtfix.errors import InputError


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (through relative paths, symlinks and hard links)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def is_special(path: str) -> bool:
    """A device, FIFO or socket: written through, never renamed over."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def check_output(path: str, inputs: Iterable[str], option: str = "-o", folder_ok: bool = False) -> None:
    """Refuse, in one line, an output that is one of the inputs, or an existing folder (unless ``folder_ok``)."""
    for source in inputs:
        if source not in (None, "-") and same_file(path, source):
            raise InputError(f"{option} {path} is the input {source}; the input is never modified: write elsewhere")
    if Path(path).is_dir() and not folder_ok:
        raise InputError(f"{option} {path} is a folder: give a file name (mtfix never writes over a folder)")


def temporary_beside(path: str, folder: bool = False) -> str:
    """A new, unique temporary file (or folder) beside ``path``, named after it: where an output is written
    before it is renamed into place."""
    where = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(path)}."
    if folder:
        return tempfile.mkdtemp(prefix=prefix, suffix=".part", dir=where)
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=where)
    os.close(fd)
    return name


def umask() -> int:
    """The process's umask, read without changing it where Linux tells it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def place(tmp: str, path: str) -> None:
    """Rename a finished temporary file or folder over ``path`` with the mode ``path`` has (a file replaced
    keeps its mode), else the mode the umask gives a new one: temporaries are made private (0600, 0700)."""
    folder = os.path.isdir(tmp)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if os.path.isdir(path) != folder:
            raise FileNotFoundError
    except OSError:
        mode = (0o777 if folder else 0o666) & ~umask()
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_error(path: str, err: OSError) -> InputError:
    return InputError(f"cannot write {path}: {err.strerror or err}")


class OutputFile:
    """A text output: standard output for None or '-'; a device or FIFO written through; a regular file
    written under a temporary name beside it and renamed into place by ``commit`` (whole or not at all)."""

    def __init__(self, path: str | None, inputs: Iterable[str] = ()) -> None:
        self.path = None if path in (None, "-") else path
        self.tmp: str | None = None
        if self.path is None:
            self.stream: Any = sys.stdout
            return
        check_output(self.path, inputs)
        try:
            if is_special(self.path):
                self.stream = open(self.path, "w", encoding="utf-8")
            else:
                self.tmp = temporary_beside(self.path)
                self.stream = open(self.tmp, "w", encoding="utf-8", newline="")
        except OSError as err:
            raise write_error(self.path, err) from None

    def write(self, text: str) -> None:
        try:
            self.stream.write(text)
        except OSError as err:
            raise write_error(self.path or "standard output", err) from None

    def close(self, complete: bool = True) -> None:
        """Finish: on success rename the temporary file into place; otherwise remove it."""
        if self.path is None:
            try:
                self.stream.flush()
            except OSError as err:
                if complete:
                    raise write_error("standard output", err) from None
            return
        wanted = complete
        try:
            self.stream.close()
        except OSError as err:
            complete = False
            failure: OSError | None = err
        else:
            failure = None
        if self.tmp is not None:
            if complete:
                try:
                    place(self.tmp, self.path)
                except OSError as err:
                    failure = err
            if not complete or failure is not None:
                Path(self.tmp).unlink(missing_ok=True)
        if failure is not None and wanted:  # after a failure elsewhere, that failure is the one to report
            raise write_error(self.path, failure)

    def __enter__(self) -> "OutputFile":
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        self.close(complete=kind is None)
