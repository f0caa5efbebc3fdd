"""``nasfpn export``: write the raw network (images -> head outputs) as ONNX or TorchScript, or
its weights (the detector's, or the backbone's alone) as safetensors.

The model is built from GENOTYPE and the model options, or rebuilt from a training checkpoint
(``--checkpoint``), whose stored genotype and options then rule: GENOTYPE must match the stored
genotype and model options given on the command line must agree with it.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import click
from click.core import ParameterSource

from ..errors import UsageError
from .inference_settings import inference_options
from .model_options import MODEL_OPTION_NAMES, model_options, spec_from_options

WARN_ABOVE = 1e-3  # max abs difference beyond which the exported file is suspect
CHECKED_OPTIONS = (*MODEL_OPTION_NAMES, "deep_supervision")
# the keys of modeling.exporting.FORMATS, known without importing torch (a test checks them)
FORMAT_NAMES = ("onnx", "torchscript", "safetensors")


@click.command(name="export")
@click.argument("genotype")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="model.onnx (ONNX), model.pt / model.ts (TorchScript) or "
                   "model.safetensors (weights).")
@click.option("--to", "to", type=click.Choice(FORMAT_NAMES),
              help="Export format.  [default: from the suffix of -o]")
@click.option("--backbone-only", is_flag=True,
              help="safetensors: the backbone's weights alone, under torchvision's key names "
                   "(for train --backbone-weights).")
@click.option("--checkpoint", type=click.Path(dir_okay=False),
              help="Training checkpoint to take the model and its weights from.")
@model_options(*MODEL_OPTION_NAMES, "deep_supervision", "exit_at")
@inference_options("image_size", "batch_size", image_size=640)
@click.option("--opset", type=click.IntRange(min=9, max=20), default=17, show_default=True,
              help="ONNX opset version.")
@click.option("--torchscript", "torchscript_method", type=click.Choice(["script", "trace"]),
              default="script", show_default=True,
              help="script: any input size; trace: one pass recorded at --image-size.")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Run the written file once and compare with PyTorch.")
@click.pass_context
def command(ctx: click.Context, genotype: str, output: str, to: str | None,
            backbone_only: bool, checkpoint: str | None, deep_supervision: bool,
            exit_at: int | None, image_size: int, batch_size: int, opset: int,
            torchscript_method: str, verify: bool, **model: Any) -> int:
    """Export GENOTYPE's network up to the raw head outputs to OUTPUT (.onnx or .pt), or its
    weights (.safetensors).

    GENOTYPE is a file or a bundled name (see `nasfpn list`). Outputs are cls_p3..cls_p7
    (B x A*K x H x W logits) and box_p3..box_p7 (B x A*4 x H x W deltas); inputs are normalised
    B x 3 x H x W images. Without --checkpoint the weights are freshly initialised.
    A safetensors file holds the detector's state dict and, in its metadata, the model spec and
    genotype that rebuild it (eval, predict and export --checkpoint read it); with
    --backbone-only, the backbone's weights for train --backbone-weights.
    """
    from ..modeling.exporting import export_format

    # a bad suffix or --to is a usage error before anything is built
    export_format(output, to, backbone_only=backbone_only)
    from ..utils import refuse_inputs

    refuse_inputs(output, [genotype, *([checkpoint] if checkpoint else [])])
    from ..console import console, err_console

    spinner = err_console.status("exporting...", spinner="dots") if err_console.is_terminal else nullcontext()
    with spinner:
        metadata: dict[str, str] = {}
        if checkpoint:
            given = {name: ctx.params[name] for name in CHECKED_OPTIONS
                     if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
            spec, network, metadata = _from_checkpoint(genotype, checkpoint, given)
        else:
            from ..modeling.network import build_network

            spec = spec_from_options(genotype, deep_supervision=deep_supervision, **model)
            network = build_network(spec)
        if exit_at is not None:
            spec = spec.replace(exit_at=exit_at)
            network.set_exit(exit_at)
        from ..modeling.exporting import export_network

        result = export_network(network, output, image_size, to=to, batch_size=batch_size,
                                opset=opset, torchscript_method=torchscript_method,
                                backbone_only=backbone_only, spec=spec, metadata=metadata,
                                verify=verify)
    console.print(_summary(result))
    if result.max_abs_diff is not None and result.max_abs_diff > WARN_ABOVE:
        from ..console import print_warning

        print_warning(f"{output}: outputs differ from PyTorch by up to {result.max_abs_diff:.3g}")
    return 0


def _from_checkpoint(genotype: str, checkpoint: str, given: dict):
    """The checkpoint's spec, network and what a weights file keeps of its run (categories,
    training size); UsageError when GENOTYPE or explicit options disagree with it."""
    import json

    from ..engine.checkpoint import Checkpoint
    from ..genotype import load_genotype

    stored = Checkpoint.read(checkpoint)
    spec = stored.spec
    if load_genotype(genotype) != spec.genotype:
        raise UsageError(f"{genotype}: differs from the genotype stored in {checkpoint}",
                         hint=f"pass the genotype the model was trained with ({spec.name})")
    conflicts = [f"--{name.replace('_', '-')} {value} (checkpoint: {getattr(spec, name)})"
                 for name, value in given.items() if getattr(spec, name) != value]
    if conflicts:
        raise UsageError(f"{checkpoint}: the model options disagree with the checkpoint: "
                         + ", ".join(conflicts), hint="leave them out to use the stored ones")
    run = {"data": json.dumps(stored.data)} if stored.data else {}
    if stored.image_size is not None:
        run["image_size"] = str(stored.image_size)
    return spec, stored.detector().network, run


def _summary(result):
    """A two-column table of what was written."""
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("file", f"{result.path} ({result.size_bytes / 2 ** 20:.1f} MiB)")
    table.add_row("format", f"{result.format} ({result.method})")
    if result.opset is not None:
        table.add_row("opset", str(result.opset))
    if result.tensor_count is not None:
        checked = " (read back bit for bit)" if result.max_abs_diff is not None else ""
        table.add_row("tensors", f"{result.tensor_count}{checked}")
    if result.parameter_count is not None:
        table.add_row("parameters", f"{result.parameter_count:,}")
    if result.output_names:
        table.add_row("input", f"images {'x'.join(map(str, result.input_shape))} (normalised)")
    for name, shape in zip(result.output_names, result.output_shapes):
        table.add_row("output", f"{name} {'x'.join(map(str, shape))}")
    if result.max_abs_diff is not None:
        table.add_row("max abs diff", f"{result.max_abs_diff:.3g} ({result.compared})")
    return table
