"""``--scheduler asha``: rungs, the promotion rule, and a search that spends less than full
budgets on every architecture while the best ones reach the top rung."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nasfpn_cli.errors import SearchError, UsageError
from nasfpn_cli.search.asha import AshaScheduler, asha_budgets
from nasfpn_cli.search.rewards import RewardSpec
from nasfpn_cli.search.runner import SearchConfig, resumed_config, run_search

PLUGIN = "search_test_plugin"


def test_budgets():
    assert asha_budgets(9, 1, 3) == (1, 3, 9)
    assert asha_budgets(4, 1, 3) == (1, 4)
    assert asha_budgets(8, 2, 2) == (2, 4, 8)
    assert asha_budgets(4, 4, 3) == (4,)
    with pytest.raises(UsageError, match="--asha-min-epochs"):
        asha_budgets(4, 5, 3)
    with pytest.raises(UsageError, match="--asha-eta"):
        asha_budgets(4, 1, 1)


def test_the_promotion_rule_follows_the_rung_percentile():
    scheduler = AshaScheduler((1, 3, 9), eta=3)
    assert scheduler.promote(0, 0.5)  # the first of a rung goes on
    assert not scheduler.promote(0, 0.4)  # below the 67th percentile of [0.5]
    assert scheduler.promote(0, 0.6)
    assert not scheduler.promote(2, 1.0)  # the top rung ends every trial
    assert scheduler.scores == [[0.5, 0.4, 0.6], [], [1.0]]


def test_an_asha_search_stops_poor_architectures_early(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    config = SearchConfig(tmp_path, RewardSpec("budget-similarity", options={"epochs": 9},
                                               modules=(PLUGIN,)),
                          "random", seed=3, trials=30, scheduler="asha", asha_eta=3)
    summary = run_search(config, progress=False)
    fresh = [r for r in summary.records if not r.cached]
    budgets = (1, 3, 9)
    for record in fresh:
        assert 1 <= len(record.rungs) <= 3
        assert record.reward == record.rungs[-1]  # the score at the highest budget reached
        for rung, score in enumerate(record.rungs):  # each rung trained at its own budget
            assert score == pytest.approx(record.rungs[0] * budgets[rung])
    spent = sum(sum(budgets[:len(r.rungs)]) for r in fresh)
    assert spent < len(fresh) * 9 / 2  # far less than every architecture at the full budget
    best = max(fresh, key=lambda r: r.rungs[0])
    assert len(best.rungs) == 3  # the best at the smallest budget reached the top
    assert sum(len(r.rungs) == 1 for r in fresh) > len(fresh) / 2
    stored = json.loads((tmp_path / "search.json").read_text())["identity"]["scheduler"]
    assert stored == {"name": "asha", "eta": 3, "min_epochs": 1}
    resumed = run_search(resumed_config(tmp_path, trials=34), resume=True, progress=False)
    assert len(resumed.records) == 34


def test_asha_needs_a_reward_that_takes_a_budget(tmp_path):
    config = SearchConfig(tmp_path, RewardSpec.parse("similarity:nasfpn"), "random", trials=4,
                          scheduler="asha")
    with pytest.raises(SearchError, match="the reward 'similarity' takes no budget"):
        run_search(config, progress=False)
    assert not (tmp_path / "search.json").exists()  # refused before anything is written
