"""Rewards by name (``--reward NAME[:ARGUMENT]``), and the plug-in point for new ones.

A reward factory receives the ``ARGUMENT`` text (or None), the search space and the options of
the search (``--proxy-*`` and friends, plus ``output_dir``), and returns a :class:`Reward` (or a
plain callable, wrapped in :class:`CallableReward`).
Rewards are rebuilt from their :class:`RewardSpec` inside every worker process or Ray task, so
a factory must be importable there: built-ins live here; a plug-in module passed with
``--reward-module`` is imported in the main process and in every worker before the name is
looked up. See docs/search.md.

    from nasfpn_cli.search.rewards import register_reward

    @register_reward("cells-at-p4")
    def cells_at_p4(argument, space, options):
        return lambda candidate: sum(c.level == 4 for c in candidate.genotype.cells) / 7
"""
from __future__ import annotations

import importlib
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


RewardFactory = Callable[[str | None, SearchSpace, dict[str, Any]], "Reward | Callable"]

REWARDS: dict[str, RewardFactory] = {}
BUILTIN_MODULES = {"similarity": "similarity", "proxy": "proxy", "supernet": "supernet"}


def register_reward(name: str) -> Callable[[RewardFactory], RewardFactory]:
    """Decorator: make ``factory`` available as ``--reward NAME[:ARGUMENT]``."""

    def decorate(factory: RewardFactory) -> RewardFactory:
        REWARDS[name] = factory
        return factory

    return decorate


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
    """The reward a spec names; raises SearchError for an unknown name or a bad argument.

    The factory's options are the spec's plus ``output_dir``, the search's OUT folder.
    """
    import_plugins(spec.modules)
    if spec.name not in REWARDS and spec.name in BUILTIN_MODULES:
        importlib.import_module(f"{__name__}.{BUILTIN_MODULES[spec.name]}")
    if spec.name not in REWARDS:
        known = sorted(set(REWARDS) | set(BUILTIN_MODULES))
        raise SearchError(f"--reward: unknown reward {spec.name!r}; known: {', '.join(known)}",
                          hint="a reward of your own is registered with register_reward in a "
                               "module passed as --reward-module (docs/search.md)")
    reward = REWARDS[spec.name](spec.argument, space,
                                {**spec.options, "output_dir": str(output_dir)})
    return reward if isinstance(reward, Reward) else CallableReward(reward)


__all__ = ["CallableReward", "Candidate", "Evaluation", "REWARDS", "Reward", "RewardSpec", "build_reward",
           "register_reward"]
