"""Regularized (aging) evolution (Real et al., 2019).

The first ``population_size`` proposals are random, or, in a seeded search (``--seed-from``),
the seeds themselves in the order given, then one-edit neighbours of them in turn until the
population is full (the Evolved Transformer seeded its population with the Transformer). After
that, each proposal is a copy of the
best of ``sample_size`` members drawn at random from the population, with one decision mutated.
Every reward told joins the population and the *oldest* member leaves, so an architecture
survives only as long as it keeps producing good children, not by one lucky evaluation.
"""
from __future__ import annotations

from collections import deque
from typing import Any

from ..space import SearchSpace
from . import EvolutionOptions
from .base import Controller, Proposal


class EvolutionController(Controller):
    name = "evolution"

    def __init__(self, space: SearchSpace, seed: int,
                 population_size: int = EvolutionOptions.population_size,
                 sample_size: int = EvolutionOptions.sample_size,
                 seeds: tuple[tuple[int, ...], ...] = ()):
        super().__init__(space, seed)
        self.seeds = tuple(tuple(s) for s in seeds)
        self.population_size = population_size
        self.sample_size = sample_size
        self.population: deque[tuple[tuple[int, ...], float]] = deque()
        self.asked = 0

    def ask(self) -> Proposal:
        self.asked += 1
        if self.asked <= self.population_size or not self.population:
            return self._first(self.asked - 1)
        size = min(self.sample_size, len(self.population))
        picks = self.rng.choice(len(self.population), size=size, replace=False)
        parent = max((self.population[int(i)] for i in picks), key=lambda member: member[1])
        return Proposal(self.space.mutate(parent[0], self.rng), {"parent_reward": parent[1]})

    def _first(self, index: int) -> Proposal:
        """A proposal of the first population: the seeds in order, then a neighbour of each in
        turn; random without seeds."""
        if not self.seeds:
            return Proposal(self.space.sample(self.rng))
        if index < len(self.seeds):
            return Proposal(self.seeds[index], {"seed": index})
        parent = index % len(self.seeds)
        return Proposal(self.space.mutate(self.seeds[parent], self.rng), {"seed_parent": parent})

    def tell(self, proposal: Proposal, reward: float) -> None:
        self.population.append((tuple(proposal.decisions), float(reward)))
        while len(self.population) > self.population_size:
            self.population.popleft()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "asked": self.asked,
                "population": [[list(d), r] for d, r in self.population]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.asked = int(state["asked"])
        self.population = deque((tuple(d), float(r)) for d, r in state["population"])
