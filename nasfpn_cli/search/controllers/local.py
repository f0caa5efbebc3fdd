"""Local search: hill climbing from the best scored pyramid over its one-edit neighbours.

The first proposals are the seeds (``--seed-from``, by default the bundled FPN, PANet, BiFPN and
NAS-FPN), in the order given. Then the controller proposes the neighbours of the incumbent, the
best pyramid scored so far, and moves as soon as one beats it (first improvement: with W
workers the moves come as fast as the trials). When every neighbour of the incumbent has been
tried without a win it is a local optimum: the search goes on from the best scored pyramid
whose neighbourhood is not yet exhausted (best first), and when none is left from a random
two-edit jump off the incumbent.

Neighbour order: the edit kinds in turn (input, op, level, add, drop, insert, delete), each
kind's edits shuffled. About 70% of a pyramid's neighbours are inserts of a new cell, which
only add cost; taking the kinds in turn tries the cheap rewirings and op changes early rather
than after hundreds of inserts. Local search from the incumbent is a strong baseline on NAS
benchmarks (White et al., 2021); the anchors make the incumbent a good pyramid from trial one.
"""
from __future__ import annotations

from typing import Any

from ...errors import SearchError
from .base import Controller, Proposal

Decisions = tuple[int, ...]


class LocalSearchController(Controller):
    name = "local"

    def __init__(self, space, seed: int, seeds: tuple[Decisions, ...] = ()):
        super().__init__(space, seed)  # the anchored space (build_controller checks it)
        self.seeds_left: list[Decisions] = [tuple(s) for s in seeds]
        self.proposed: set[str] = set()
        self.scored: dict[str, tuple[Decisions, float]] = {}
        self.exhausted: set[str] = set()  # pyramids whose every neighbour was proposed
        self.incumbent: tuple[Decisions, float] | None = None
        self.queue: list[Decisions] = []  # untried neighbours of the pyramid being expanded
        self.expanding: str | None = None

    # -- asking ------------------------------------------------------------------------------

    def ask(self) -> Proposal:
        while self.seeds_left:
            decisions = self.seeds_left.pop(0)
            if self._fresh(decisions):
                return Proposal(decisions, {"seed": True})
        for _ in range(10_000):
            if not self.queue:
                self._expand(self._next_base())
                continue
            decisions = self.queue.pop(0)
            if self._fresh(decisions):
                return Proposal(decisions, {"parent": self.expanding})
        raise SearchError("local search: no new neighbour found in 10000 tries")

    def _fresh(self, decisions: Decisions) -> bool:
        key = self.space.hash(decisions)
        if key in self.proposed:
            return False
        self.proposed.add(key)
        return True

    def _next_base(self) -> Decisions:
        """The incumbent, else the best scored pyramid not exhausted, else a jump of two random
        edits off the incumbent (or a random pyramid before anything is scored)."""
        if self.expanding is not None:
            self.exhausted.add(self.expanding)
        ranked = sorted(self.scored.items(), key=lambda item: -item[1][1])
        for key, (decisions, _) in ranked:
            if key not in self.exhausted:
                return decisions
        if self.incumbent is None:
            return self.space.sample(self.rng)
        jump = self.space.mutate(self.space.mutate(self.incumbent[0], self.rng), self.rng)
        self.scored.setdefault(self.space.hash(jump), (jump, float("-inf")))
        return jump

    def _expand(self, base: Decisions) -> None:
        """Queue ``base``'s neighbours: the edit kinds in turn, each kind's edits shuffled."""
        from ..edits import edits

        by_kind: dict[str, list[Decisions]] = {}
        for edit, moved in edits(self.space, base):
            by_kind.setdefault(edit.kind, []).append(moved)
        for moves in by_kind.values():
            order = self.rng.permutation(len(moves))
            moves[:] = [moves[int(i)] for i in order]
        queue: list[Decisions] = []
        while any(by_kind.values()):
            for moves in by_kind.values():
                if moves:
                    queue.append(moves.pop(0))
        self.queue = queue
        self.expanding = self.space.hash(base)

    # -- telling -----------------------------------------------------------------------------

    def tell(self, proposal: Proposal, reward: float) -> None:
        decisions = tuple(proposal.decisions)
        key = self.space.hash(decisions)
        self.scored[key] = (decisions, float(reward))
        if self.incumbent is None or reward > self.incumbent[1]:
            self.incumbent = (decisions, float(reward))
            if not self.seeds_left:  # move: its neighbours come next
                self._expand(decisions)

    # -- state -------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(),
                "seeds_left": [list(d) for d in self.seeds_left],
                "proposed": sorted(self.proposed),
                "scored": [[key, list(d), r] for key, (d, r) in self.scored.items()],
                "exhausted": sorted(self.exhausted),
                "incumbent": None if self.incumbent is None
                else [list(self.incumbent[0]), self.incumbent[1]],
                "queue": [list(d) for d in self.queue], "expanding": self.expanding}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.seeds_left = [tuple(d) for d in state["seeds_left"]]
        self.proposed = set(state["proposed"])
        self.scored = {key: (tuple(d), float(r)) for key, d, r in state["scored"]}
        self.exhausted = set(state["exhausted"])
        incumbent = state["incumbent"]
        self.incumbent = None if incumbent is None else (tuple(incumbent[0]), float(incumbent[1]))
        self.queue = [tuple(d) for d in state["queue"]]
        self.expanding = state["expanding"]
