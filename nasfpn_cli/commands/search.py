"""``nasfpn search``: architecture search (controller + reward + executor); ``search report``."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import click
from click.core import ParameterSource

from ..engine.config import TrainConfig
from ..errors import NasfpnError, SearchError, UsageError
from ..limits import max_local_processes
from ..search.controllers import CONTROLLERS
from ..search.proxy_task import DEFAULT_REFERENCE, REFERENCE_FIELDS, TRAINED_FIELDS, ProxySettings
from ..search.rewards import REWARDS, RewardEntry, import_plugins, load_builtin_rewards
from ..search.space import SearchSpace
from ..settings import declared, meta_of, option_sources, setting_value
from ..untrusted import shell_word, shown_path
from ..search.store import CalibrationStore, SearchStore
from ..search.settings import (CalibrationSettings, ExecutorSettings, SearchSettings,
                               SpaceSettings)
from .params import check_file_values, require_writable_folder
from .settings_options import (SectionedCommand, SectionedGroup, option_fields,
                               parameter_name, settings_options)

SEARCH, CALIBRATION = SearchSettings(), CalibrationSettings()  # the other options' defaults
load_builtin_rewards()
# controller -> {option -> keyword of the controller}, from the controllers' declarations
CONTROLLER_OPTIONS = {name: option_fields(entry.options, entry.flag_prefix)
                      for name, entry in CONTROLLERS.items()}
def reward_flags(entry: RewardEntry) -> dict[str, str]:
    """A reward's flags: click parameter (``proxy_epochs``) -> the key its value is stored
    under in the reward's options (``epochs``; ``supernet_steps``)."""
    if entry.settings is None:
        return {}
    return {parameter: entry.key_prefix + name for source in option_sources(entry.settings)
            for parameter, name in option_fields(source.cls, entry.prefix, source.names).items()}


def all_reward_flags() -> dict[str, dict[str, str]]:
    """:func:`reward_flags` of every registered reward, by reward name."""
    return {name: reward_flags(entry) for name, entry in REWARDS.items()}


def reward_options(entry: RewardEntry) -> Callable[[Callable], Callable]:
    """A decorator adding a reward's flags, made from its declared settings as ``train``'s
    options are; the default reward's options hold their defaults (``--print-config`` shows
    them), another reward's are unset unless given."""
    concrete = entry.name == SEARCH.reward

    def decorate(command: Callable) -> Callable:
        for source in reversed(option_sources(entry.settings)):
            command = settings_options(source.cls, prefix=entry.prefix, names=source.names,
                                       defaults=source.defaults, concrete=concrete,
                                       section=source.section)(command)
        return command

    return decorate


def add_reward_options(command: click.Command) -> None:
    """Give ``command`` the flags of every registered reward that has settings and no flags on
    it yet (plug-in rewards registered since)."""
    present = {param.name for param in command.params}
    for entry in list(REWARDS.values()):
        flags = set(reward_flags(entry))
        if entry.settings is None or flags <= present:
            continue
        clash = sorted(flags & present)
        if clash:
            raise UsageError(f"--reward {entry.name}: its flag --{clash[0].replace('_', '-')} "
                             "is already another option's", hint="register it with another "
                                                                  "prefix= (register_reward)")

        def holder() -> None:
            """Collects the generated options."""

        reward_options(entry)(holder)
        command.params.extend(reversed(holder.__click_params__))  # type: ignore[attr-defined]
        present |= flags


def _reward_modules(args: list[str]) -> tuple[str, ...]:
    """The ``--reward-module`` values among command-line arguments (before any ``--``)."""
    modules = []
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--reward-module" and index + 1 < len(args):
            modules.append(args[index + 1])
        elif arg.startswith("--reward-module="):
            modules.append(arg.partition("=")[2])
    return tuple(modules)


class SearchGroup(SectionedGroup):
    """``nasfpn search``: before its options are parsed, the ``--reward-module`` plug-ins are
    imported and their rewards' flags added, so they parse, show in ``--help`` and are
    checked like the built-in ones."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        modules = _reward_modules(args)
        if modules:
            import_plugins(modules)
            add_reward_options(self)
        return super().parse_args(ctx, args)


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)


def _explicit(ctx: click.Context, params: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {field: params[option] for option, field in names.items() if _given(ctx, option)}


class _NotTaken:
    """The stored value of an option the stored search does not take (another controller's or
    reward's flag): shown in words, equal to no value given."""

    def __init__(self, words: str) -> None:
        self.words = words

    def __repr__(self) -> str:
        return self.words


def _stored_or_new(ctx: click.Context, params: dict[str, Any], what: str, settings_file: Path,
                   stored_values: Callable[[dict[str, Any]], dict[str, Any]],
                   stored: Callable[[], Any], new: Callable[[], Any]) -> Any:
    """With --resume the stored configuration: each option given that says *what* runs
    (``stored_values``: its value read from the stored identity) must have its stored value,
    and the error names exactly those that do not; else a new one from the options."""
    if params["resume"] and settings_file.exists():
        config = stored()
        differing = _differing(ctx, params, stored_values(config.identity()))
        if differing:
            flags = ", ".join(f"--{name.replace('_', '-')}" for name, _ in differing)
            raise UsageError(f"--resume continues the {what} in {settings_file.parent} with "
                             f"its stored settings, which win; {flags} "
                             f"differ{'s' if len(differing) == 1 else ''} from them: "
                             f"{'; '.join(line for _, line in differing)}",
                             hint=f"see {settings_file}, or drop those options")
        return config
    if params["resume"]:
        raise UsageError(f"--resume: no {what} to resume in {settings_file.parent}")
    return new()


def _names(text: str | None) -> tuple[str, ...]:
    """Comma-separated names (``--architectures``, ``--seed-from``; ``none``: none)."""
    if text is None or text.strip().lower() == "none":
        return ()
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _reward_text(text: str) -> str:
    from ..search.rewards import RewardSpec

    return str(RewardSpec.parse(text))


def _cells(text: str | None) -> tuple[int, int] | None:
    from ..search.spaces import parse_cells

    return parse_cells(text)


# a given option's value in the terms :func:`_search_values` reads a stored one in (the same
# search typed differently must not differ); options not named compare as click gives them
AS_STORED: dict[str, Callable[[Any], Any]] = {
    "reward": _reward_text, "reward_module": tuple, "cells": _cells, "seed_from": _names,
    "architectures": _names}


def _differing(ctx: click.Context, params: dict[str, Any], stored: dict[str, Any]
               ) -> list[tuple[str, str]]:
    """(parameter, ``name VALUE (stored: VALUE)``) of each option given on the command line
    or in --config whose value is not the stored one. Options left out take the stored
    values, so only what was given can differ."""
    paths = {parameter for entry in REWARDS.values() for parameter in _path_parameters(entry)}
    differing = []
    for name, value in stored.items():
        if name not in params or not _given(ctx, name):
            continue
        asked = _paths(params[name]) if name in paths else AS_STORED.get(name, _same)(
            params[name])
        if asked != value:
            differing.append((name, f"{name} {asked!r} (stored: {value!r})"))
    return differing


def _same(value: Any) -> Any:
    return value


def _stored_cells(space: dict[str, Any]) -> tuple[int, int]:
    """``--cells`` of a stored space of either kind, as (low, high)."""
    cells = space.get("cells") or [space.get("num_cells")] * 2
    return tuple(cells)  # type: ignore[return-value]


def _flag_defaults(entry: RewardEntry) -> dict[str, Any]:
    """A reward's flags -> the value its settings take when the flag is left out."""
    if entry.settings is None:
        return {}
    return {parameter: None if source.defaults is None else setting_value(source.defaults, name)
            for source in option_sources(entry.settings)
            for parameter, name in option_fields(source.cls, entry.prefix, source.names).items()}


def _reward_values(reward: str, options: dict[str, Any]) -> dict[str, Any]:
    """Every reward flag's stored value: the reward's stored option, or its default where the
    flag was left out; a flag of a reward the stored one does not take has none."""
    entry = REWARDS.get(reward)
    takes = {reward, *(entry.uses if entry is not None else ())}
    values: dict[str, Any] = {}
    for name, flags in all_reward_flags().items():
        defaults = _flag_defaults(REWARDS[name])
        for parameter, key in flags.items():
            values[parameter] = options.get(key, defaults.get(parameter)) if name in takes \
                else _NotTaken(f"not an option of its reward {reward}")
    return values


def _search_values(identity: dict[str, Any]) -> dict[str, Any]:
    """The value each option that says what is searched had, read from a stored search's
    identity (search.json) in the option's own terms."""
    from ..search.rewards import RewardSpec
    from ..search.spaces import space_kind

    reward = RewardSpec.from_dict(identity["reward"])
    space, controller = identity["space"], identity["controller"]
    macs = identity.get("macs_objective") or {}
    scheduler = identity.get("scheduler") or {}
    values = {"controller": controller, "reward": str(reward), "reward_module": reward.modules,
              "seed": identity["seed"], "space": space_kind(space), "cells": _stored_cells(space),
              "max_inputs": space.get("max_inputs"),
              "paper_constraints": space.get("paper_constraints", False),
              "seed_from": tuple(item["name"] for item in identity.get("seed_from", ())),
              "macs_target": macs.get("target"), "macs_weight": macs.get("weight"),
              "scheduler": scheduler.get("name", "none"), "asha_eta": scheduler.get("eta"),
              "asha_min_epochs": scheduler.get("min_epochs")}
    for name, options in CONTROLLER_OPTIONS.items():
        defaults = CONTROLLERS[name].options()
        for option, keyword in options.items():
            values[option] = identity["controller_options"].get(
                keyword, getattr(defaults, keyword)) if name == controller \
                else _NotTaken(f"not an option of its controller {controller}")
    values.update(_reward_values(reward.name, reward.options))
    return values


def _paths(value: str | None) -> str | None:
    return None if value is None else str(Path(value).resolve())


def _path_parameters(entry: RewardEntry) -> set[str]:
    """The parameters of a reward's flags that name files or folders."""
    if entry.settings is None:
        return set()
    return {parameter_name(meta, item.name, entry.prefix)
            for source in option_sources(entry.settings) for item, meta in declared(source.cls)
            if meta.path is not None and (source.names is None or item.name in source.names)}


def _given_reward_options(ctx: click.Context, params: dict[str, Any]
                          ) -> dict[str, dict[str, dict[str, Any]]]:
    """Per reward, the flags given on the command line: parameter -> (stored key, value);
    paths made absolute (workers may run elsewhere)."""
    given: dict[str, dict[str, Any]] = {}
    for name, flags in all_reward_flags().items():
        paths = _path_parameters(REWARDS[name])
        for parameter, key in flags.items():
            if parameter in params and _given(ctx, parameter):
                value = params[parameter]
                given.setdefault(name, {})[parameter] = (
                    key, _paths(value) if parameter in paths else value)
    return given


def _reward_options_for(reward_name: str, given: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The stored options of ``--reward NAME`` from the given flags; a flag of a reward it
    does not take is a usage error naming both."""
    from ..search.rewards import reward_entry

    entry = reward_entry(reward_name)
    options: dict[str, Any] = {}
    for owner, flags in given.items():
        if owner != entry.name and owner not in entry.uses:
            named = ", ".join(f"--{parameter.replace('_', '-')}" for parameter in flags)
            raise UsageError(f"{named}: options of --reward {owner}, not of --reward "
                             f"{reward_name}" + ("" if entry.uses else
                                                 f", which takes no {owner} settings"))
        options.update(dict(flags.values()))
    return options


# where trials run and the search space, shared by `search` and `search calibrate`
executor_options = settings_options(ExecutorSettings, defaults=ExecutorSettings(), concrete=True)
space_options = settings_options(SpaceSettings, defaults=SpaceSettings(), concrete=True)
# calibration samples the paper's space (its poor architectures are built for it): one number
# of cells, the paper space's own default
CALIBRATION_SPACE = SpaceSettings(space="paper", cells=str(SearchSpace.num_cells))
paper_space_options = settings_options(
    SpaceSettings, names=["cells", "paper_constraints"], defaults=CALIBRATION_SPACE,
    concrete=True, help_for={"cells": "Merging cells of the sampled pyramids (the paper's "
                                      "space: one number); the last 5 are the outputs."}.get)


def controller_options(command: Callable) -> Callable:
    """Every controller's options, from its declaration (``--ppo-lr``, ``--population-size``)."""
    for entry in CONTROLLERS.values():
        command = settings_options(entry.options, prefix=entry.flag_prefix,
                                   defaults=entry.options(), concrete=True)(command)
    return command


def _read_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """--config FILE: its keys become the options' defaults, so flags given still win and
    resume checks see them as given."""
    if value is None:
        return
    from ..engine.config_file import read_config_file

    names = [p.name for p in ctx.command.params if p.name and p.expose_value]
    values = check_file_values(ctx, read_config_file(value, names), f"--config {value}")
    ctx.default_map = {**(ctx.default_map or {}), **values}


def _read_proxy_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """--proxy-config FILE (a proxy.toml of `calibrate --tune`): its [proxy] settings become
    the --proxy-* options' defaults; flags given still win."""
    if value is None:
        return
    from ..engine.config_file import read_config_table

    from ..search.proxy_task import settings_problem

    parameters = {field: option for option, field in reward_flags(REWARDS["proxy"]).items()}
    table = read_config_table(value, "proxy", parameters, "--proxy-config")
    values = check_file_values(
        ctx, {parameters[field]: setting for field, setting in table.items()},
        f"--proxy-config {value}", {parameter: f"proxy.{field}"
                                    for field, parameter in parameters.items()})
    problem = settings_problem(table, lambda field: f"proxy.{field}")
    if problem is not None:  # what the file says alone (with flags: ProxySettings checks)
        raise UsageError(f"--proxy-config {value}: {problem}")
    ctx.meta["proxy_config"] = value
    ctx.default_map = {**(ctx.default_map or {}), **values}


proxy_config_option = click.option(
    "--proxy-config", type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
    callback=_read_proxy_config, metavar="FILE",
    help="The proxy's settings from a proxy.toml (`search calibrate --tune` writes one); "
         "--proxy-* flags given here win.")


@click.group(name="search", invoke_without_command=True, cls=SearchGroup)
@click.option("--config", type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
              callback=_read_config, metavar="FILE",
              help="Options from a TOML (or JSON) file, keys as the option names with "
                   "underscores; flags given here win.")
@click.option("--print-config", is_flag=True,
              help="Print the resolved options (valid as --config) and exit.")
@proxy_config_option
@settings_options(SearchSettings, names=["controller", "reward"], defaults=SEARCH, concrete=True)
@click.option("--reward-module", multiple=True, metavar="MODULE",
              help="Import MODULE (in every worker too) to register rewards of your own.")
@settings_options(SearchSettings, names=["trials", "seed", "output_dir"], defaults=SEARCH,
                  concrete=True)
@executor_options
@settings_options(SearchSettings, names=["resume"], defaults=SEARCH, concrete=True)
@space_options
@controller_options
@settings_options(SearchSettings, names=["seed_from", "scheduler", "asha_eta", "asha_min_epochs",
                                         "macs_target", "macs_weight", "final_top_k",
                                         "final_seeds"], defaults=SEARCH,
                  concrete=True)
@click.pass_context
def command(ctx: click.Context, **params: Any) -> int | None:
    """Search for a feature pyramid, as NAS-FPN did: a controller proposes genotypes, a reward
    scores them, trials run on W workers; see docs/search.md. `search report OUT` shows results."""
    if ctx.invoked_subcommand is not None:
        return None
    if params["controller"] is None:
        from ..search.spaces import default_controller

        params["controller"] = default_controller(params["space"])
    if params.pop("print_config"):
        import json

        click.echo(json.dumps(params, indent=2))
        return 0
    from ..console import console, err_console
    from ..search.runner import STORED_TARGETS, resumed_config, run_search

    if params["executor"] == "local" and params["workers"] > max_local_processes():
        raise UsageError(f"--workers {params['workers']}: more than {max_local_processes()} "
                         "processes on this machine", hint="--executor ray runs trials on a "
                                                            "cluster")
    # checked here, not as the option's type: `search report` must not probe the default
    require_writable_folder(params["output_dir"], "-o/--output-dir")
    output_dir = Path(params["output_dir"])
    where = {"trials": params["trials"], "workers": params["workers"],
             "executor": params["executor"], "address": params["address"],
             "threads": params["threads"], "final_top_k": params["final_top_k"],
             "final_seeds": params["final_seeds"]}
    # without --trials (--final-top-k, --final-seeds) the stored value stands, not the default
    stored_where = {**where, **{name: params[name] if _given(ctx, name) else None
                                for name in STORED_TARGETS}}
    config = _stored_or_new(ctx, params, "search", SearchStore(output_dir).config, _search_values,
                            lambda: resumed_config(output_dir, **stored_where),
                            lambda: _config_from_options(ctx, params, output_dir, where))
    if config.reward.name == "proxy" and not params["resume"] and "proxy_config" not in ctx.meta:
        err_console.print("note: the proxy is not tuned on this data (no --proxy-config); `nasfpn "
                          "search calibrate` then `--tune` measures and tunes it "
                          "(docs/search.md)", markup=False)
    summary = run_search(config, resume=params["resume"])
    best = summary.best
    console.print(f"{len(summary.records)} trials, {summary.unique} distinct architectures, "
                  f"{summary.seconds:.1f} s")
    if best is not None:
        console.print(f"best reward {best.reward:.4f} (trial {best.trial}); genotype in "
                      f"{output_dir / 'best.txt'}")
    if summary.final:
        console.print(final_table(summary.final, config.space))
        for line in final_verdict(summary.final):
            console.print(line, markup=False)
        print_anchor_judgement(output_dir, summary.final)
    return 0


def print_anchor_judgement(output_dir: Path, final) -> None:
    """A seeded search's winners against its anchors: a table and the verdict."""
    from rich.table import Table

    from ..console import console
    from ..search.anchoring import judge_search, verdict

    comparisons = judge_search(output_dir, final)
    if not comparisons:
        return
    table = Table(title=f"the winners against the anchors (paired by seed against the best, "
                        f"{comparisons[0].best_anchor})")
    for column in ("hash", "mean", "nearest anchor", "edits", "MACs vs it", "vs best anchor"):
        table.add_column(column, justify="left" if column in ("hash", "nearest anchor")
                         else "right")
    for c in comparisons:
        table.add_row(c.hash, f"{c.mean:.4f}", c.nearest,
                      "-" if c.distance is None else str(c.distance),
                      "-" if c.macs_ratio is None else f"{c.macs_ratio:.2f}x",
                      f"{c.difference:+.4f} +- {c.error:.4f}")
    console.print(table)
    console.print(verdict(comparisons), markup=False)


add_reward_options(command)  # the built-in rewards' flags (plug-ins add theirs when imported)


def final_table(final, space):
    """The final selection: the top architectures by the mean of their new scorings (a trial's
    own score, shown first in brackets, stays out of the mean: it chose the architecture)."""
    from rich.table import Table

    from rich.markup import escape

    from ..search.results import compact_cells

    by = (f" by the {escape(final[0].scorer)} reward (the search's own scores left out)"
          if final[0].scorer else " (mean without the trial's own score, in brackets)")
    table = Table(title=f"final selection: the top {len(final)} scored "
                        f"{len(final[0].scores)} more times each{by}")
    for column in ("rank", "mean", "std", "scores", "hash", "cells"):
        table.add_column(column, justify="left" if column in ("scores", "cells") else "right")
    for rank, arch in enumerate(final, start=1):
        table.add_row(str(rank), f"{arch.mean:.4f}", f"{arch.std:.4f}",
                      _scores_text(arch), arch.hash,
                      compact_cells(space, arch.decisions))
    return table


def _scores_text(arch) -> str:
    """An architecture's scores, the trial's own in brackets when it stays out of the mean."""
    shown = " ".join(f"{r:.4f}" for r in arch.scores)
    return shown if len(arch.scores) == len(arch.rewards) else f"({arch.rewards[0]:.4f}) {shown}"


def final_verdict(final) -> list[str]:
    """One line: is the winner of the final selection ahead of the runner-up beyond noise?"""
    from ..search.final import within_noise

    if len(final) < 2:
        return []
    first, second = final[0], final[1]
    if within_noise(final):
        return [f"the winner {first.hash} ({first.mean:.4f} +- {first.std:.4f}) is within noise "
                f"of the runner-up {second.hash} ({second.mean:.4f} +- {second.std:.4f}): "
                "retrain both (or more seeds: --final-seeds) before choosing"]
    return [f"the winner {first.hash} leads the runner-up by {first.mean - second.mean:.4f}, "
            f"beyond the noise of the two means"]


# option -> (what it needs, said as options; whether the options given have it): without it
# the option means nothing, and a search that ignores it silently misleads
NEEDS: dict[str, tuple[str, Callable[[dict[str, Any]], bool]]] = {
    "macs_weight": ("--macs-target", lambda params: params["macs_target"] is not None),
    "asha_eta": ("--scheduler asha", lambda params: params["scheduler"] == "asha"),
    "asha_min_epochs": ("--scheduler asha", lambda params: params["scheduler"] == "asha"),
}


def _config_from_options(ctx: click.Context, params: dict[str, Any], output_dir: Path,
                         where: dict[str, Any]):
    from ..search.rewards import RewardSpec
    from ..search.runner import SearchConfig
    from ..search.spaces import build_space

    options = _reward_options_for(params["reward"].partition(":")[0],
                                  _given_reward_options(ctx, params))
    controller = params["controller"]
    wrong = [f"--{option.replace('_', '-')}" for name, options in CONTROLLER_OPTIONS.items()
             for option in options if name != controller and _given(ctx, option)]
    if wrong:
        raise UsageError(f"{', '.join(wrong)}: not an option of --controller {controller}")
    controller_options = _explicit(ctx, params, CONTROLLER_OPTIONS[controller])
    for option, (needed, met) in NEEDS.items():
        if _given(ctx, option) and not met(params):
            raise UsageError(f"--{option.replace('_', '-')} needs {needed}")
    macs = None
    if params["macs_target"] is not None:
        from ..search.cost import MacsObjective

        macs = MacsObjective(params["macs_target"], params["macs_weight"])
    if params["space"] not in CONTROLLERS[controller].spaces:
        raise UsageError(f"--controller {controller} searches --space "
                         f"{' or '.join(CONTROLLERS[controller].spaces)}, not --space "
                         f"{params['space']}")
    space = build_space(params["space"], params["cells"], params["max_inputs"],
                        params["paper_constraints"])
    return SearchConfig(output_dir, RewardSpec.parse(params["reward"], options,
                                                     tuple(params["reward_module"])),
                        controller, controller_options, space,
                        params["seed"], macs_objective=macs, scheduler=params["scheduler"],
                        asha_eta=params["asha_eta"], asha_min_epochs=params["asha_min_epochs"],
                        seeds=seed_pyramids(params["seed_from"], controller, space), **where)


def seed_pyramids(seed_from: str | None, controller: str, space) -> tuple:
    """``--seed-from``: (name, decisions) of each pyramid named, in order; by default the
    anchors where the controller starts from seeds in the anchored space. UsageError naming a
    pyramid that is no point of the space, and why."""
    from ..genotype import load_genotype
    from ..errors import NasfpnError
    from ..search.anchored import ANCHORS
    from ..search.spaces import ANCHORED, space_kind

    seeded = CONTROLLERS[controller].seeded
    if seed_from is None:
        names = ANCHORS if seeded and space_kind(space.to_dict()) == ANCHORED else ()
    elif seed_from.strip().lower() == "none":
        names = ()
    else:
        names = tuple(name.strip() for name in seed_from.split(",") if name.strip())
        if not seeded:
            raise UsageError(f"--seed-from: --controller {controller} does not start from given "
                             "pyramids", hint="--controller evolution, local or ppo do")
    seeds = []
    for name in names:
        try:
            seeds.append((name, space.encode(load_genotype(name))))
        except NasfpnError as exc:
            raise UsageError(f"--seed-from {name}: not a point of the search space: {exc}",
                             hint="--space anchored holds fpn, panet, bifpn and nasfpn") from None
    return tuple(seeds)


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
              help="Also write the top architectures there as found1.txt, found2.txt, ... (a "
                   "seeded search's anchors left out).")
def report(output_dir: str, top: int, plots_dir: str | None, write_html: bool,
           genotypes_dir: str | None) -> int:
    """The best architectures of a search and its convergence plots."""
    from rich.table import Table

    from ..console import console
    from ..search.trials import check_decisions
    from ..search.results import (compact_cells, curves, load_trials, pareto_front,
                                 rank_architectures, search_space_of, write_cost_plot,
                                 write_plots)

    out = Path(output_dir)
    page = out / "compare.html"
    if write_html and page.exists() and not page.is_file():  # before anything is written
        raise NasfpnError(f"{shown_path(page)}: not a file; search report --html writes the "
                          "page there", hint="move it away, or leave out --html")
    records = load_trials(out)
    space = search_space_of(out)
    check_decisions(records, space, SearchStore(out).trials)
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
    from ..search.final import load_final

    final = load_final(out, records)
    if final:
        console.print(final_table(final, space))
        for line in final_verdict(final):
            console.print(line, markup=False)
        print_anchor_judgement(out, final)
    front = pareto_front(ranked)
    if front:
        from ..analysis.flop_tables import human

        pareto = Table(title=f"{len(front)} Pareto-optimal architectures (score vs neck MACs)")
        for column in ("score", "neck MACs", "reward", "hash", "cells"):
            pareto.add_column(column, justify="right" if column != "cells" else "left")
        for arch in front:
            pareto.add_row(f"{arch.score:.4f}", human(arch.macs), f"{arch.reward:.4f}",
                           arch.hash, compact_cells(space, arch.decisions))
        console.print(pareto)
    if genotypes_dir:
        from ..utils import atomic_write

        for rank, (decisions, comment) in enumerate(found_order(out, ranked, final)[:top],
                                                    start=1):
            path = Path(genotypes_dir) / f"found{rank}.txt"
            atomic_write(path, space.to_text(decisions, name=f"found{rank}",
                                             comment=f"rank {rank}: {comment}"))
            console.print(f"wrote {shown_path(path)}", markup=False)
    plots = Path(plots_dir) if plots_dir else out
    paths = write_plots(records, plots, out.name)
    cost_plot = write_cost_plot(records, out, plots, out.name)
    for path in paths + ([cost_plot] if cost_plot else []):
        console.print(f"wrote {shown_path(path)}", markup=False)
    if write_html:
        from .compare import command as compare

        try:
            compare.main([str(out), "--top", str(top), "-o", str(page)], standalone_mode=False)
        except click.ClickException as exc:  # compare's usage text would name another command
            raise NasfpnError(f"search report --html: {exc.format_message()}") from None
    else:
        console.print(f"side by side: nasfpn compare {shell_word(str(out))} --top {top} -o "
                      f"{shell_word(str(page))} (or search report --html)", markup=False)
    return 0


@command.command(name="space", cls=SectionedCommand)
@click.argument("genotypes", nargs=-1, metavar="[GENOTYPE]...")
@space_options
@click.option("--json", "as_json", is_flag=True,
              help="Print the space and, for each genotype, in_space, reason, decisions and hash "
                   f"(the canonical hash {SearchStore.FILES['trials']} records) as JSON.")
def space(genotypes: tuple[str, ...], as_json: bool, **params: Any) -> int:
    """The search space (its decisions, cell and input ranges, ops, log10 of its number of
    pyramids) and, for each GENOTYPE (bundled name or file), whether it is a point of it; exit 1
    when one is not."""
    import json

    from ..console import console
    from ..genotype import load_genotype
    from ..search.spaces import build_space

    searched = build_space(params["space"], params["cells"], params["max_inputs"],
                           params["paper_constraints"])
    description = searched.describe()
    points = []
    for name in genotypes:
        inside, reason = searched.contains(load_genotype(name))
        decisions = searched.encode(load_genotype(name)) if inside else None
        points.append({"genotype": name, "in_space": inside, "reason": reason or None,
                       "decisions": None if decisions is None else list(decisions),
                       "hash": None if decisions is None else searched.hash(decisions)})
    if as_json:
        click.echo(json.dumps({"space": description, "genotypes": points}, indent=2))
    else:
        low, high = description["log10_pyramids"]
        cells = description["cells"]
        console.print(f"{description['kind']} space: {cells[0]}..{cells[1]} cells of 2.."
                      f"{description['max_inputs']} inputs over "
                      f"{' '.join(description['levels'])}; ops {', '.join(description['ops'])}; "
                      f"10^{low:.1f} to 10^{high:.1f} pyramids", markup=False)
        for decision in description["decisions"]:
            console.print(f"  {decision['kind']}: {decision['meaning']}", markup=False)
        for point in points:  # names and reasons from files: shown as text
            console.print(f"point {point['genotype']} (hash {point['hash']})"
                          if point["in_space"] else
                          f"not a point {point['genotype']}: {point['reason']}", markup=False)
    return 1 if any(not point["in_space"] for point in points) else 0


def found_order(out: Path, ranked, final) -> list[tuple[tuple[int, ...], str]]:
    """The architectures ``report --genotypes-dir`` writes, best first, each with where its rank
    comes from: the final selection's ranking where there is one (that is what it is for), then
    the search's own ranking of the rest. A seeded search's anchors are left out: they are the
    pyramids it started from, already at hand by name."""
    from ..search.results import seed_hashes

    anchors = seed_hashes(out)
    final = [arch for arch in final if arch.hash not in anchors]
    ranked = [arch for arch in ranked if arch.hash not in anchors]
    order = [(arch.decisions, f"{arch.hash}, mean {arch.mean:.6g} over {len(arch.rewards)} "
                              f"scores in the final selection of the search in {shown_path(out)}"
              + (f" (by the {arch.scorer} reward)" if arch.scorer else ""))
             for arch in final]
    chosen = {arch.hash for arch in final}
    order += [(tuple(arch.decisions), f"{arch.hash}, reward {arch.reward:.6g} in the search in "
                                      f"{shown_path(out)}") for arch in ranked
              if arch.hash not in chosen]
    return order


# --reference-* parameter -> ProxySettings field of the reference schedule (train's declaration
# for the training ones, the proxy's for its own)
REFERENCE_OPTIONS = {
    **option_fields(TrainConfig, "reference-", [n for n in REFERENCE_FIELDS if n in TRAINED_FIELDS]),
    **option_fields(ProxySettings, "reference-", [n for n in REFERENCE_FIELDS
                                                  if n not in TRAINED_FIELDS])}
REFERENCE_DEFAULTS = SimpleNamespace(**{name: DEFAULT_REFERENCE.get(name)
                                        for name in REFERENCE_FIELDS})


def _calibration_values(identity: dict[str, Any]) -> dict[str, Any]:
    """The value each option that says what is calibrated had, read from a stored plan
    (plan.json) in the option's own terms."""
    space = identity["space"]
    values = {"architectures": tuple(identity["bundled"]), "cells": _stored_cells(space),
              "paper_constraints": space.get("paper_constraints", False),
              **{name: identity[name] for name in ("sampled", "poor", "seeds", "seed", "top_k")},
              **{option: identity["reference"].get(field)
                 for option, field in REFERENCE_OPTIONS.items()}}
    return {**_reward_values("proxy", identity["proxy"]), **values}


def _reference_help(name: str) -> str:
    flag = meta_of(TrainConfig if name in TRAINED_FIELDS else ProxySettings, name).flag_name(
        name, "proxy-")
    default = "" if name in DEFAULT_REFERENCE else " [default: the proxy's]"
    return f"Reference schedule: as {flag}{default}."


def reference_options(command: Callable) -> Callable:
    """The --reference-* options of `search calibrate`, from the same declarations."""
    for cls in (ProxySettings, TrainConfig):
        names = [name for name in REFERENCE_FIELDS if name in cls.__dataclass_fields__]
        command = settings_options(cls, prefix="reference-", names=names,
                                   defaults=REFERENCE_DEFAULTS, concrete=True,
                                   section="reference", help_for=_reference_help)(command)
    return command


@command.command(name="calibrate", cls=SectionedCommand)
@settings_options(CalibrationSettings, names=["output_dir", "architectures", "sampled", "poor",
                                             "seeds", "seed", "top_k"],
                  defaults=CALIBRATION, concrete=True)
@paper_space_options
@executor_options
@settings_options(CalibrationSettings, names=["resume", "reference_from", "tune", "ladder_from",
                                             "target"],
                  defaults=CALIBRATION, concrete=True)
@proxy_config_option
@reward_options(REWARDS["proxy"])
@reference_options
@click.pass_context
def calibrate(ctx: click.Context, **params: Any) -> int:
    """Measure how well the proxy ranks architectures: train a fixed set under the proxy and
    under a longer reference schedule, then compare the rankings (docs/search.md)."""
    from ..console import console, err_console
    from ..search.calibration import numerics_line, resumed_config, run_calibration

    output_dir = Path(params["output_dir"])
    if params["tune"]:
        return _tune(output_dir, params["target"],
                     _earlier_calibrations("--ladder-from", params["ladder_from"], output_dir))
    for option in ("target", "ladder_from"):
        if _given(ctx, option):
            raise UsageError(f"--{option.replace('_', '-')} applies only with --tune")
    if not params["resume"]:
        from ..search.store import refuse_other_kind

        refuse_other_kind(output_dir, "calibration")
    where = {"workers": params["workers"], "executor": params["executor"],
             "address": params["address"], "threads": params["threads"],
             "reference_from": _earlier_calibrations("--reference-from", params["reference_from"],
                                                     output_dir, recorded=True)}
    config = _stored_or_new(ctx, params, "calibration", CalibrationStore(output_dir).plan,
                            _calibration_values, lambda: resumed_config(output_dir, **where),
                            lambda: _calibration_config(ctx, params, output_dir, where))
    err_console.print(numerics_line(config), markup=False)
    result = run_calibration(config, resume=params["resume"], warn=lambda line: err_console.print(
        f"warning: {line}", markup=False))
    if result.reused:
        console.print(f"{result.reused} of the trainings were copied from an earlier calibration "
                      "(--reference-from: same schedule, data and architecture), not run again",
                      markup=False)
    console.print(calibration_table(result))
    for line in calibration_summary(result):
        console.print(line, markup=False)
    store = CalibrationStore(output_dir)
    console.print(f"wrote {store.result} and {store.plot}", markup=False)
    return 0


def _earlier_calibrations(option: str, text: str | None, output_dir: Path,
                          recorded: bool = False) -> tuple[str, ...]:
    """The folders of ``--reference-from``/``--ladder-from`` (comma-separated), each once,
    checked before anything is written: a usage error for an empty name or the calibration's
    own folder (its rungs or trainings are its own already); with ``recorded``, an error for a
    calibration that recorded no training (nothing to copy: every training would run)."""
    from ..console import print_warning

    if text is None:
        return ()
    folders: dict[Path, str] = {}
    for name in text.split(","):
        if not name.strip():
            raise UsageError(f"{option} {text!r}: an empty folder name")
        if Path(name).resolve() == output_dir.resolve():
            raise UsageError(f"{option} {shown_path(name)}: the calibration's own folder")
        if Path(name).resolve() in folders:
            print_warning(f"{option}: {shown_path(name)} is given twice; its trainings count once")
        folders.setdefault(Path(name).resolve(), name)
    for name in folders.values():
        store = CalibrationStore(Path(name))
        if recorded and store.plan.is_file() and not (
                store.trainings.is_file() and store.trainings.stat().st_size):
            raise SearchError(f"{option} {shown_path(name)}: no training is recorded there (no "
                              f"{store.name('trainings')}): nothing to copy",
                              hint=f"finish it first (nasfpn search calibrate --resume -o "
                                   f"{shell_word(name)}), or leave out {option}")
    return tuple(folders.values())


def _tune(output_dir: Path, target: float, ladder_from: tuple[str, ...]) -> int:
    """`calibrate --tune`: the proxy ladder of a finished calibration, and its choice."""
    from ..console import console, print_warning
    from ..search.calibration import tune_calibration
    from ..search.tuning import ladder_table, tuning_lines

    tuning = tune_calibration(output_dir, target, ladder_from)
    console.print(ladder_table(tuning))
    for line, warning in tuning_lines(tuning, output_dir):
        if warning:
            print_warning(line)
        else:
            console.print(line, markup=False)
    console.print(f"wrote {output_dir / 'tuning.json'} and {output_dir / 'tuning.png'}",
                  markup=False)
    return 0


def _calibration_config(ctx: click.Context, params: dict[str, Any], output_dir: Path,
                        where: dict[str, Any]):
    from ..search.calibration import CalibrationConfig

    proxy = _reward_options_for("proxy", _given_reward_options(ctx, params))
    reference = {field: params[option] for option, field in REFERENCE_OPTIONS.items()
                 if params[option] is not None}
    bundled = tuple(name.strip() for name in params["architectures"].split(",") if name.strip())
    return CalibrationConfig(output_dir, proxy, reference, bundled, params["sampled"],
                             params["poor"], params["seeds"], params["seed"],
                             _calibration_space(params),
                             params["top_k"], **where)


def _calibration_space(params: dict[str, Any]):
    """The paper's space the calibration samples from (``--cells N``, ``--paper-constraints``);
    its messages must not point at ``--space``, which calibrate does not take."""
    from ..search.spaces import build_space

    try:
        return build_space(CALIBRATION_SPACE.space, params["cells"],
                           paper_constraints=params["paper_constraints"])
    except UsageError as exc:
        raise UsageError(str(exc), hint="search calibrate samples the paper's space: one number "
                                        f"of cells (default {CALIBRATION_SPACE.cells})") from None


def calibration_table(result):
    """Per architecture: MACs, proxy and reference mean +- seed std, and both ranks."""
    from rich.table import Table

    from ..analysis.flop_tables import human

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
