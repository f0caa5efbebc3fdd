"""``nasfpn train``: train a detector for a genotype on COCO-format data.

Options left out keep the value of ``--recipe`` (when given) or the CPU defaults of
:class:`~nasfpn_cli.engine.config.TrainConfig`; under ``torchrun`` every process runs this.
Every setting's option is generated from its declaration in TrainConfig (help by section).
"""
from __future__ import annotations

from pathlib import Path

import click

from ..engine.config import FLAT_KEYS, TrainConfig
from ..errors import UsageError
from ..modeling.spec import DropBlockSpec
from .params import require_writable_folder
from .settings_options import (SectionedCommand, fold_negations, format_default, option_fields,
                               set_option, settings_options)

DEFAULTS = TrainConfig()  # the help texts quote the defaults from here, never typed twice
FIELDS = option_fields(TrainConfig)  # parameter (e.g. data for --data) -> TrainConfig field
# --dropblock KEEP and --dropblock-size N: DropBlockSpec's fields, one model option together
DROPBLOCK_FLAGS = tuple(option_fields(DropBlockSpec))


def default(name: str) -> str:
    """The CPU default of setting ``name`` as the help shows it (numbers with %g, lists "A,B")."""
    return format_default(DEFAULTS.value(name))

# option -> (the setting it needs, the value that setting must have): e.g. --milestones only
# means something for the step schedule; giving it with another one is a usage error
APPLIES_ONLY_WITH = {
    "milestones": ("schedule", "step"),
    "gamma": ("schedule", "step"),
    "momentum": ("optimizer", "sgd"),
}


# option -> (what it needs, said as options): it means nothing while the check is false
NEEDS = {
    "dropblock_size": (lambda c: c.model.dropblock is not None, "--dropblock"),
    "eval_every": (lambda c: c.data_dir is not None or c.val_ann is not None,
                   "validation data (--data or --val-ann)"),
    "eval_batch_size": (lambda c: c.data_dir is not None or c.val_ann is not None,
                        "validation data (--data or --val-ann)"),
}


def _check_applicable(config, given: set[str]) -> None:
    """A usage error for an option given on the command line that the settings ignore."""
    for option, (setting, wanted) in APPLIES_ONLY_WITH.items():
        if option in given and config.value(setting) != wanted:
            raise UsageError(f"--{option.replace('_', '-')} applies only with --{setting} "
                             f"{wanted}, not {config.value(setting)}")
    for option, (applies, needed) in NEEDS.items():
        if option in given and not applies(config):
            raise UsageError(f"--{option.replace('_', '-')} applies only with {needed}")


def _from_file(error: UsageError, path: str | None, keys: set[str]) -> UsageError:
    """``error`` naming the --config file too when the setting it names came from there
    (``keys``: the file's settings no flag replaced); the user never typed that option."""
    from ..engine.config import option_name

    for key in sorted(keys):
        try:
            named = str(error).startswith(f"{option_name(key)}:")
        except KeyError:  # names older runs stored (model_kwargs...)
            continue
        if path is not None and named:
            return UsageError(f"--config {path}: {error}", hint=error.hint)
    return error


@click.command(name="train", cls=SectionedCommand)
@click.argument("genotype", required=False)
@click.option("--config", "config_file", type=click.Path(path_type=str), metavar="FILE",
              help="Options from a TOML file or a run's config.json; flags given here win.")
@click.option("--print-config", is_flag=True,
              help="Print the resolved configuration (valid as --config) and exit.")
@set_option()
@settings_options(TrainConfig, defaults=DEFAULTS)
@settings_options(DropBlockSpec, names=("keep_prob", "block_size"), defaults=DropBlockSpec())
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def command(genotype: str | None, recipe: str | None, no_progress: bool, config_file: str | None,
            print_config: bool, assignments: tuple, **options) -> int:
    """Train a detector for GENOTYPE (a file or bundled name) on COCO-format data.

    Writes OUTPUT_DIR/last.pt every epoch, OUTPUT_DIR/best.pt at the best validation AP and
    OUTPUT_DIR/metrics.jsonl; `nasfpn plot OUTPUT_DIR` draws the curves.
    """
    import json

    from ..engine.config_file import read_config_file
    from ..settings import assigned_values

    options = fold_negations(TrainConfig, options)
    dropblock = {flag: options.pop(flag) for flag in DROPBLOCK_FLAGS}
    overrides: dict = {}
    if config_file is not None:
        overrides = read_config_file(config_file, FLAT_KEYS)
    from_file = set(overrides)
    overrides.update(assigned_values(TrainConfig, assignments))
    overrides.update({FIELDS[name]: value for name, value in options.items()
                      if value is not None})
    overrides.update({flag: value for flag, value in dropblock.items() if value is not None})
    if genotype is not None:
        overrides["genotype"] = genotype
    elif "genotype" not in overrides and not overrides.get("resume") and not print_config:
        raise UsageError("missing argument GENOTYPE (a genotype file or bundled name)",
                         hint="only --resume or a --config with a genotype key can leave it out")
    if "output_dir" not in overrides and not print_config:
        raise UsageError("missing option -o / --output-dir", hint="the run folder to write")
    recipe = recipe or overrides.pop("recipe", None)
    from_file -= {FIELDS[name] for name, value in options.items() if value is not None}
    try:
        config = TrainConfig.from_recipe(recipe, **overrides)
    except UsageError as exc:
        raise _from_file(exc, config_file, from_file - {name for name, _, _ in assignments}
                         ) from None
    _check_applicable(config, {FIELDS.get(name, name) for name, value in
                               {**options, **dropblock}.items() if value is not None})
    if print_config:
        click.echo(json.dumps(config.to_dict(), indent=2))
        return 0
    require_writable_folder(config.output_dir, "-o/--output-dir")  # before any data is read
    if not config.resume:
        from ..search.store import refuse_other_kind

        refuse_other_kind(config.output_dir, "run")

    from ..console import console
    from ..engine.run import train
    from ..engine.run_store import RunStore, replayed_genotype

    replayed = None  # a run's config.json replays the genotype text it stored, not the file
    if config_file is not None and genotype is None and not config.resume:
        replayed = replayed_genotype(config_file, config.genotype)
    result = train(config, progress=not no_progress, genotype=replayed, given=set(overrides),
                   advice=True)
    from ..engine.distributed import torchrun_environment

    if torchrun_environment()[1] == 0:  # under torchrun only rank 0 reports
        out = Path(result.output_dir)
        store = RunStore(out)
        if result.last_metrics:
            m = result.last_metrics
            console.print(f"epoch {result.epochs}: AP {m['AP']:.3f}  AP50 {m['AP50']:.3f}  "
                          f"AP75 {m['AP75']:.3f}  (best AP {result.best_ap:.3f})")
        console.print(f"checkpoints: {store.last}"
                      + (f", {store.best}" if store.best.is_file() else ""))
        console.print(f"curves: nasfpn plot {out}")
    return 0

