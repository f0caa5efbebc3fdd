"""The one rich Console of the tool, and the way errors and diagnostics are printed."""
from __future__ import annotations

import sys

from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: str) -> None:
    """Print ``error: MESSAGE`` to stderr (markup-free, so user text is never interpreted)."""
    err_console.print("[bold red]error:[/] ", end="")
    err_console.print(message, markup=False)


def print_warning(message: str) -> None:
    err_console.print("[bold yellow]warning:[/] ", end="")
    err_console.print(message, markup=False)


def print_diagnostics(diagnostics) -> None:
    """Print located diagnostics, compiler style, to stderr."""
    for diag in diagnostics:
        err_console.print(diag.render(), markup=False)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
