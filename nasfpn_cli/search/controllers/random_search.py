"""Random search: every decision uniform among its valid choices (the baseline to beat)."""
from __future__ import annotations

from .base import Controller, Proposal


class RandomController(Controller):
    name = "random"

    def ask(self) -> Proposal:
        return Proposal(self.space.sample(self.rng))
