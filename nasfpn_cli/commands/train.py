"""``nasfpn train``: train a detector for a genotype on COCO-format data.

Options left out keep the value of ``--recipe`` (when given) or the CPU defaults of
:class:`~nasfpn_cli.engine.config.TrainConfig`; under ``torchrun`` every process runs this.
"""
from __future__ import annotations

import os
from pathlib import Path

import click

from ..engine.config import AMP_MODES, DEVICES, OPTIMIZERS, RECIPES, SCHEDULES, TrainConfig
from ..errors import UsageError
from ..modeling.spec import BACKBONES
from .model_options import PYRAMID_RULE
from .params import (BATCH_SIZE, CHANNELS, LOADER_WORKERS, NON_NEGATIVE, POSITIVE, PROBABILITY,
                     SEED, STACK, finite, finite_number, image_size, require_writable_folder)


def _numbers(kind: type, count: int | None = None):
    """A click callback parsing "A,B,..." into a tuple of ``kind``."""

    def parse(ctx: click.Context, param: click.Parameter, value: str | None):
        if value is None:
            return None
        try:
            numbers = tuple(kind(finite_number(part) if kind is float else part)
                            for part in value.split(",") if part.strip())
        except ValueError:
            raise click.BadParameter(f"expected comma-separated finite numbers, got {value!r}"
                                     ) from None
        if count is not None and len(numbers) != count:
            raise click.BadParameter(f"expected {count} comma-separated numbers, got {value!r}")
        return numbers

    return parse


PATH = click.Path(path_type=str)
DEFAULTS = TrainConfig()  # the help texts quote the defaults from here, never typed twice


def default(name: str) -> str:
    """The CPU default of setting ``name`` as the help shows it (numbers with %g, lists "A,B")."""
    value = getattr(DEFAULTS, name)
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)

# option -> (the setting it needs, the value that setting must have): e.g. --milestones only
# means something for the step schedule; giving it with another one is a usage error
APPLIES_ONLY_WITH = {
    "milestones": ("schedule", "step"),
    "gamma": ("schedule", "step"),
    "momentum": ("optimizer", "sgd"),
}


# option -> (what it needs, said as options): it means nothing while the check is false
NEEDS = {
    "dropblock_size": (lambda c: c.dropblock is not None, "--dropblock"),
    "eval_every": (lambda c: c.data_dir is not None or c.val_ann is not None,
                   "validation data (--data or --val-ann)"),
    "eval_batch_size": (lambda c: c.data_dir is not None or c.val_ann is not None,
                        "validation data (--data or --val-ann)"),
}


def _check_applicable(config, given: set[str]) -> None:
    """A usage error for an option given on the command line that the settings ignore."""
    for option, (setting, wanted) in APPLIES_ONLY_WITH.items():
        if option in given and getattr(config, setting) != wanted:
            raise UsageError(f"--{option.replace('_', '-')} applies only with --{setting} "
                             f"{wanted}, not {getattr(config, setting)}")
    for option, (applies, needed) in NEEDS.items():
        if option in given and not applies(config):
            raise UsageError(f"--{option.replace('_', '-')} applies only with {needed}")


@click.command(name="train")
@click.argument("genotype", required=False)
@click.option("--data", "data_dir", type=PATH, help="Dataset folder in the COCO 2017 layout.")
@click.option("--train-ann", type=PATH, help="Training annotations (COCO JSON).")
@click.option("--train-images", type=PATH, help="Folder of the training images.")
@click.option("--val-ann", type=PATH, help="Validation annotations (COCO JSON).")
@click.option("--val-images", type=PATH, help="Folder of the validation images.")
@click.option("--skip-bad", is_flag=True, default=None,
              help="Drop bad boxes/images the data checks find instead of refusing the data.")
@click.option("-o", "--output-dir", type=PATH,
              help="Run folder: last.pt, best.pt, metrics.jsonl, config.json (required unless "
                   "--config sets output_dir).")
@click.option("--config", "config_file", type=PATH, metavar="FILE",
              help="Options from a TOML file or a run's config.json; flags given here win.")
@click.option("--print-config", is_flag=True,
              help="Print the resolved configuration (valid as --config) and exit.")
@click.option("--recipe", type=click.Choice(list(RECIPES)),
              help="Start from a preset (paper: R-50 7@256, 640 px, batch 64, lr 0.08, "
                   "50 epochs, steps at 30 and 40; small: few CPU minutes on small objects, "
                   "3@64, 128 px, --anchor-size 2, AdamW lr 1e-3, warmup 30).")
@click.option("--backbone", type=click.Choice(BACKBONES), help=f"Default {default('backbone')}.")
@click.option("--backbone-weights", type=PATH, metavar="FILE",
              help="ImageNet weights for the backbone (a torchvision-style state dict).")
@click.option("--stack", type=STACK, help=f"Pyramid copies N of N@C {PYRAMID_RULE}.")
@click.option("--channels", type=CHANNELS, help=f"Pyramid channels C of N@C {PYRAMID_RULE}.")
@click.option("--image-size", type=image_size(64),
              help=f"Square training size in pixels (default {default('image_size')}).")
@click.option("--deep-supervision", is_flag=True, default=None,
              help="A head and loss after every pyramid copy.")
@click.option("--dropblock", type=finite(0.0, 1.0, min_open=True), metavar="KEEP",
              help="DropBlock in the pyramid cells, final keep probability (paper: 0.9).")
@click.option("--dropblock-size", type=click.IntRange(min=1),
              help=f"DropBlock block size (default {default('dropblock_size')}).")
@click.option("--focal-alpha", type=PROBABILITY,
              help=f"Focal loss alpha (default {default('focal_alpha')}).")
@click.option("--focal-gamma", type=NON_NEGATIVE,
              help=f"Focal loss gamma (default {default('focal_gamma')}).")
@click.option("--anchor-size", type=POSITIVE,
              help=f"Smallest anchor side in P3 strides (default {default('anchor_size')}: "
                   f"{8 * DEFAULTS.anchor_size:g} px; 2 suits objects of "
                   "10-30 px). The start of the run prints how many training boxes it covers.")
@click.option("--sync-bn", is_flag=True, default=None,
              help="Batch norm statistics across processes (distributed runs).")
@click.option("--epochs", type=click.IntRange(min=1), help=f"Epochs (default {default('epochs')}).")
@click.option("--batch-size", type=BATCH_SIZE,
              help=f"Images per step and process (default {default('batch_size')}).")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), help=f"Default {default('optimizer')}.")
@click.option("--lr", type=POSITIVE, help=f"Peak learning rate (default {default('lr')}).")
@click.option("--momentum", type=finite(0.0, 1.0, max_open=True),
              help=f"SGD momentum (default {default('momentum')}).")
@click.option("--weight-decay", type=NON_NEGATIVE,
              help=f"Default {default('weight_decay')}; never on norms and biases.")
@click.option("--warmup", type=click.IntRange(min=0),
              help=f"Linear warmup steps (default {default('warmup')}).")
@click.option("--warmup-factor", type=finite(0.0, 1.0, min_open=True),
              help=f"Warmup starts at this fraction of --lr (default {default('warmup_factor')}).")
@click.option("--schedule", type=click.Choice(SCHEDULES), help=f"Default {default('schedule')}.")
@click.option("--milestones", callback=_numbers(int), metavar="E1,E2",
              help="Epochs where the step schedule multiplies the lr by --gamma "
                   "(default 60%,80% of --epochs).")
@click.option("--gamma", type=POSITIVE, help=f"Step schedule factor (default {default('gamma')}).")
@click.option("--grad-clip", type=NON_NEGATIVE,
              help=f"Clip the gradient norm (default {default('grad_clip')}; 0 = off).")
@click.option("--ema/--no-ema", default=None,
              help="Evaluate, keep and export an exponential moving average of the weights.")
@click.option("--ema-decay", type=finite(0.0, 1.0, min_open=True, max_open=True),
              help=f"EMA decay per step (default {default('ema_decay')}).")
@click.option("--amp", type=click.Choice(AMP_MODES), is_flag=False, flag_value="on",
              help="Mixed precision: bf16 autocast on CPU, fp16 with loss scaling on CUDA; auto: "
                   "only where the hardware has it natively (bf16 on CPUs with AVX-512 BF16 or "
                   f"AMX), else fp32. --amp alone: on (default {default('amp')}).")
@click.option("--no-amp", is_flag=True, default=None, help="Same as --amp off.")
@click.option("--channels-last/--no-channels-last", default=None,
              help="NHWC weights and batches (faster convolutions on most CPUs; default "
                   f"{default('channels_last')}).")
@click.option("--scale-range", callback=_numbers(float, 2), metavar="MIN,MAX",
              help=f"Scale jitter range (default {default('scale_range')}).")
@click.option("--flip-prob", type=PROBABILITY,
              help=f"Horizontal flip probability (default {default('flip_prob')}).")
@click.option("--workers", type=LOADER_WORKERS,
              help=f"DataLoader worker processes (default {default('workers')}).")
@click.option("--seed", type=SEED, help="Seed for initialisation, order and augmentation.")
@click.option("--device", type=click.Choice(DEVICES), help=f"Default {default('device')}.")
@click.option("--resume", is_flag=True, default=None,
              help="Continue OUTPUT_DIR/last.pt exactly where it stopped.")
@click.option("--init-from", type=PATH, metavar="CKPT", help="Load weights only from CKPT.")
@click.option("--eval-every", type=click.IntRange(min=1),
              help="Evaluate every N epochs and after the last.")
@click.option("--log-every", type=click.IntRange(min=1),
              help=f"Log to metrics.jsonl every N steps (default {default('log_every')}).")
@click.option("--eval-batch-size", type=BATCH_SIZE, help="Default: --batch-size.")
@click.option("--tensorboard", is_flag=True, default=None,
              help="Also write TensorBoard events (scalars, prediction images) into "
                   "OUTPUT_DIR (needs the tensorboard extra).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def command(genotype: str | None, recipe: str | None, no_progress: bool, config_file: str | None,
            print_config: bool, **options) -> int:
    """Train a detector for GENOTYPE (a file or bundled name) on COCO-format data.

    Writes OUTPUT_DIR/last.pt every epoch, OUTPUT_DIR/best.pt at the best validation AP and
    OUTPUT_DIR/metrics.jsonl; `nasfpn plot OUTPUT_DIR` draws the curves.
    """
    import dataclasses
    import json

    from ..engine.config import TrainConfig
    from ..engine.config_file import read_config_file

    if options.pop("no_amp"):
        options["amp"] = "off"
    overrides: dict = {}
    if config_file is not None:
        overrides = read_config_file(config_file, (f.name for f in dataclasses.fields(TrainConfig)))
    overrides.update({name: value for name, value in options.items() if value is not None})
    if overrides.get("grad_clip") == 0:
        overrides["grad_clip"] = None
    if genotype is not None:
        overrides["genotype"] = genotype
    elif "genotype" not in overrides and not overrides.get("resume") and not print_config:
        raise UsageError("missing argument GENOTYPE (a genotype file or bundled name)",
                         hint="only --resume or a --config with a genotype key can leave it out")
    if "output_dir" not in overrides and not print_config:
        raise UsageError("missing option -o / --output-dir", hint="the run folder to write")
    recipe = recipe or overrides.pop("recipe", None)
    config = TrainConfig.from_recipe(recipe, **overrides)
    _check_applicable(config, {name for name, value in options.items() if value is not None})
    if print_config:
        click.echo(json.dumps(config.to_dict(), indent=2))
        return 0
    require_writable_folder(config.output_dir, "-o/--output-dir")  # before any data is read

    from ..console import console
    from ..engine.run import train

    result = train(config, progress=not no_progress)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only rank 0 reports
        out = Path(result.output_dir)
        if result.last_metrics:
            m = result.last_metrics
            console.print(f"epoch {result.epochs}: AP {m['AP']:.3f}  AP50 {m['AP50']:.3f}  "
                          f"AP75 {m['AP75']:.3f}  (best AP {result.best_ap:.3f})")
        console.print(f"checkpoints: {out / 'last.pt'}"
                      + (f", {out / 'best.pt'}" if (out / "best.pt").is_file() else ""))
        console.print(f"curves: nasfpn plot {out}")
    return 0

