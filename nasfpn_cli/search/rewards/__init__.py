"""Rewards by name (``--reward NAME[:ARGUMENT]``), and the plug-in point for new ones.

A reward registers with the settings it takes, a dataclass of declared fields
(:func:`nasfpn_cli.settings.setting`); the search commands make its flags from them as
``train``'s options are made (``--NAME-FIELD``), grouped under its section in ``--help``, and a
flag of one reward given to another is a usage error. The factory (a function or the Reward
class) receives the ``ARGUMENT`` text (or None), the search space and the settings object:

    @register_reward("levelcount", settings=LevelCount)  # LevelCount: level = setting(4, ...)
    class LevelCountReward(Reward):                     # --levelcount-level
        def __init__(self, argument, space, settings): ...

Rewards are rebuilt from their :class:`RewardSpec` inside every worker process or Ray task, so
a factory must be importable there: built-ins live here; a plug-in module passed with
``--reward-module`` is imported in the main process (before the options are parsed) and in
every worker before the name is looked up. See docs/search.md.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ...errors import SearchError
from ...records import Check, list_of, nested, optional, text
from ...genotype import Genotype
from ..space import Decisions, SearchSpace


@dataclass(frozen=True)
class Candidate:
    """What a reward sees of a trial: the architecture three ways, and a seed for its trial."""

    genotype: Genotype
    decisions: Decisions
    hash: str
    seed: int


@dataclass(frozen=True)
class Evaluation:
    """A reward's answer: the score, and where the reward records one its learning curve
    (metric name -> value after each epoch), which calibrations keep."""

    score: float
    curve: dict[str, list[float]] = field(default_factory=dict)


class Reward:
    """What the search asks of a reward; the runner, its workers, ASHA and the MACs objective
    talk to nothing else.

    - :meth:`prepare` runs once in the main process before the first trial (e.g. to write and
      check the data every worker then reads);
    - :meth:`score` scores a candidate (higher is better) at a ``budget`` within
      :meth:`budget_range` (None: the full budget), e.g. training epochs for ASHA's rungs;
    - :meth:`cost` counts what ``--macs-target`` penalises;
    - :meth:`final_scorer` names the reward that re-scores the search's best (by default this
      one, at other seeds).

    A factory may also return a plain callable ``candidate -> float``: :func:`build_reward`
    wraps it in :class:`CallableReward` (no budget; the default cost).
    """

    def prepare(self) -> None:
        """Once, in the main process, before the first trial."""

    def score(self, candidate: Candidate, budget: int | None = None) -> float:
        raise NotImplementedError

    def evaluate(self, candidate: Candidate, budget: int | None = None) -> Evaluation:
        """The score with what else the reward measured on the way (a curve); a reward that
        records curves overrides this and :meth:`score` reads it."""
        return Evaluation(self.score(candidate, budget))

    def budget_range(self) -> tuple[int, int] | None:
        """The smallest and the full budget :meth:`score` takes (None: it takes none)."""
        return None

    def cost(self, genotype: Genotype) -> int:
        """Neck multiply-adds per image as this reward builds the model; a reward that builds
        none is charged as the ``proxy`` recipe's model (so --macs-target means one thing)."""
        from ...engine.config import TrainConfig
        from ..cost import neck_macs

        return neck_macs(genotype, TrainConfig.from_recipe("proxy"))

    def final_scorer(self, spec: "RewardSpec") -> "RewardSpec | None":
        """The reward that scores the search's best again in its final selection (search/final.py),
        given this reward's own ``spec``; None: this one, at other seeds. A reward whose score
        does not depend on the seed names another, e.g. the supernet names short trainings."""
        return None

    def __call__(self, candidate: Candidate) -> float:
        return self.score(candidate)


class CallableReward(Reward):
    """A plain ``candidate -> float`` callable as a :class:`Reward`; its ``prepare()`` runs
    when it has one."""

    def __init__(self, function: Callable[[Candidate], float]):
        self.function = function

    def prepare(self) -> None:
        prepare = getattr(self.function, "prepare", None)
        if prepare is not None:
            prepare()

    def score(self, candidate: Candidate, budget: int | None = None) -> float:
        return self.function(candidate)


RewardFactory = Callable[..., "Reward | Callable"]

REWARDS: dict[str, "RewardEntry"] = {}
BUILTIN_MODULES = {"similarity": "similarity", "proxy": "proxy", "supernet": "supernet"}


@dataclass(frozen=True)
class RewardEntry:
    """A registered reward: its factory, the settings it declares (its ``--PREFIX-*`` flags) and
    the other rewards whose settings it takes too (the supernet trains on the proxy's data and
    model, so ``--proxy-*`` flags are its flags as well).

    ``settings`` None is the first plug-in contract: the factory takes the options as a dict
    (``factory(argument, space, options)``) and the proxy's flags reach it. With a settings
    class the factory takes an instance (``factory(argument, space, settings)``), plus, by
    keyword where its signature names them, ``output_dir`` (the search's folder) and the
    settings of each reward in ``uses`` under that reward's name (``proxy=...``).
    A stored option is ``key_prefix`` + the field's name (search.json's ``reward.options``).
    """

    name: str
    factory: RewardFactory
    settings: type | None = None
    prefix: str = ""
    key_prefix: str = ""
    uses: tuple[str, ...] = ()

    def stored_values(self, options: dict[str, Any]) -> dict[str, Any]:
        """The stored reward options of this reward's key prefix, by the name after it."""
        return {key[len(self.key_prefix):]: value for key, value in options.items()
                if key.startswith(self.key_prefix) and value is not None}

    def make_settings(self, options: dict[str, Any]) -> Any:
        """The settings object stored options give (checked as declared: SearchError naming
        the flag); a class with ``from_options(values)`` builds itself from them."""
        from ...settings import check_declared, meta_of

        values = self.stored_values(options)
        build = getattr(self.settings, "from_options", None)
        if build is not None:
            settings = build(values)
        else:
            fields = {item.name for item in dataclasses.fields(self.settings)}
            unknown = sorted(set(values) - fields)
            if unknown:
                raise SearchError(f"--reward {self.name}: unknown setting {unknown[0]!r}; "
                                  f"known: {', '.join(sorted(fields))}")
            settings = self.settings(**values)
        check_declared(settings, lambda name, message: SearchError(
            f"{meta_of(self.settings, name).flag_name(name, self.prefix)} {message}"))
        return settings


def register_reward(name: str, settings: type | None = None, *, prefix: str | None = None,
                    key_prefix: str | None = None, uses: tuple[str, ...] | None = None
                    ) -> Callable[[RewardFactory], RewardFactory]:
    """Decorator: make ``factory`` (a function or a Reward class) available as ``--reward
    NAME[:ARGUMENT]``; with ``settings`` (a dataclass of :func:`~nasfpn_cli.settings.setting`
    fields) the search commands give it flags ``--NAME-FIELD`` (or ``--PREFIX-FIELD``)."""
    if settings is not None and not dataclasses.is_dataclass(settings):
        raise TypeError(f"register_reward({name!r}): settings must be a dataclass")

    def decorate(factory: RewardFactory) -> RewardFactory:
        REWARDS[name] = RewardEntry(
            name, factory, settings, f"{name}-" if prefix is None else prefix,
            f"{name.replace('-', '_')}_" if key_prefix is None else key_prefix,
            (("proxy",) if settings is None else ()) if uses is None else tuple(uses))
        return factory

    return decorate


def load_builtin_rewards() -> None:
    """Register the built-in rewards (their modules import torch only when a reward is built)."""
    for module in BUILTIN_MODULES.values():
        importlib.import_module(f"{__name__}.{module}")


def reward_entry(name: str) -> RewardEntry:
    """The registered reward ``name`` (built-ins imported on demand); SearchError when unknown."""
    if name not in REWARDS and name in BUILTIN_MODULES:
        importlib.import_module(f"{__name__}.{BUILTIN_MODULES[name]}")
    if name not in REWARDS:
        known = sorted(set(REWARDS) | set(BUILTIN_MODULES))
        raise SearchError(f"--reward: unknown reward {name!r}; known: {', '.join(known)}",
                          hint="a reward of your own is registered with register_reward in a "
                               "module passed as --reward-module (docs/search.md)")
    return REWARDS[name]


@dataclass(frozen=True)
class RewardSpec:
    """A reward as plain data, so it can be stored in search.json and sent to workers."""

    name: str
    argument: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    modules: tuple[str, ...] = ()  # plug-in modules to import before looking the name up

    @classmethod
    def parse(cls, text: str, options: dict[str, Any] | None = None,
              modules: tuple[str, ...] = ()) -> "RewardSpec":
        """``"similarity:nasfpn"`` -> name ``similarity``, argument ``nasfpn``."""
        name, _, argument = text.partition(":")
        if not name:
            raise SearchError(f"--reward {text!r}: expected NAME or NAME:ARGUMENT")
        return cls(name, argument or None, dict(options or {}), tuple(modules))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "argument": self.argument, "options": self.options,
                "modules": list(self.modules)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RewardSpec":
        """From :meth:`to_dict`'s object, checked beforehand against :data:`REWARD_SPEC_SHAPE`."""
        return cls(data["name"], data.get("argument"), dict(data.get("options", {})),
                   tuple(data.get("modules", ())))

    def __str__(self) -> str:
        return self.name if self.argument is None else f"{self.name}:{self.argument}"


# a stored RewardSpec (its options are checked by the reward that takes them)
REWARD_SPEC_SHAPE: dict[str, Check] = {"name": text, "argument": optional(text),
                                       "options": nested({}),
                                       "modules": list_of(text, "module names")}


def import_plugins(modules: tuple[str, ...]) -> None:
    """Import the plug-in modules; SearchError (exit 1) naming the module when one is missing
    or its own code raises while it is imported (where, from its traceback)."""
    import traceback

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise SearchError(f"--reward-module {module}: cannot import it: {exc}") from exc
        except Exception as exc:  # the plug-in's own code failed: say where, not exit 3
            last = traceback.extract_tb(exc.__traceback__)[-1]
            raise SearchError(f"--reward-module {module}: importing it raised "
                              f"{type(exc).__name__}: {exc} (at {last.filename}:{last.lineno})",
                              hint="fix the plug-in module") from exc


def build_reward(spec: RewardSpec, space: SearchSpace, output_dir: str | Path) -> Reward:
    """The reward a spec names; raises SearchError for an unknown name or a bad argument or
    setting. See :class:`RewardEntry` for what its factory is given."""
    import_plugins(spec.modules)
    entry = reward_entry(spec.name)
    if entry.settings is None:
        reward = entry.factory(spec.argument, space,
                               {**spec.options, "output_dir": str(output_dir)})
    else:
        offered = {"output_dir": Path(output_dir),
                   **{used: reward_entry(used).make_settings(spec.options) for used in entry.uses}}
        wanted = inspect.signature(entry.factory).parameters
        reward = entry.factory(spec.argument, space, entry.make_settings(spec.options),
                               **{key: value for key, value in offered.items() if key in wanted})
    return reward if isinstance(reward, Reward) else CallableReward(reward)


__all__ = ["CallableReward", "Candidate", "Evaluation", "REWARDS", "Reward", "RewardEntry",
           "RewardSpec", "build_reward", "load_builtin_rewards", "register_reward", "reward_entry"]
