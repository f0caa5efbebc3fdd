"""``nasfpn compare``: genotypes, run folders and search folders side by side on one static HTML
page (table, drawings, AP-vs-cost scatter plots with the Pareto front, training curves)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from .inference_settings import inference_options
from .model_options import model_options, spec_from_options


@click.command(name="compare")
@click.argument("models", nargs=-1, metavar="GENOTYPE|RUN|SEARCH...")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("compare.html"), show_default=True, help="The HTML page to write.")
@click.option("--top", type=click.IntRange(min=1), default=3, show_default=True,
              help="Architectures taken from each search folder (best reward first).")
@inference_options("image_size", "latency_runs", "device")
@model_options()
@click.option("--title", default="nasfpn compare", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Also print the table as JSON.")
def command(models: tuple[str, ...], output: Path, top: int, image_size: int | None,
            latency_runs: int, device: str, title: str, as_json: bool, **model) -> int:
    """Write one offline HTML page comparing GENOTYPE files/names, RUN folders (nasfpn train)
    and SEARCH folders (nasfpn search: their --top best architectures).

    Run folders bring their stored model, best validation AP, per-class AP and training curves;
    genotypes and searched architectures are built with the model options. Every model's
    parameters, MACs and latency are measured here at one image size.
    """
    from ..errors import UsageError

    if not models:
        raise UsageError("nothing to compare",
                         hint="name genotypes, run folders or search folders, e.g. "
                              "nasfpn compare fpn nasfpn runs/a")
    from ..console import console, err_console
    from ..engine.distributed import resolve_device
    from ..report import collect_entries, measure_entries, write_compare_page
    from ..report.entries import entry_sources, shared_image_size
    from ..utils import refuse_inputs

    entries = collect_entries(models, top)
    refuse_inputs(output, entry_sources(entries))  # before minutes of measuring
    size = image_size or shared_image_size(entries)
    where = str(resolve_device(device))
    with err_console.status("measuring...", spinner="dots") as status:
        measure_entries(entries, lambda genotype: spec_from_options(genotype, **model),
                        image_size=size, device=where, latency_runs=latency_runs,
                        on_step=lambda message: status.update(message))
    path = write_compare_page(entries, output, image_size=size, device=where, title=title)
    if as_json:
        click.echo(json.dumps({"output": str(path), "image_size": size,
                               "entries": [e.to_dict() for e in entries]}, indent=2))
    else:
        console.print(f"wrote {path} ({len(entries)} models)", markup=False)
    return 0
