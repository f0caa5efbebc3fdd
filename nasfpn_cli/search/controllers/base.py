"""The interface every search controller follows: ask for an architecture, tell its reward.

Controllers are asynchronous: several proposals may be out at once (one per worker) and their
rewards come back in any order. ``state_dict`` holds everything needed to continue exactly where
a checkpoint was taken (weights, optimiser, buffers, random state); it contains only tensors and
plain Python values so it loads with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..space import Decisions, SearchSpace


@dataclass
class Proposal:
    """An architecture to evaluate, with what the controller must remember to learn from it."""

    decisions: Decisions
    info: dict[str, Any] = field(default_factory=dict)


class Controller(ABC):
    """Proposes architectures (``ask``) and learns from their rewards (``tell``)."""

    name: str = "controller"

    def __init__(self, space: SearchSpace, seed: int):
        self.space = space
        self.rng = np.random.default_rng(seed)

    @abstractmethod
    def ask(self) -> Proposal:
        """The next architecture to evaluate."""

    def tell(self, proposal: Proposal, reward: float) -> None:
        """The reward of an earlier proposal (default: nothing to learn)."""

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
