"""One-shot architecture search: a weight-sharing supernet over the merging-cell space
(:mod:`.model`), trained once by single-path sampling (:mod:`.training`) and scoring candidates
with inherited weights (:mod:`.scoring`); ``--reward supernet`` is
:mod:`nasfpn_cli.search.rewards.supernet`. See docs/search.md, "One-shot supernet"."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..space import SearchSpace


@dataclass(frozen=True)
class NormScope:
    """How the norms after the shared convs are shared: how many per (stack, cell position),
    and which of them a cell producing ``level`` uses."""

    slots: Callable[[SearchSpace], int]
    slot: Callable[[SearchSpace, int], int]


# supernet norm scope -> NormScope (torch-free, so settings can list the names cheaply).
# "level": a cell's statistics differ most with the level it computes at (the feature size and
# what reaches it), so each level gets its own norm; "cell": one norm per cell position.
NORM_SCOPES: dict[str, NormScope] = {
    "level": NormScope(lambda space: len(space.levels),
                       lambda space, level: space.levels.index(level)),
    "cell": NormScope(lambda space: 1, lambda space, level: 0),
}
