"""Shared click parameter types: numbers that must be finite and in range, image sizes that fit in
memory, and output folders checked before any work starts.

Every command takes its numeric options through these types, so ``--lr inf``, a ``nan``
threshold, ``--momentum 5`` or ``--image-size 100000000`` are usage errors (exit 2) naming the
option, raised while the command line is parsed: before torch is imported or any file written.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import click

from ..errors import NasfpnError
from ..limits import (MAX_BATCH_SIZE, MAX_CHANNELS, MAX_IMAGE_SIZE, MAX_NUM_CLASSES, MAX_SEED,
                      MAX_STACK, max_local_processes)
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


PROBABILITY = finite(0.0, 1.0)
POSITIVE = finite(0.0, min_open=True)
NON_NEGATIVE = finite(0.0)
STACK = click.IntRange(1, MAX_STACK)
CHANNELS = click.IntRange(1, MAX_CHANNELS)
BATCH_SIZE = click.IntRange(1, MAX_BATCH_SIZE)
NUM_CLASSES = click.IntRange(1, MAX_NUM_CLASSES)
# seeds: numpy takes 0 .. 2**32 - 1, and every seed reaches numpy somewhere
SEED = click.IntRange(0, MAX_SEED)
# data loader workers: processes on this machine
LOADER_WORKERS = click.IntRange(0, max_local_processes())


def image_size(min: int = 64) -> click.IntRange:
    """A square image side in pixels, from ``min`` up to :data:`MAX_IMAGE_SIZE`."""
    return click.IntRange(min, MAX_IMAGE_SIZE)


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
