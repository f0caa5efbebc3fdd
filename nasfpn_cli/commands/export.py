"""``nasfpn export``: write the raw network (images -> head outputs) as ONNX or TorchScript, its
weights (the detector's, or the backbone's alone) as safetensors, its neck as a self-contained
Python file (``--to python``), or a model-hub folder with a model card (``--to hub``).

The model is built from GENOTYPE and the model options, or rebuilt from a training checkpoint
(``--checkpoint``), whose stored genotype and options then rule: GENOTYPE must match the stored
genotype and model options given on the command line must agree with it.
"""
from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from ..errors import UsageError
from ..modeling.spec import NORMS, ModelOptions
from .inference_settings import inference_options
from .model_options import MODEL_OPTION_NAMES, model_options, spec_from_options

WARN_ABOVE = 1e-3  # max abs difference beyond which the exported file is suspect
# the neck's options train reads from model settings (ModelOptions.neck_norm, .separable)
NECK_OPTION_NAMES = ("neck_norm", "separable")
CHECKED_OPTIONS = (*MODEL_OPTION_NAMES, "deep_supervision", *NECK_OPTION_NAMES)
# the keys of modeling.exporting.FORMATS, known without importing torch (a test checks them)
FORMAT_NAMES = ("onnx", "torchscript", "safetensors", "python", "hub")
FOLDER_FORMATS = ("hub",)  # formats that write a folder (ExportFormat.folder)
NEEDS_CHECKPOINT = ("hub",)  # a model card describes a trained run


@click.command(name="export")
@click.argument("genotype")
@click.option("-o", "--output", required=True, type=click.Path(),
              help="model.onnx (ONNX), model.pt / model.ts (TorchScript), "
                   "model.safetensors (weights), my_neck.py (the neck as PyTorch source) or, "
                   "with --to hub, a folder.")
@click.option("--to", "to", type=click.Choice(FORMAT_NAMES),
              help="Export format.  [default: from the suffix of -o]")
@click.option("--backbone-only", is_flag=True,
              help="safetensors: the backbone's weights alone, under torchvision's key names "
                   "(for train --backbone-weights).")
@click.option("--checkpoint", type=click.Path(dir_okay=False),
              help="Training checkpoint to take the model and its weights from.")
@model_options(*MODEL_OPTION_NAMES, "deep_supervision", "exit_at")
@click.option("--norm", "neck_norm", type=click.Choice(NORMS), default=None,
              help=f"Normalisation in the neck (train: --set model.neck_norm=NAME).  "
                   f"[default: {ModelOptions.neck_norm}]")
@click.option("--separable", is_flag=True, default=None,
              help="Depthwise-separable 3x3 convs in the neck's cells (train: --set "
                   "model.separable=true).")
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
    """Export GENOTYPE's network up to the raw head outputs to OUTPUT (.onnx or .pt), its
    weights (.safetensors), its neck as Python (.py) or a model-hub folder (--to hub).

    GENOTYPE is a file or a bundled name (see `nasfpn list`). Outputs are cls_p3..cls_p7
    (B x A*K x H x W logits) and box_p3..box_p7 (B x A*4 x H x W deltas); inputs are normalised
    B x 3 x H x W images. Without --checkpoint the weights are freshly initialised.
    A safetensors file holds the detector's state dict and, in its metadata, the model spec and
    genotype that rebuild it (eval, predict and export --checkpoint read it); with
    --backbone-only, the backbone's weights for train --backbone-weights.

    A .py file (--to python) is the neck alone in plain PyTorch, torch its only import:
    build_neck() takes [C3, C4, C5] and returns [P3..P7], with the state-dict keys of nasfpn's
    neck. --to hub -o DIR (with --checkpoint) writes model.safetensors, config.json, the
    genotype, a drawing, neck.py and a README.md model card, ready for `huggingface-cli upload`.
    """
    from ..modeling.exporting import export_format

    # a bad suffix or --to is a usage error before anything is built
    chosen = export_format(output, to, backbone_only=backbone_only)
    _check_usage(chosen, output, checkpoint, exit_at)
    inputs = [genotype, *([checkpoint] if checkpoint else [])]
    _refuse_inputs(chosen, output, inputs)
    from ..console import console, err_console

    spinner = err_console.status("exporting...", spinner="dots") if err_console.is_terminal else nullcontext()
    with spinner:
        metadata: dict[str, str] = {}
        facts = None
        if checkpoint:
            flags = {param.name: param.opts[0] for param in ctx.command.params}
            given = {flags[name]: (name, ctx.params[name]) for name in CHECKED_OPTIONS
                     if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}
            spec, network, metadata = _from_checkpoint(genotype, checkpoint, given)
            if chosen in NEEDS_CHECKPOINT:
                from ..engine.run_card import run_facts

                facts = run_facts(checkpoint)
        else:
            from ..modeling.network import build_network

            spec = spec_from_options(genotype, deep_supervision=deep_supervision, **model)
            network = build_network(spec)
        if exit_at is not None:
            from ..engine.anytime import check_exit_option

            check_exit_option(network, exit_at, checkpoint or genotype)
            spec = spec.replace(exit_at=exit_at)
            network.set_exit(exit_at)
        from ..modeling.exporting import export_network

        result = export_network(network, output, image_size, to=to, batch_size=batch_size,
                                opset=opset, torchscript_method=torchscript_method,
                                backbone_only=backbone_only, spec=spec, metadata=metadata,
                                facts=facts, inputs=tuple(inputs), verify=verify)
    console.print(_summary(result))
    if result.notes:
        from ..console import print_warning

        for note in result.notes:
            print_warning(note)
    if result.max_abs_diff is not None and result.max_abs_diff > WARN_ABOVE:
        from ..console import print_warning

        print_warning(f"{output}: outputs differ from PyTorch by up to {result.max_abs_diff:.3g}")
    return 0


def _check_usage(chosen: str, output: str, checkpoint: str | None,
                 exit_at: int | None) -> None:
    """Usage errors of the output and the formats, before anything is built."""
    if chosen not in FOLDER_FORMATS and Path(output).is_dir():
        raise UsageError(f"-o {output}: is a folder; {chosen} writes a file",
                         hint="name a file in it, or pass --to hub for a hub folder")
    if chosen in NEEDS_CHECKPOINT and not checkpoint:
        raise UsageError(f"--to {chosen} describes a trained model: it needs --checkpoint",
                         hint="pass the run's best.pt (or last.pt)")
    if chosen == "python" and exit_at is not None:
        raise UsageError("--exit-at does not apply to --to python: the file holds the whole "
                         "neck (every copy)")


def _refuse_inputs(chosen: str, output: str, inputs: list[str]) -> None:
    """No output file may be one of the inputs; a hub folder must not be a training run's."""
    from ..utils import refuse_inputs

    if chosen not in FOLDER_FORMATS:
        refuse_inputs(output, inputs)
        return
    from ..engine.run_store import BEST_FILE, LAST_FILE, METRICS_FILE
    from ..modeling.hub_export import FILES

    folder = Path(output)
    if any((folder / name).exists() for name in (LAST_FILE, BEST_FILE, METRICS_FILE)):
        raise UsageError(f"-o {output}: holds a training run; a hub folder would replace its "
                         "config.json", hint="write the hub folder elsewhere")
    for name in (FILES.weights, FILES.config, FILES.genotype, FILES.drawing, FILES.neck,
                 FILES.card):
        refuse_inputs(folder / name, inputs)


def _from_checkpoint(genotype: str, checkpoint: str, given: dict[str, tuple[str, Any]]):
    """The checkpoint's spec, network and what a weights file keeps of its run (categories,
    training size); UsageError when GENOTYPE or explicit options (``given``: flag -> the spec
    field it sets and its value) disagree with it."""
    import json

    from ..engine.checkpoint import Checkpoint
    from ..genotype import load_genotype

    stored = Checkpoint.read(checkpoint)
    spec = stored.spec
    if load_genotype(genotype) != spec.genotype:
        raise UsageError(f"{genotype}: differs from the genotype stored in {checkpoint}",
                         hint=f"pass the genotype the model was trained with ({spec.name})")
    conflicts = [f"{flag} {value} (checkpoint: {getattr(spec, name)})"
                 for flag, (name, value) in given.items() if getattr(spec, name) != value]
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

    from ..console import plain

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("file", plain(f"{result.path} ({result.size_bytes / 2 ** 20:.1f} MiB)"))
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
    for path in result.files:
        table.add_row("wrote", plain(str(path)))
    if result.max_abs_diff is not None:
        table.add_row("max abs diff", f"{result.max_abs_diff:.3g} ({result.compared})")
    return table
