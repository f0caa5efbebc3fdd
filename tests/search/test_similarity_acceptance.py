"""Acceptance (issue 5): with --trials 2000, PPO reaches >= 0.9 similarity to the bundled
``nasfpn`` in the median of 3 seeds, and beats random search's median.

Runs the real search loop (files, checkpoints) six times: a few minutes, so it runs only with
NASFPN_SLOW_TESTS=1. The CI-sized version is
test_controllers.py::test_ppo_learns_to_reach_the_target.

    NASFPN_SLOW_TESTS=1 python -m pytest tests/search/test_similarity_acceptance.py -s
"""
from __future__ import annotations

import os
import statistics

import pytest

from nasfpn_cli.search.rewards import RewardSpec
from nasfpn_cli.search.runner import SearchConfig, run_search

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.environ.get("NASFPN_SLOW_TESTS"),
                                 reason="minutes long; set NASFPN_SLOW_TESTS=1")]

TRIALS = 2000
SEEDS = (0, 1, 2)


def best_and_first_hit(out, controller: str, seed: int) -> tuple[float, int | None]:
    summary = run_search(SearchConfig(out, RewardSpec.parse("similarity:nasfpn"), controller,
                                      seed=seed, trials=TRIALS), progress=False)
    hit = next((r.step for r in summary.records if r.reward >= 0.9), None)
    return summary.best.reward, hit


def test_ppo_reaches_nasfpn_and_beats_random(tmp_path):
    results = {name: [best_and_first_hit(tmp_path / f"{name}{seed}", name, seed)
                      for seed in SEEDS] for name in ("ppo", "random")}
    for name, runs in results.items():
        print(f"{name}: best per seed {[round(b, 4) for b, _ in runs]}, "
              f"first step >= 0.9 {[h for _, h in runs]}")
    ppo = statistics.median(best for best, _ in results["ppo"])
    random = statistics.median(best for best, _ in results["random"])
    assert ppo >= 0.9
    assert ppo > random
