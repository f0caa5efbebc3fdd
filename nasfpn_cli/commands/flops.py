"""``nasfpn flops``: parameters, multiply-adds and FLOPs of RetinaNet networks (or necks) built from
genotypes, counted with fvcore; one genotype in detail, several side by side."""
from __future__ import annotations

import json
from contextlib import nullcontext
from typing import Any

import click

from .inference_settings import inference_options
from .model_options import model_options, spec_from_options


@click.command(name="flops")
@click.argument("genotypes", nargs=-1, required=True, metavar="GENOTYPE...")
@model_options()
@inference_options("image_size", "neck_only", image_size=640)
@model_options("exit_at")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: one object per genotype (a list when several).")
def command(genotypes: tuple[str, ...], image_size: int, neck_only: bool,
            exit_at: int | None, as_json: bool, **model: Any) -> int:
    """Count parameters, MACs (multiply-adds) and FLOPs (2 x MACs) of GENOTYPE(s).

    GENOTYPE is a file or a bundled name (see `nasfpn list`). The count covers the raw network
    (backbone, neck, head up to raw outputs) for one image, or the neck alone with --neck-only.
    """
    from ..console import console, err_console

    if exit_at is not None:
        if neck_only:
            from ..errors import UsageError

            raise UsageError("--exit-at counts the network up to a stack; it does not combine "
                             "with --neck-only")
        model["exit_at"] = exit_at
    reports = []
    with err_console.status("counting...", spinner="dots") if err_console.is_terminal else nullcontext():
        for index, genotype in enumerate(genotypes, 1):
            if err_console.is_terminal:
                err_console.print(f"counting {genotype} ({index}/{len(genotypes)})",
                                  markup=False, style="dim")
            reports.append(_count(spec_from_options(genotype, **model), image_size, neck_only))
    if as_json:
        payload = [r.to_dict() for r in reports]
        click.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
        return 0
    if len(reports) == 1:
        from ..analysis.flop_tables import render_report

        console.print(render_report(reports[0]))
    else:
        from ..analysis.flop_tables import comparison_table

        console.print(comparison_table(reports))
    return 0


def _count(spec, image_size: int, neck_only: bool):
    """The cost report of the network (or neck) ``spec`` describes (torch imported here)."""
    from ..analysis.counting import count_neck, count_network

    if neck_only:
        return count_neck(spec, image_size=image_size)
    return count_network(spec, image_size)
