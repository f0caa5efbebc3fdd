"""The one rich Console of the tool, and the way errors and diagnostics are printed.

Text that comes from input files or the command line (category, file and genotype names, error
messages quoting them) is *untrusted*: it is never parsed as rich markup, and its control
characters (escape sequences that could move the cursor, retitle the terminal or hide text) are
shown as visible escapes by :func:`safe_text` before they reach the terminal.
"""
from __future__ import annotations

import errno
import os
import re

from rich.console import Console
from rich.segment import Segment
from rich.text import Text

from .untrusted import UNSAFE_CHARACTERS as _UNSAFE


def _escaped(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: object) -> str:
    """``str(text)`` with every control character replaced by a visible ``\\xNN`` escape."""
    return _UNSAFE.sub(_escaped, str(text))


class SafeConsole(Console):
    """A rich Console for untrusted text: markup is off unless a call asks for it
    (``markup=True``), emoji codes are never replaced (``e:warning:.txt`` stays itself), and
    every control character in the text it writes is shown as an escape. Only rich's own
    styles and cursor movements (control segments) reach the terminal raw."""

    def __init__(self, **options) -> None:
        options.setdefault("markup", False)
        options.setdefault("emoji", False)
        super().__init__(**options)

    def _render_buffer(self, buffer) -> str:
        safe = (segment if segment.control else Segment(safe_text(segment.text), segment.style)
                for segment in buffer)
        return super()._render_buffer(safe)


console = SafeConsole(highlight=False, soft_wrap=True)
err_console = SafeConsole(stderr=True, highlight=False, soft_wrap=True)


def safe_json(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with the unsafe characters JSON
    leaves raw (DEL, C1 controls, bidi overrides) written as ``\\uNNNN`` escapes: still the same
    JSON, and safe on a terminal. (JSON escapes C0 controls itself.)"""
    return _UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def plain(text: object, style: str = "") -> Text:
    """Untrusted text as a rich :class:`Text` (for table cells and the like): no markup, no
    control characters."""
    return Text(safe_text(text), style=style)


def print_error(message: str) -> None:
    """Print ``error: MESSAGE`` to stderr (markup-free, so user text is never interpreted)."""
    err_console.print("[bold red]error:[/] ", end="", markup=True)
    err_console.print(safe_text(message), markup=False)


def print_warning(message: str) -> None:
    err_console.print("[bold yellow]warning:[/] ", end="", markup=True)
    err_console.print(safe_text(message), markup=False)


# a file with 20,000 broken lines must not print 60,000 lines: the first ones, then a count
MAX_SHOWN_DIAGNOSTICS = 50


def capped(items: list, limit: int = MAX_SHOWN_DIAGNOSTICS) -> tuple[list, int]:
    """The first ``limit`` items and how many were left out."""
    return items[:limit], max(len(items) - limit, 0)


def print_diagnostics(diagnostics, more_hint: str = "") -> None:
    """Print located diagnostics, compiler style, to stderr: at most
    :data:`MAX_SHOWN_DIAGNOSTICS`, then a line counting the rest (``more_hint`` says where
    they all are, e.g. ``--json``)."""
    shown, rest = capped(list(diagnostics))
    for diag in shown:
        err_console.print(safe_text(diag.render()), markup=False)
    if rest:
        err_console.print(f"... and {rest} more not shown" + (f" ({more_hint})" if more_hint
                                                               else ""), markup=False)


# errno -> what to do about it, for the hint under a system error
_SYSTEM_HINTS = {
    errno.ENOSPC: "the disk is full: free some space or write somewhere else",
    errno.EDQUOT: "the disk quota is used up: free some space or write somewhere else",
    errno.EROFS: "that file system is read-only: write somewhere else",
    errno.EACCES: "no permission there: write somewhere else",
    errno.EPERM: "not permitted there: write somewhere else",
}


def system_error_message(exc: OSError, what: str | None = None) -> str:
    """An OSError as ``PATH: reason`` (and a hint for the usual causes), for ``print_error``."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    where = what or exc.filename or "writing the output"
    message = f"{where}: {reason}"
    if exc.filename2:
        message = f"{exc.filename} -> {exc.filename2}: {reason}"
    hint = _SYSTEM_HINTS.get(exc.errno or -1)
    return message + (f"\nhint: {hint}" if hint else "")
