"""``--scheduler asha``: asynchronous successive halving over proxy epochs.

Every proposed architecture first trains for the smallest budget. When a training at rung ``k``
finishes, its score joins the scores recorded at that rung so far; if it is among the best
``1 / eta`` of them, the architecture is promoted and trained again at the next budget (``eta``
times more epochs, from scratch, since a proxy run keeps no checkpoint), otherwise it stops there.
The reward the controller hears is the score at the highest budget reached. This is the stopping
rule of Li et al. 2020 as Ray Tune's ``ASHAScheduler`` implements it (decide at each rung
against the percentile of what that rung had seen before), run in the search's own process, so
the same scheduler drives local workers and Ray tasks: Tune's scheduler object needs Tune's own
trial loop and trainables that report per epoch, which the search's executors do not have.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UsageError

SCHEDULERS = ("none", "asha")


def asha_budgets(max_epochs: int, min_epochs: int, eta: int) -> tuple[int, ...]:
    """Rung budgets in epochs, ``max_epochs / eta ** k`` rounded, none below ``min_epochs``."""
    if eta < 2:  # the options disagree: a usage error (exit 2) naming both
        raise UsageError(f"--asha-eta must be at least 2, got {eta}")
    if not 1 <= min_epochs <= max_epochs:
        raise UsageError(f"--asha-min-epochs must be between 1 and --proxy-epochs "
                          f"({max_epochs}), got {min_epochs}")
    budgets = {max_epochs}
    budget = float(max_epochs)
    while budget / eta >= min_epochs:
        budget /= eta
        budgets.add(max(min_epochs, round(budget)))
    return tuple(sorted(budgets))


@dataclass
class AshaScheduler:
    """Decides, rung by rung, which architectures train on; see the module docstring."""

    budgets: tuple[int, ...]
    eta: int = 3
    scores: list[list[float]] = field(default_factory=list)  # per rung, every score recorded

    def __post_init__(self) -> None:
        if not self.scores:
            self.scores = [[] for _ in self.budgets]

    @property
    def top_rung(self) -> int:
        return len(self.budgets) - 1

    def promote(self, rung: int, score: float) -> bool:
        """Record ``score`` at ``rung``; True when the architecture goes on to the next rung:
        when it is not below the ``1 - 1/eta`` percentile of the scores recorded there before
        (the first score of a rung always goes on)."""
        earlier = self.scores[rung]
        self.scores[rung] = [*earlier, score]
        if rung >= self.top_rung:
            return False
        return not earlier or score >= float(np.percentile(earlier, (1.0 - 1.0 / self.eta) * 100))

    def replay(self, rung_scores: list[float]) -> None:
        """Re-record the rung scores of a finished trial (resuming a search)."""
        for rung, score in enumerate(rung_scores):
            self.scores[rung].append(score)
