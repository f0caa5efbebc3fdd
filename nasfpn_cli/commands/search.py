"""``nasfpn search``: architecture search (controller + reward + executor); ``search report``."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click
from click.core import ParameterSource

from ..errors import UsageError
from ..limits import MAX_CHANNELS, MAX_SEARCH_CELLS, max_local_processes
from ..search.rewards.proxy import DEFAULT_REFERENCE, GENERATED_DATA, SCORES, ProxySettings
from .params import (BATCH_SIZE, NON_NEGATIVE, SEED, POSITIVE, STACK, finite, image_size,
                     require_writable_folder)

PROXY = ProxySettings()  # the --proxy-* defaults (the "proxy" recipe of TrainConfig)

# --proxy-* option -> ProxySettings field (only options given on the command line are stored)
PROXY_OPTIONS = {
    "proxy_backbone": "backbone", "proxy_stack": "stack", "proxy_channels": "channels",
    "proxy_image_size": "image_size", "proxy_epochs": "epochs",
    "proxy_batch_size": "batch_size", "proxy_lr": "lr", "proxy_warmup": "warmup",
    "proxy_device": "device", "proxy_train_ann": "train_ann",
    "proxy_train_images": "train_images", "proxy_val_ann": "val_ann",
    "proxy_val_images": "val_images", "proxy_images": "synth_images",
    "proxy_data": "synth_kind", "proxy_data_seed": "synth_seed", "proxy_score": "score",
}
# controller -> {option -> keyword of the controller}
CONTROLLER_OPTIONS = {
    "ppo": {"ppo_lr": "learning_rate", "ppo_batch_size": "batch_size", "ppo_epochs": "epochs",
            "ppo_entropy": "entropy_weight"},
    "evolution": {"population_size": "population_size", "sample_size": "sample_size"},
    "random": {},
}
# built-in rewards that train nothing, so the --proxy-* options mean nothing to them
# (plug-in rewards get the options and may use them)
REWARDS_WITHOUT_PROXY = ("similarity",)
# options that say what is searched: fixed for the life of an output folder
IDENTITY_OPTIONS = ("controller", "reward", "reward_module", "seed", "cells", "macs_target",
                    "macs_weight", "scheduler", "asha_eta", "asha_min_epochs", "paper_constraints",
                    *CONTROLLER_OPTIONS["ppo"],
                    *CONTROLLER_OPTIONS["evolution"], *PROXY_OPTIONS)


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)


def _explicit(ctx: click.Context, params: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {field: params[option] for option, field in names.items() if _given(ctx, option)}


def _stored_or_new(ctx: click.Context, params: dict[str, Any], what: str, settings_file: Path,
                   identity_options: tuple[str, ...], stored: Callable[[], Any],
                   new: Callable[[], Any]) -> Any:
    """With --resume the stored configuration (options saying *what* runs must agree with it),
    else a new one from the options."""
    if params["resume"] and settings_file.exists():
        config = stored()
        given = [f"--{name.replace('_', '-')}" for name in identity_options if _given(ctx, name)]
        if given and new().identity() != config.identity():
            raise UsageError(f"--resume continues the {what} in {settings_file.parent} with its "
                             f"stored settings; {', '.join(given)} differ from them",
                             hint=f"see {settings_file}, or drop those options")
        return config
    if params["resume"]:
        raise UsageError(f"--resume: no {what} to resume in {settings_file.parent}")
    return new()


def _paths(value: str | None) -> str | None:
    return None if value is None else str(Path(value).resolve())


def _proxy_settings(ctx: click.Context, params: dict[str, Any]) -> dict[str, Any]:
    """The --proxy-* options given, by ProxySettings field; data paths made absolute."""
    proxy = _explicit(ctx, params, PROXY_OPTIONS)
    for name in ("train_ann", "train_images", "val_ann", "val_images"):
        if name in proxy:
            proxy[name] = _paths(proxy[name])
    return proxy


# the --proxy-* options, shared by `search` and `search calibrate`
PROXY_CLICK_OPTIONS = [
    click.option("--proxy-backbone", default=PROXY.backbone, show_default=True),
    click.option("--proxy-stack", type=STACK, default=PROXY.stack,
                 show_default=True),
    click.option("--proxy-channels", type=click.IntRange(4, MAX_CHANNELS),
                 default=PROXY.channels,
                 show_default=True),
    click.option("--proxy-image-size", type=image_size(64), default=PROXY.image_size,
                 show_default=True),
    click.option("--proxy-epochs", type=click.IntRange(min=1), default=PROXY.epochs,
                 show_default=True),
    click.option("--proxy-batch-size", type=BATCH_SIZE, default=PROXY.batch_size,
                 show_default=True),
    click.option("--proxy-lr", type=POSITIVE, default=PROXY.lr,
                 show_default=True),
    click.option("--proxy-warmup", type=click.IntRange(min=0), default=PROXY.warmup,
                 show_default=True, help="Warm-up optimizer steps."),
    click.option("--proxy-score", type=click.Choice(list(SCORES)), default=PROXY.score,
                 show_default=True,
                 help="The reward: validation AP, AP50, or 1 / (1 + validation loss)."),
    click.option("--proxy-device", type=click.Choice(["auto", "cpu", "cuda"]),
                 default=PROXY.device,
                 show_default=True),
    click.option("--proxy-train-ann", type=click.Path(dir_okay=False), default=None,
                 help="Your own proxy data (all four paths); default: --proxy-data written "
                      "in OUT/proxy_data."),
    click.option("--proxy-train-images", type=click.Path(file_okay=False), default=None),
    click.option("--proxy-val-ann", type=click.Path(dir_okay=False), default=None,
                 help="The held-out split that scores the reward."),
    click.option("--proxy-val-images", type=click.Path(file_okay=False), default=None),
    click.option("--proxy-data", type=click.Choice(list(GENERATED_DATA)),
                 default=PROXY.synth_kind, show_default=True,
                 help="The data a proxy without --proxy-train-ann writes for itself: "
                      "handwritten digits on photos (real images) or synthetic shapes."),
    click.option("--proxy-images", type=click.IntRange(min=8), default=PROXY.synth_images,
                 show_default=True,
                 help="Generated proxy data: images in all (a third held out)."),
    click.option("--proxy-data-seed", type=SEED, default=PROXY.synth_seed, show_default=True,
                 help="Generated proxy data: seed."),
]


# where trials run, shared by `search` and `search calibrate`
EXECUTOR_CLICK_OPTIONS = [
    click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Trials at once; local workers share the cores' torch threads."),
    click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
                 show_default=True, help="local: process pool; ray: Ray tasks (GPU each if any)."),
    click.option("--address", default=None, help="Ray cluster address (auto, ray://HOST:PORT)."),
    click.option("--threads", type=click.IntRange(min=1), default=None,
                 help="Torch threads per local trial [default: cores // workers]; 1 on a "
                      "machine shared with other work."),
]


def _decorator(options: list):
    def decorate(function):
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


# the search space, for `search` and for the architectures `search calibrate` samples
SPACE_CLICK_OPTIONS = [
    click.option("--cells", type=click.IntRange(5, MAX_SEARCH_CELLS), default=7,
                 show_default=True, help="Merging cells per pyramid; the last 5 are the outputs."),
    click.option("--paper-constraints", is_flag=True,
                 help="The paper's extra rule: intermediate cells never produce P3 (stride 8)."),
]
space_options = _decorator(SPACE_CLICK_OPTIONS)
proxy_options = _decorator(PROXY_CLICK_OPTIONS)
executor_options = _decorator(EXECUTOR_CLICK_OPTIONS)


def _read_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """--config FILE: its keys become the options' defaults, so flags given still win and
    resume checks see them as given."""
    if value is None:
        return
    from ..engine.config_file import read_config_file

    names = [p.name for p in ctx.command.params if p.name and p.expose_value]
    ctx.default_map = {**(ctx.default_map or {}), **read_config_file(value, names)}


@click.group(name="search", invoke_without_command=True)
@click.option("--config", type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
              callback=_read_config, metavar="FILE",
              help="Options from a TOML (or JSON) file, keys as the option names with "
                   "underscores; flags given here win.")
@click.option("--print-config", is_flag=True,
              help="Print the resolved options (valid as --config) and exit.")
@click.option("--controller", type=click.Choice(["ppo", "random", "evolution"]), default="ppo",
              show_default=True, help="How architectures are proposed.")
@click.option("--reward", default="proxy", show_default=True, metavar="NAME[:ARG]",
              help="proxy (train and score AP), similarity:GENOTYPE, or a registered plug-in.")
@click.option("--reward-module", multiple=True, metavar="MODULE",
              help="Import MODULE (in every worker too) to register rewards of your own.")
@click.option("--trials", type=click.IntRange(min=1), default=100, show_default=True,
              help="Finished trials to reach (a resumed search may raise it).")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("-o", "--output-dir", type=click.Path(), default="runs/search",
              show_default=True, help="search.json, trials.jsonl, state.pt, best.txt go here.")
@executor_options
@click.option("--resume", is_flag=True, help="Continue the search in --output-dir.")
@space_options
@click.option("--population-size", type=click.IntRange(min=2), default=50, show_default=True,
              help="evolution: population size.")
@click.option("--sample-size", type=click.IntRange(min=1), default=10, show_default=True,
              help="evolution: tournament size.")
@click.option("--ppo-lr", type=POSITIVE, default=0.005,
              show_default=True, help="ppo: Adam learning rate.")
@click.option("--ppo-batch-size", type=click.IntRange(min=1), default=10, show_default=True,
              help="ppo: rewards per policy update.")
@click.option("--ppo-epochs", type=click.IntRange(min=1), default=4, show_default=True,
              help="ppo: passes over each batch.")
@click.option("--ppo-entropy", type=NON_NEGATIVE, default=0.0005, show_default=True,
              help="ppo: entropy bonus weight.")
@click.option("--scheduler", type=click.Choice(["none", "asha"]), default="none",
              show_default=True, help="asha: successive halving over --proxy-epochs (the "
                                      "reward is the score at the highest budget reached).")
@click.option("--asha-eta", type=click.IntRange(min=2), default=3, show_default=True,
              help="asha: the best 1/ETA of a rung go on, with ETA x the epochs.")
@click.option("--asha-min-epochs", type=click.IntRange(min=1), default=1, show_default=True,
              help="asha: the smallest budget.")
@click.option("--macs-target", type=POSITIVE, default=None,
              metavar="MACS", help="Cost-aware reward: score x (neck MACs / MACS) ** weight "
                                   "above MACS (e.g. 2e7); neck as the proxy builds it.")
@click.option("--macs-weight", type=finite(max=0), default=-0.07, show_default=True,
              help="The exponent of --macs-target (MnasNet: -0.07).")
@proxy_options
@click.pass_context
def command(ctx: click.Context, **params: Any) -> int | None:
    """Search for a feature pyramid, as NAS-FPN did: a controller proposes genotypes, a reward
    scores them, trials run on W workers; see docs/search.md. `search report OUT` shows results."""
    if ctx.invoked_subcommand is not None:
        return None
    if params.pop("print_config"):
        import json

        click.echo(json.dumps(params, indent=2))
        return 0
    from ..console import console
    from ..search.runner import resumed_config, run_search

    if params["executor"] == "local" and params["workers"] > max_local_processes():
        raise UsageError(f"--workers {params['workers']}: more than {max_local_processes()} "
                         "processes on this machine", hint="--executor ray runs trials on a "
                                                            "cluster")
    # checked here, not as the option's type: `search report` must not probe the default
    require_writable_folder(params["output_dir"], "-o/--output-dir")
    output_dir = Path(params["output_dir"])
    where = {"trials": params["trials"], "workers": params["workers"],
             "executor": params["executor"], "address": params["address"],
             "threads": params["threads"]}
    # without --trials the stored target stands (not this option's default)
    stored_where = {**where, "trials": params["trials"] if _given(ctx, "trials") else None}
    config = _stored_or_new(ctx, params, "search", output_dir / "search.json", IDENTITY_OPTIONS,
                            lambda: resumed_config(output_dir, **stored_where),
                            lambda: _config_from_options(ctx, params, output_dir, where))
    summary = run_search(config, resume=params["resume"])
    best = summary.best
    console.print(f"{len(summary.records)} trials, {summary.unique} distinct architectures, "
                  f"{summary.seconds:.1f} s")
    if best is not None:
        console.print(f"best reward {best.reward:.4f} (trial {best.trial}); genotype in "
                      f"{output_dir / 'best.txt'}")
    return 0


def _config_from_options(ctx: click.Context, params: dict[str, Any], output_dir: Path,
                         where: dict[str, Any]):
    from ..search.rewards import RewardSpec
    from ..search.runner import SearchConfig
    from ..search.space import SearchSpace

    proxy = _proxy_settings(ctx, params)
    reward_name = params["reward"].partition(":")[0]
    if proxy and reward_name in REWARDS_WITHOUT_PROXY:
        given = [f"--{o.replace('_', '-')}" for o in PROXY_OPTIONS if _given(ctx, o)]
        raise UsageError(f"{', '.join(given)}: not an option of --reward {reward_name}, which "
                         "trains no proxy model")
    controller = params["controller"]
    wrong = [f"--{option.replace('_', '-')}" for name, options in CONTROLLER_OPTIONS.items()
             for option in options if name != controller and _given(ctx, option)]
    if wrong:
        raise UsageError(f"{', '.join(wrong)}: not an option of --controller {controller}")
    controller_options = _explicit(ctx, params, CONTROLLER_OPTIONS[controller])
    if _given(ctx, "macs_weight") and params["macs_target"] is None:
        raise UsageError("--macs-weight needs --macs-target")
    macs = None
    if params["macs_target"] is not None:
        from ..search.cost import MacsObjective

        macs = MacsObjective(params["macs_target"], params["macs_weight"])
    return SearchConfig(output_dir, RewardSpec.parse(params["reward"], proxy,
                                                     tuple(params["reward_module"])),
                        controller, controller_options,
                        SearchSpace(params["cells"], paper_constraints=params["paper_constraints"]),
                        params["seed"], macs_objective=macs, scheduler=params["scheduler"],
                        asha_eta=params["asha_eta"], asha_min_epochs=params["asha_min_epochs"],
                        **where)


@command.command(name="report")
@click.argument("output_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Distinct architectures in the table.")
@click.option("--plots-dir", type=click.Path(file_okay=False), default=None,
              help="Where reward.png and unique.png go (default: OUTPUT_DIR).")
@click.option("--html", "write_html", is_flag=True,
              help="Also write OUTPUT_DIR/compare.html: the top architectures side by side "
                   "(nasfpn compare OUTPUT_DIR --top N, default model options).")
@click.option("--genotypes-dir", type=click.Path(file_okay=False), default=None,
              help="Also write the top architectures there as found1.txt, found2.txt, ...")
def report(output_dir: str, top: int, plots_dir: str | None, write_html: bool,
           genotypes_dir: str | None) -> int:
    """The best architectures of a search and its convergence plots."""
    from rich.table import Table

    from ..console import console
    from ..search.runner import TRIALS_FILE
    from ..search.trials import check_decisions
    from ..search.report import (compact_cells, curves, load_trials, pareto_front,
                                 rank_architectures, search_space_of, write_cost_plot,
                                 write_plots)

    out = Path(output_dir)
    records = load_trials(out)
    space = search_space_of(out)
    check_decisions(records, space, out / TRIALS_FILE)
    ranked = rank_architectures(records)
    _, best, unique = curves(records)
    table = Table(title=f"top {min(top, len(ranked))} of {len(ranked)} distinct architectures "
                        f"({len(records)} trials)")
    for column in ("rank", "reward", "hash", "first trial", "seen", "cells"):
        table.add_column(column, justify="right" if column != "cells" else "left")
    for rank, arch in enumerate(ranked[:top], start=1):
        table.add_row(str(rank), f"{arch.reward:.4f}", arch.hash, str(arch.first_trial),
                      str(arch.count), compact_cells(space, arch.decisions))
    console.print(table)
    front = pareto_front(ranked)
    if front:
        from ..analysis.report import human

        pareto = Table(title=f"{len(front)} Pareto-optimal architectures (score vs neck MACs)")
        for column in ("score", "neck MACs", "reward", "hash", "cells"):
            pareto.add_column(column, justify="right" if column != "cells" else "left")
        for arch in front:
            pareto.add_row(f"{arch.score:.4f}", human(arch.macs), f"{arch.reward:.4f}",
                           arch.hash, compact_cells(space, arch.decisions))
        console.print(pareto)
    if genotypes_dir:
        from ..utils import atomic_write

        for rank, arch in enumerate(ranked[:top], start=1):
            path = Path(genotypes_dir) / f"found{rank}.txt"
            atomic_write(path, space.to_text(arch.decisions, name=f"found{rank}", comment=(
                f"rank {rank} of the search in {out}: reward {arch.reward:.6g}, hash "
                f"{arch.hash}")))
            console.print(f"wrote {path}", markup=False)
    plots = Path(plots_dir) if plots_dir else out
    paths = write_plots(records, plots, out.name)
    cost_plot = write_cost_plot(records, out, plots, out.name)
    for path in paths + ([cost_plot] if cost_plot else []):
        console.print(f"wrote {path}")
    page = out / "compare.html"
    if write_html:
        from .compare import command as compare

        compare.main([str(out), "--top", str(top), "-o", str(page)], standalone_mode=False)
    else:
        console.print(f"side by side: nasfpn compare {out} --top {top} -o {page} "
                      f"(or search report --html)", markup=False)
    return 0


# --reference-* option -> ProxySettings field of the reference schedule
REFERENCE_OPTIONS = {"reference_epochs": "epochs", "reference_images": "synth_images",
                     "reference_image_size": "image_size", "reference_lr": "lr",
                     "reference_batch_size": "batch_size", "reference_warmup": "warmup",
                     "reference_score": "score"}
CALIBRATION_IDENTITY = ("architectures", "sampled", "poor", "seeds", "seed", "top_k", "cells",
                        "paper_constraints", *PROXY_OPTIONS, *REFERENCE_OPTIONS)


@command.command(name="calibrate")
@click.option("-o", "--output-dir", type=click.Path(file_okay=False), default="runs/calibration",
              show_default=True, help="plan.json, trainings.jsonl, calibration.json/png go here.")
@click.option("--architectures", default="fpn,panet,nasfpn,bifpn", show_default=True,
              metavar="NAMES", help="Comma-separated bundled names or genotype files ('' none).")
@click.option("--sampled", type=click.IntRange(min=0), default=2, show_default=True,
              help="Architectures sampled uniformly from the search space.")
@click.option("--poor", type=click.IntRange(min=0), default=2, show_default=True,
              help="Deliberately poor samples (cells read only the two coarsest inputs).")
@click.option("--seeds", type=click.IntRange(min=1), default=2, show_default=True,
              help="Trainings per architecture and schedule.")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Draws the sampled architectures and the training seeds.")
@click.option("--top-k", type=click.IntRange(min=1), default=3, show_default=True,
              help="Report the overlap of the proxy's and the reference's top k.")
@space_options
@executor_options
@click.option("--resume", is_flag=True, help="Finish the calibration in --output-dir.")
@proxy_options
@click.option("--reference-epochs", type=click.IntRange(min=1),
              default=DEFAULT_REFERENCE["epochs"], show_default=True,
              help="Reference schedule: epochs.")
@click.option("--reference-images", type=click.IntRange(min=8),
              default=DEFAULT_REFERENCE["synth_images"], show_default=True,
              help="Reference schedule, generated data (--proxy-data): images in all (a third "
                   "held out).")
@click.option("--reference-image-size", type=click.IntRange(min=64), default=None,
              help="Reference schedule: image size [default: the proxy's].")
@click.option("--reference-lr", type=POSITIVE, default=None,
              help="Reference schedule: learning rate [default: the proxy's].")
@click.option("--reference-batch-size", type=click.IntRange(min=1), default=None,
              help="Reference schedule: batch size [default: the proxy's].")
@click.option("--reference-warmup", type=click.IntRange(min=0), default=None,
              help="Reference schedule: warm-up optimizer steps [default: the proxy's].")
@click.option("--reference-score", type=click.Choice(list(SCORES)),
              default=DEFAULT_REFERENCE["score"],
              show_default=True, help="What the reference scores (whatever the proxy scores).")
@click.pass_context
def calibrate(ctx: click.Context, **params: Any) -> int:
    """Measure how well the proxy ranks architectures: train a fixed set under the proxy and
    under a longer reference schedule, then compare the rankings (docs/search.md)."""
    from ..console import console
    from ..search.calibration import resumed_config, run_calibration

    output_dir = Path(params["output_dir"])
    where = {"workers": params["workers"], "executor": params["executor"],
             "address": params["address"], "threads": params["threads"]}
    config = _stored_or_new(ctx, params, "calibration", output_dir / "plan.json",
                            CALIBRATION_IDENTITY, lambda: resumed_config(output_dir, **where),
                            lambda: _calibration_config(ctx, params, output_dir, where))
    result = run_calibration(config, resume=params["resume"])
    console.print(calibration_table(result))
    for line in calibration_summary(result):
        console.print(line, markup=False)
    console.print(f"wrote {output_dir / 'calibration.json'} and "
                  f"{output_dir / 'calibration.png'}", markup=False)
    return 0


def _calibration_config(ctx: click.Context, params: dict[str, Any], output_dir: Path,
                        where: dict[str, Any]):
    from ..search.calibration import CalibrationConfig
    from ..search.space import SearchSpace

    proxy = _proxy_settings(ctx, params)
    reference = {"epochs": params["reference_epochs"], "synth_images": params["reference_images"],
                 "score": params["reference_score"]}
    reference.update({field: params[option] for option, field in REFERENCE_OPTIONS.items()
                      if params[option] is not None})
    bundled = tuple(name.strip() for name in params["architectures"].split(",") if name.strip())
    return CalibrationConfig(output_dir, proxy, reference, bundled, params["sampled"],
                             params["poor"], params["seeds"], params["seed"],
                             SearchSpace(params["cells"],
                                         paper_constraints=params["paper_constraints"]),
                             params["top_k"], **where)


def calibration_table(result):
    """Per architecture: MACs, proxy and reference mean +- seed std, and both ranks."""
    from rich.table import Table

    from ..analysis.report import human

    archs = result.architectures
    ranks = {schedule: {arch.name: rank for rank, arch in enumerate(
        sorted(archs, key=lambda a: -a.mean(schedule)), start=1)}
        for schedule in ("proxy", "reference")}
    table = Table(title=f"calibration: {len(archs)} architectures, "
                        f"{len(archs[0].scores['proxy'])} seeds")
    for column in ("architecture", "kind", "neck MACs", "proxy", "#", "reference", "#"):
        table.add_column(column, justify="left" if column in ("architecture", "kind")
                         else "right", no_wrap=True)
    for arch in sorted(archs, key=lambda a: ranks["reference"][a.name]):
        table.add_row(arch.name, arch.kind,
                      "-" if arch.neck_macs is None else human(arch.neck_macs),
                      f"{arch.mean('proxy'):.4f}±{arch.std('proxy'):.4f}",
                      str(ranks["proxy"][arch.name]),
                      f"{arch.mean('reference'):.4f}±{arch.std('reference'):.4f}",
                      str(ranks["reference"][arch.name]))
    return table


def calibration_summary(result) -> list[str]:
    fidelity = result.fidelity
    percent = round(fidelity.confidence * 100)
    lines = [f"Kendall tau {fidelity.kendall_tau.text(3)}, Spearman rho "
             f"{fidelity.spearman_rho.text(3)} ({percent}% bootstrap intervals, "
             f"{fidelity.resamples} resamples)",
             f"top-{fidelity.top_k} overlap {fidelity.top_k_overlap:.2f}",
             f"seed noise / spread between architectures: proxy {fidelity.proxy_noise:.4f} / "
             f"{fidelity.proxy_spread:.4f}, reference {fidelity.reference_noise:.4f} / "
             f"{fidelity.reference_spread:.4f}",
             "seconds per training: " + ", ".join(
                 f"{schedule} {seconds:.1f}"
                 for schedule, seconds in result.seconds_per_training.items())]
    lines += [f"diverged: {error}" for error in result.errors]
    return lines
