"""A reward plug-in for the tests: the similarity to ``nasfpn``, after a pause of
``$NASFPN_TEST_PAUSE`` seconds (so that a search can be killed in the middle of it)."""
from __future__ import annotations

import os
import time

from nasfpn_cli.genotype import load_genotype
from nasfpn_cli.search.rewards import Reward, register_reward


@register_reward("slow-similarity")
def slow_similarity(argument, space, options):
    target = space.encode(load_genotype(argument or "nasfpn"))
    pause = float(os.environ.get("NASFPN_TEST_PAUSE", "0"))

    def reward(candidate):
        time.sleep(pause)
        return space.similarity(candidate.decisions, target)

    return reward


class BudgetSimilarity(Reward):
    """The similarity to a target scaled by the budget: ``budget / 9`` of it (for ASHA); the
    full budget is the ``epochs`` option (9 by default)."""

    def __init__(self, space, target, epochs: int):
        self.space, self.target, self.epochs = space, target, epochs

    def budget_range(self):
        return 1, self.epochs

    def score(self, candidate, budget=None):
        return self.space.similarity(candidate.decisions, self.target) * (
            budget or self.epochs) / 9


@register_reward("budget-similarity")
def budget_similarity(argument, space, options):
    return BudgetSimilarity(space, space.encode(load_genotype(argument or "nasfpn")),
                            int(options.get("epochs", 9)))
