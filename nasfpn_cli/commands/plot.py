"""``nasfpn plot``: training curves of a run folder as PNG files, or of several runs on one
chart each."""
from __future__ import annotations

import click


@click.command(name="plot")
@click.argument("run_dirs", nargs=-1, required=True, metavar="RUN_DIR...",
                type=click.Path(exists=True, path_type=str))
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=str),
              help="Where the PNG files go (default: RUN_DIR; with several runs, the current "
                   "folder).")
def command(run_dirs: tuple[str, ...], output_dir: str | None) -> int:
    """Plot losses, learning rate and AP of RUN_DIR (its metrics.jsonl) as PNG files. Given
    several runs, compare_ap.png and compare_loss.png put them on one chart against training
    seconds."""
    from ..console import console
    from ..engine.plotting import plot_run, plot_runs

    if len(run_dirs) == 1:
        written = plot_run(run_dirs[0], output_dir)
    else:
        written = plot_runs(list(run_dirs), output_dir or ".")
    for path in written:
        console.print(f"wrote {path}", markup=False)
    return 0
