"""The rich progress bar used by training and evaluation (ETA plus a free-text status field)."""
from __future__ import annotations

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from ..console import err_console


def make_progress(enabled: bool = True) -> Progress:
    """A progress bar on stderr; ``status`` (losses, lr, images/s) is shown after the ETA.
    Disabled, it is a silent no-op with the same interface."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=err_console,
        disable=not enabled,
        transient=False,
    )
