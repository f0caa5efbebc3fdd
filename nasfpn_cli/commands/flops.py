"""``nasfpn flops``: parameters, multiply-adds and FLOPs of RetinaNet networks (or necks) built from
genotypes, counted with fvcore; one genotype in detail, several side by side."""
from __future__ import annotations

import json
from contextlib import nullcontext

import click

BACKBONE_HELP = "resnet10, resnet18, resnet34, resnet50, resnet101 or mobilenetv2"


@click.command(name="flops")
@click.argument("genotypes", nargs=-1, required=True, metavar="GENOTYPE...")
@click.option("--backbone", default="resnet50", show_default=True, help=f"Backbone: {BACKBONE_HELP}.")
@click.option("--image-size", type=click.IntRange(min=1), default=640, show_default=True,
              help="Square input side in pixels (padded up to a multiple of 128 as the network does).")
@click.option("--stack", type=click.IntRange(min=1), default=None,
              help="Stacked copies of the pyramid [default: the file's, else 7].")
@click.option("--channels", type=click.IntRange(min=1), default=None,
              help="Pyramid channels [default: the file's, else 256].")
@click.option("--num-classes", type=click.IntRange(min=1), default=80, show_default=True)
@click.option("--head-norm", type=click.Choice(["gn", "bn", "none"]), default="gn", show_default=True,
              help="Normalisation in the RetinaNet head.")
@click.option("--neck-only", is_flag=True, help="Count the neck alone (laterals and cells).")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: one object per genotype (a list when several).")
def command(genotypes: tuple[str, ...], backbone: str, image_size: int, stack: int | None,
            channels: int | None, num_classes: int, head_norm: str, neck_only: bool,
            as_json: bool) -> int:
    """Count parameters, MACs (multiply-adds) and FLOPs (2 x MACs) of GENOTYPE(s).

    GENOTYPE is a file or a bundled name (see `nasfpn list`). The count covers the raw network
    (backbone, neck, head up to raw outputs) for one image, or the neck alone with --neck-only.
    """
    from ..console import console, err_console

    builders = _Builders(backbone, stack, channels, num_classes, head_norm, neck_only)
    reports = []
    with err_console.status("counting...", spinner="dots") if err_console.is_terminal else nullcontext():
        for index, genotype in enumerate(genotypes, 1):
            if err_console.is_terminal:
                err_console.print(f"[dim]counting {genotype} ({index}/{len(genotypes)})[/]")
            reports.append(builders.count(genotype, image_size))
    if as_json:
        payload = [r.to_dict() for r in reports]
        click.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
        return 0
    if len(reports) == 1:
        from ..analysis.report import render_report

        console.print(render_report(reports[0]))
    else:
        from ..analysis.report import comparison_table

        console.print(comparison_table(reports))
    return 0


class _Builders:
    """Builds and counts one genotype with the command's options (torch imported on first use)."""

    def __init__(self, backbone: str, stack: int | None, channels: int | None, num_classes: int,
                 head_norm: str, neck_only: bool):
        self.options = dict(backbone=backbone, stack=stack, channels=channels,
                            num_classes=num_classes, head_norm=head_norm)
        self.neck_only = neck_only

    def count(self, genotype: str, image_size: int):
        from ..analysis.counting import count_neck, count_network
        from ..modeling.backbones import backbone_spec
        from ..modeling.neck import build_neck, resolve_genotype
        from ..modeling.network import build_network

        resolved = resolve_genotype(genotype)
        name = resolved.name or genotype
        opts = self.options
        if self.neck_only:
            in_channels = backbone_spec(opts["backbone"]).out_channels
            neck = build_neck(resolved, in_channels, opts["channels"], opts["stack"])
            return count_neck(neck, in_channels, image_size, name=name)
        network = build_network(resolved, opts["num_classes"], opts["backbone"], opts["channels"],
                                opts["stack"], head_norm=opts["head_norm"])
        return count_network(network, image_size, name=name)
