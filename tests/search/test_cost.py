"""Cost-aware search: the MnasNet soft constraint, MACs counted once per architecture and kept
with the reward, and the Pareto front in ``search report``."""
from __future__ import annotations

import json

import pytest

from nasfpn_cli.errors import SearchError
from nasfpn_cli.genotype import load_genotype
from nasfpn_cli.search.cost import MacsObjective, neck_macs
from nasfpn_cli.search.results import RankedArchitecture, pareto_front
from nasfpn_cli.search.rewards import RewardSpec
from nasfpn_cli.search.rewards.proxy import ProxySettings
from nasfpn_cli.search.runner import SearchConfig, run_search

SMALL = {"stack": 1, "channels": 16, "image_size": 64}


def test_the_soft_constraint():
    objective = MacsObjective(100.0, -0.07)
    assert objective.reward(0.5, 100) == 0.5 and objective.reward(0.5, 10) == 0.5
    assert objective.reward(0.5, 200) == pytest.approx(0.5 * 2 ** -0.07)
    with pytest.raises(SearchError, match="--macs-weight must be <= 0"):
        MacsObjective(100.0, 0.5)
    with pytest.raises(SearchError, match="--macs-target must be > 0"):
        MacsObjective(0.0)


def test_neck_macs_grow_with_the_stack():
    nasfpn = load_genotype("nasfpn")
    one = neck_macs(nasfpn, ProxySettings.from_options(SMALL).config)
    two = neck_macs(nasfpn, ProxySettings.from_options({**SMALL, "stack": 2}).config)
    assert one > 0 and two > one


def test_pareto_front():
    def arch(name, score, macs):
        return RankedArchitecture(name, score, 0, 0, 1, [], score, macs)

    ranked = [arch("a", 0.5, 300), arch("b", 0.4, 100), arch("c", 0.3, 200), arch("d", 0.6, 900),
              arch("e", 0.45, 300)]
    assert [a.hash for a in pareto_front(ranked)] == ["b", "a", "d"]


def test_a_cost_aware_search_keeps_macs_with_the_reward_and_reports_the_front(cli, tmp_path):
    objective = MacsObjective(neck_macs(load_genotype("nasfpn"),
                                        ProxySettings.from_options(SMALL).config))
    config = SearchConfig(tmp_path, RewardSpec("similarity", "nasfpn", options=SMALL), "random",
                          seed=2, trials=12, macs_objective=objective)
    summary = run_search(config, progress=False)
    counted = [r for r in summary.records if not r.cached]
    assert all(r.macs > 0 and r.score is not None for r in summary.records)
    for record in counted:
        assert record.reward == pytest.approx(objective.reward(record.score, record.macs))
    assert any(r.macs > objective.target and r.reward < r.score for r in counted)
    first = {r.hash: r for r in counted}
    for record in summary.records:  # a cached trial reuses the count of the first one
        assert (record.score, record.macs) == (first[record.hash].score, first[record.hash].macs)
    stored = json.loads((tmp_path / "search.json").read_text())["identity"]
    assert stored["macs_objective"] == {"target": objective.target, "weight": -0.07}

    result = cli("search", "report", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Pareto-optimal architectures" in result.stdout
    assert (tmp_path / "pareto.png").stat().st_size > 1000


def test_macs_weight_needs_a_target(cli, tmp_path):
    result = cli("search", "--reward", "similarity:nasfpn", "--macs-weight", "-0.1", "-o",
                 str(tmp_path))
    assert result.returncode == 2 and "--macs-weight needs --macs-target" in result.stderr
