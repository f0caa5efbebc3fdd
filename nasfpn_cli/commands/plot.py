"""``nasfpn plot``: training curves of a run folder as PNG files."""
from __future__ import annotations

import click


@click.command(name="plot")
@click.argument("run_dir", type=click.Path(exists=True, path_type=str))
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=str),
              help="Where the PNG files go (default: RUN_DIR).")
def command(run_dir: str, output_dir: str | None) -> int:
    """Plot losses, learning rate and AP of RUN_DIR (its metrics.jsonl) as PNG files."""
    from ..console import console
    from ..engine.plotting import plot_run

    for path in plot_run(run_dir, output_dir):
        console.print(f"wrote {path}")
    return 0
