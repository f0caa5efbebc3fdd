"""Shared click parameter types: numbers that must be finite and in range, and output folders
checked before any work starts.

The options generated from declared settings (:mod:`.settings_options`) take their numbers
through :class:`FiniteFloat` and ``click.IntRange`` with the declared bounds (from
``limits.py``), so ``--lr inf``, a ``nan`` threshold, ``--momentum 5`` or ``--image-size
100000000`` are usage errors (exit 2) naming the option, raised while the command line is
parsed: before torch is imported or any file written.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import click

from ..errors import NasfpnError
from ..run_lock import missing_folders, remove_empty_folders


class FiniteFloat(click.FloatRange):
    """A float that is finite (no inf, -inf or nan) and within the given bounds."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.types.FloatParamType.convert(self, value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)

    def _describe_range(self) -> str:
        """No range in the help when there is none (click would print "x<=None")."""
        return "" if self.min is None and self.max is None else super()._describe_range()


def finite(min: float | None = None, max: float | None = None, *, min_open: bool = False,
           max_open: bool = False) -> FiniteFloat:
    """Shorthand: ``finite(0, 1)`` is a finite float in [0, 1]."""
    return FiniteFloat(min, max, min_open=min_open, max_open=max_open)


def finite_number(text: str) -> float:
    """``float(text)``, refusing inf and nan (for options that parse lists of numbers)."""
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    return number


class OutputDir(click.ParamType):
    """A folder to write results into, tried while the command line is parsed: an existing file,
    a read-only or virtual file system path (``/proc``) or a full disk is an error (exit 1)
    naming the option and the path before any long work starts. Returns the path as a string."""

    name = "folder"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Path):
            value = str(value)
        require_writable_folder(value, "/".join(param.opts) if param else "output folder")
        return value


def require_writable_folder(path: str | Path, option: str) -> None:
    """Raise NasfpnError (exit 1) naming ``option`` and ``path`` unless results can be written
    into folder ``path`` (for commands that check it only when they run, not while parsing)."""
    if not str(path):
        raise NasfpnError(f"{option}: an empty path is not a folder")
    problem = writable_folder_problem(Path(path))
    if problem:
        raise NasfpnError(f"{option} {path}: {problem}")


def writable_folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used as an output folder (None when it can). Tries creating it and a
    file in it, then removes what it created, so a refused command leaves nothing behind."""
    if path.exists() and not path.is_dir():
        return "exists and is not a folder"
    created = missing_folders(path)
    try:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"cannot create the folder ({_reason(exc)})"
        probe = path / f".nasfpn-write-test-{os.getpid()}"
        try:
            with open(probe, "wb") as handle:
                handle.write(b"x")
        except OSError as exc:
            return f"cannot write files there ({_reason(exc)})"
        finally:
            _remove(probe)
    finally:
        remove_empty_folders(created)
    return None


def _reason(exc: OSError) -> str:
    return os.strerror(exc.errno) if exc.errno else str(exc)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
