"""A reward plug-in for the tests: the similarity to ``nasfpn``, after a pause of
``$NASFPN_TEST_PAUSE`` seconds (so that a search can be killed in the middle of it)."""
from __future__ import annotations

import os
import time

from nasfpn_cli.genotype import load_genotype
from nasfpn_cli.search.rewards import register_reward


@register_reward("slow-similarity")
def slow_similarity(argument, space, options):
    target = space.encode(load_genotype(argument or "nasfpn"))
    pause = float(os.environ.get("NASFPN_TEST_PAUSE", "0"))

    def reward(candidate):
        time.sleep(pause)
        return space.similarity(candidate.decisions, target)

    return reward


@register_reward("budget-similarity")
def budget_similarity(argument, space, options):
    """The similarity to ``nasfpn`` scaled by the budget: ``epochs / 9`` of it (for ASHA)."""
    target = space.encode(load_genotype(argument or "nasfpn"))
    epochs = int(options.get("epochs", 9))

    def reward(candidate):
        return space.similarity(candidate.decisions, target) * epochs / 9

    return reward
