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

from ..errors import NasfpnError, UsageError
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


# what a settings file's value must be for an option of each click type, before click converts
# it (click cuts 2.5 to 2 for a whole number, and reads a lone string as a list of characters)
FILE_VALUE_TYPES: tuple[tuple[type, tuple[type, ...], str], ...] = (
    (click.types.BoolParamType, (bool,), "true or false"),
    (click.types.IntParamType, (int,), "a whole number"),
    (click.types.FloatParamType, (int, float), "a number"),
    (click.types.StringParamType, (str,), "text"),
    (click.Choice, (str,), "text"),
    (click.Path, (str,), "text"))


def check_file_values(ctx: click.Context, values: dict[str, Any], source: str,
                      keys: dict[str, str] | None = None) -> dict[str, Any]:
    """``values`` (parameter -> value) that a settings file gives the options of ``ctx``'s
    command, each checked as that option's own value: its type, then its range, choices and
    finiteness. A bad one is a usage error naming ``source`` (``--config FILE``) and the key
    as the file writes it (``keys``: parameter -> key; an option nobody typed is no help).
    Returns the values, a lone text made a list where an option is repeatable; null (an option
    left unset, as ``--print-config`` writes it) and parameters with a parsing callback pass."""
    params = {param.name: param for param in ctx.command.params}
    checked = dict(values)
    for name, value in values.items():
        param = params.get(name)
        if param is None or value is None or param.callback is not None:
            continue
        key = (keys or {}).get(name, name)
        items = value if param.multiple and isinstance(value, (list, tuple)) else (value,)
        for allowed, words in (entry[1:] for entry in FILE_VALUE_TYPES
                                      if isinstance(param.type, entry[0])):
            wrong = [item for item in items
                     if not isinstance(item, allowed) or isinstance(item, bool) != (bool in allowed)]
            if wrong:
                raise UsageError(f"{source}: {key} must be {words}, got {wrong[0]!r}")
            break
        value = tuple(items) if param.multiple else value
        try:
            param.type_cast_value(ctx, value)
        except click.BadParameter as exc:
            raise UsageError(f"{source}: {key}: {exc.message}") from None
        checked[name] = value
    return checked
