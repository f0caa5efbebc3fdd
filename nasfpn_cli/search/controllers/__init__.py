"""Search controllers by name (``--controller``): ``ppo``, ``random``, ``evolution``, ``local``.

Each is imported only when chosen (only ``ppo`` needs torch).
"""
from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any

from ...errors import SearchError
from ...settings import setting
from ..space import SearchSpace
from .base import Controller, Proposal


@dataclass(frozen=True)
class PPOOptions:
    """The PPO controller's settings that have a ``--ppo-*`` option (keywords of the class)."""

    learning_rate: float = setting(0.005, section="ppo", flag="lr", minimum=0.0, min_open=True,
                                   help="ppo: Adam learning rate.")
    batch_size: int = setting(10, section="ppo", minimum=1,
                              help="ppo: rewards per policy update.")
    epochs: int = setting(4, section="ppo", minimum=1, help="ppo: passes over each batch.")
    entropy_weight: float = setting(0.0005, section="ppo", flag="entropy", minimum=0.0,
                                    help="ppo: entropy bonus weight.")
    imitation_steps: int = setting(100, section="ppo", minimum=0,
                                   help="ppo with --seed-from: Adam steps on the seeds' "
                                        "log-likelihood before the search, so the policy starts "
                                        "near them (0: none; docs/lab/2026-12-06-ppo-warm-start"
                                        ".md).")


@dataclass(frozen=True)
class EvolutionOptions:
    """Regularised evolution's settings (keywords of the class)."""

    population_size: int = setting(50, section="evolution", minimum=2,
                                   help="evolution: population size.")
    sample_size: int = setting(10, section="evolution", minimum=1,
                               help="evolution: tournament size.")


@dataclass(frozen=True)
class NoOptions:
    """A controller without settings of its own."""


@dataclass(frozen=True)
class ControllerEntry:
    """Where a controller lives (imported only when chosen: only ``ppo`` needs torch), its
    settings' declarations, and the prefix of their flags."""

    module: str
    cls: str
    options: type = NoOptions
    flag_prefix: str = ""
    seeded: bool = False  # starts from given pyramids (--seed-from): its first proposals
    spaces: tuple[str, ...] = ("paper", "anchored")  # the kinds of space it can search

    def option_names(self) -> tuple[str, ...]:
        return tuple(item.name for item in dataclasses.fields(self.options))


# --controller NAME -> its entry; a new controller is a module and a line here
CONTROLLERS: dict[str, ControllerEntry] = {
    "ppo": ControllerEntry("ppo", "PPOController", PPOOptions, "ppo-", seeded=True),
    "random": ControllerEntry("random_search", "RandomController"),
    "evolution": ControllerEntry("evolution", "EvolutionController", EvolutionOptions,
                                 seeded=True),
    "local": ControllerEntry("local", "LocalSearchController", seeded=True,
                             spaces=("anchored",)),  # edits are the anchored space's
}


def build_controller(name: str, space: SearchSpace, seed: int,
                     seeds: tuple[tuple[int, ...], ...] = (), **options: Any) -> Controller:
    """A fresh controller; ``options`` are its keyword settings (e.g. ``population_size``),
    ``seeds`` the points a seeded controller proposes first."""
    if name not in CONTROLLERS:
        raise SearchError(f"unknown controller {name!r}; choose one of {', '.join(CONTROLLERS)}")
    entry = CONTROLLERS[name]
    kind = space.to_dict().get("kind", "paper")
    if kind not in entry.spaces:
        raise SearchError(f"--controller {name} searches --space {' or '.join(entry.spaces)}, not "
                          f"--space {kind}", hint=f"--space {entry.spaces[0]}, or another "
                                                 "--controller")
    if seeds and not entry.seeded:
        raise SearchError(f"--seed-from: --controller {name} does not start from given pyramids",
                          hint="--controller evolution, local or ppo start from them")
    module = importlib.import_module(f"{__name__}.{entry.module}")
    if entry.seeded:
        options = {**options, "seeds": tuple(seeds)}
    return getattr(module, entry.cls)(space, seed, **options)


__all__ = ["CONTROLLERS", "Controller", "ControllerEntry", "Proposal", "build_controller"]
