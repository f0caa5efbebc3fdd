"""``nasfpn search``: architecture search (controller + reward + executor); ``search report``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from ..errors import UsageError
from ..limits import MAX_CHANNELS, MAX_SEARCH_CELLS, max_local_processes
from ..search.rewards.proxy import ProxySettings
from .params import (BATCH_SIZE, NON_NEGATIVE, SEED, POSITIVE, STACK, image_size,
                     require_writable_folder)

PROXY = ProxySettings()  # the --proxy-* defaults

# --proxy-* option -> ProxySettings field (only options given on the command line are stored)
PROXY_OPTIONS = {
    "proxy_backbone": "backbone", "proxy_stack": "stack", "proxy_channels": "channels",
    "proxy_image_size": "image_size", "proxy_epochs": "epochs",
    "proxy_batch_size": "batch_size", "proxy_lr": "lr", "proxy_warmup": "warmup",
    "proxy_device": "device", "proxy_train_ann": "train_ann",
    "proxy_train_images": "train_images", "proxy_val_ann": "val_ann",
    "proxy_val_images": "val_images", "proxy_images": "synth_images",
    "proxy_data_seed": "synth_seed",
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
IDENTITY_OPTIONS = ("controller", "reward", "reward_module", "seed", "cells",
                    "paper_constraints", *CONTROLLER_OPTIONS["ppo"],
                    *CONTROLLER_OPTIONS["evolution"], *PROXY_OPTIONS)


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)


def _explicit(ctx: click.Context, params: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {field: params[option] for option, field in names.items() if _given(ctx, option)}


def _paths(value: str | None) -> str | None:
    return None if value is None else str(Path(value).resolve())


@click.group(name="search", invoke_without_command=True)
@click.option("--controller", type=click.Choice(["ppo", "random", "evolution"]), default="ppo",
              show_default=True, help="How architectures are proposed.")
@click.option("--reward", default="proxy", show_default=True, metavar="NAME[:ARG]",
              help="proxy (train and score AP), similarity:GENOTYPE, or a registered plug-in.")
@click.option("--reward-module", multiple=True, metavar="MODULE",
              help="Import MODULE (in every worker too) to register rewards of your own.")
@click.option("--trials", type=click.IntRange(min=1), default=100, show_default=True,
              help="Finished trials to reach (a resumed search may raise it).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Trials at once; local workers share the cores' torch threads.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("-o", "--output-dir", type=click.Path(), default="runs/search",
              show_default=True, help="search.json, trials.jsonl, state.pt, best.txt go here.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="local: process pool; ray: Ray tasks (GPU each if any).")
@click.option("--address", default=None, help="Ray cluster address (auto, ray://HOST:PORT).")
@click.option("--resume", is_flag=True, help="Continue the search in --output-dir.")
@click.option("--cells", type=click.IntRange(5, MAX_SEARCH_CELLS), default=7, show_default=True,
              help="Merging cells per pyramid; the last 5 are the outputs.")
@click.option("--paper-constraints", is_flag=True,
              help="The paper's extra rule: intermediate cells never produce P3 (stride 8).")
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
@click.option("--proxy-backbone", default=PROXY.backbone, show_default=True)
@click.option("--proxy-stack", type=STACK, default=PROXY.stack, show_default=True)
@click.option("--proxy-channels", type=click.IntRange(4, MAX_CHANNELS), default=PROXY.channels,
              show_default=True)
@click.option("--proxy-image-size", type=image_size(64), default=PROXY.image_size,
              show_default=True)
@click.option("--proxy-epochs", type=click.IntRange(min=1), default=PROXY.epochs, show_default=True)
@click.option("--proxy-batch-size", type=BATCH_SIZE, default=PROXY.batch_size,
              show_default=True)
@click.option("--proxy-lr", type=POSITIVE, default=PROXY.lr,
              show_default=True)
@click.option("--proxy-warmup", type=click.IntRange(min=0), default=PROXY.warmup,
              show_default=True, help="Warm-up optimizer steps.")
@click.option("--proxy-device", type=click.Choice(["auto", "cpu", "cuda"]), default=PROXY.device,
              show_default=True)
@click.option("--proxy-train-ann", type=click.Path(dir_okay=False), default=None,
              help="Real proxy data (all four paths); default: synthetic in OUT/proxy_data.")
@click.option("--proxy-train-images", type=click.Path(file_okay=False), default=None)
@click.option("--proxy-val-ann", type=click.Path(dir_okay=False), default=None,
              help="The held-out split that scores the reward.")
@click.option("--proxy-val-images", type=click.Path(file_okay=False), default=None)
@click.option("--proxy-images", type=click.IntRange(min=8), default=PROXY.synth_images,
              show_default=True, help="Synthetic proxy data: images in all (a quarter held out).")
@click.option("--proxy-data-seed", type=SEED, default=PROXY.synth_seed, show_default=True,
              help="Synthetic proxy data: seed.")
@click.pass_context
def command(ctx: click.Context, **params: Any) -> int | None:
    """Search for a feature pyramid, as NAS-FPN did: a controller proposes genotypes, a reward
    scores them, trials run on W workers; see docs/search.md. `search report OUT` shows results."""
    if ctx.invoked_subcommand is not None:
        return None
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
             "executor": params["executor"], "address": params["address"]}
    if params["resume"] and (output_dir / "search.json").exists():
        # without --trials the stored target stands (not this option's default)
        config = resumed_config(output_dir, **{**where, "trials": params["trials"]
                                               if _given(ctx, "trials") else None})
        given = [f"--{name.replace('_', '-')}" for name in IDENTITY_OPTIONS if _given(ctx, name)]
        fresh = _config_from_options(ctx, params, output_dir, where)
        if given and fresh.identity() != config.identity():
            raise UsageError(f"--resume continues the search in {output_dir} with its stored "
                             f"settings; {', '.join(given)} differ from them",
                             hint=f"see {output_dir / 'search.json'}, or drop those options")
    else:
        if params["resume"]:
            raise UsageError(f"--resume: no search to resume in {output_dir}")
        config = _config_from_options(ctx, params, output_dir, where)
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

    proxy = _explicit(ctx, params, PROXY_OPTIONS)
    reward_name = params["reward"].partition(":")[0]
    if proxy and reward_name in REWARDS_WITHOUT_PROXY:
        given = [f"--{o.replace('_', '-')}" for o in PROXY_OPTIONS if _given(ctx, o)]
        raise UsageError(f"{', '.join(given)}: not an option of --reward {reward_name}, which "
                         "trains no proxy model")
    for name in ("train_ann", "train_images", "val_ann", "val_images"):
        if name in proxy:
            proxy[name] = _paths(proxy[name])
    controller = params["controller"]
    wrong = [f"--{option.replace('_', '-')}" for name, options in CONTROLLER_OPTIONS.items()
             for option in options if name != controller and _given(ctx, option)]
    if wrong:
        raise UsageError(f"{', '.join(wrong)}: not an option of --controller {controller}")
    controller_options = _explicit(ctx, params, CONTROLLER_OPTIONS[controller])
    return SearchConfig(output_dir, RewardSpec.parse(params["reward"], proxy,
                                                     tuple(params["reward_module"])),
                        controller, controller_options,
                        SearchSpace(params["cells"], paper_constraints=params["paper_constraints"]),
                        params["seed"], **where)


@command.command(name="report")
@click.argument("output_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Distinct architectures in the table.")
@click.option("--plots-dir", type=click.Path(file_okay=False), default=None,
              help="Where reward.png and unique.png go (default: OUTPUT_DIR).")
@click.option("--html", "write_html", is_flag=True,
              help="Also write OUTPUT_DIR/compare.html: the top architectures side by side "
                   "(nasfpn compare OUTPUT_DIR --top N, default model options).")
def report(output_dir: str, top: int, plots_dir: str | None, write_html: bool) -> int:
    """The best architectures of a search and its convergence plots."""
    from rich.table import Table

    from ..console import console
    from ..search.runner import TRIALS_FILE
    from ..search.trials import check_decisions
    from ..search.report import (compact_cells, curves, load_trials, rank_architectures,
                                 search_space_of, write_plots)

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
    for path in write_plots(records, Path(plots_dir) if plots_dir else out, out.name):
        console.print(f"wrote {path}")
    page = out / "compare.html"
    if write_html:
        from .compare import command as compare

        compare.main([str(out), "--top", str(top), "-o", str(page)], standalone_mode=False)
    else:
        console.print(f"side by side: nasfpn compare {out} --top {top} -o {page} "
                      f"(or search report --html)", markup=False)
    return 0
