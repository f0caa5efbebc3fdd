"""``--executor ray``: the same trials as Ray tasks, on a small local Ray instance."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from nasfpn_cli.search.rewards import RewardSpec
from nasfpn_cli.search.runner import SearchConfig, run_search

ray = pytest.importorskip("ray")


def test_search_on_a_local_ray_instance(tmp_path, monkeypatch):
    plugins = str(Path(__file__).parent)  # the budget-similarity reward, in the Ray workers too
    monkeypatch.syspath_prepend(plugins)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [plugins, *filter(None, [os.environ.get("PYTHONPATH")])]))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        config = SearchConfig(tmp_path, RewardSpec.parse("similarity:nasfpn"), "evolution",
                              {"population_size": 4, "sample_size": 2}, trials=12, workers=2,
                              executor="ray")
        summary = run_search(config, progress=False)
        assert ray.is_initialized()  # an instance the caller started is left running
        asha = run_search(SearchConfig(tmp_path / "asha", RewardSpec.parse(
            "budget-similarity", {"epochs": 4}, ("search_test_plugin",)), "random", trials=8, workers=2, executor="ray",
            scheduler="asha", asha_eta=2), progress=False)
    finally:
        ray.shutdown()
    # the scheduler runs in the driver: rungs are trained as Ray tasks like any trial
    assert all(1 <= len(r.rungs) <= 3 for r in asha.records)  # budgets 1, 2, 4
    assert any(len(r.rungs) > 1 for r in asha.records)
    assert all(r.worker.startswith("ray:") for r in asha.records if not r.cached)
    assert [r.step for r in summary.records] == list(range(12))
    workers = {r.worker for r in summary.records if not r.cached}
    assert workers and all(w.startswith("ray:") for w in workers)
