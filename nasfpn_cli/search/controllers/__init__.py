"""Search controllers by name (``--controller``): ``ppo``, ``random``, ``evolution``.

Each is imported only when chosen (only ``ppo`` needs torch).
"""
from __future__ import annotations

import importlib
from typing import Any

from ...errors import SearchError
from ..space import SearchSpace
from .base import Controller, Proposal

# name -> (module, class)
CONTROLLERS: dict[str, tuple[str, str]] = {
    "ppo": ("ppo", "PPOController"),
    "random": ("random_search", "RandomController"),
    "evolution": ("evolution", "EvolutionController"),
}


def build_controller(name: str, space: SearchSpace, seed: int, **options: Any) -> Controller:
    """A fresh controller; ``options`` are its keyword settings (e.g. ``population_size``)."""
    if name not in CONTROLLERS:
        raise SearchError(f"unknown controller {name!r}; choose one of {', '.join(CONTROLLERS)}")
    module_name, class_name = CONTROLLERS[name]
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, class_name)(space, seed, **options)


__all__ = ["CONTROLLERS", "Controller", "Proposal", "build_controller"]
