"""``--executor ray``: the same trials as Ray tasks, on a small local Ray instance."""
from __future__ import annotations

import pytest

from nasfpn_cli.search.rewards import RewardSpec
from nasfpn_cli.search.runner import SearchConfig, run_search

ray = pytest.importorskip("ray")


def test_search_on_a_local_ray_instance(tmp_path):
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        config = SearchConfig(tmp_path, RewardSpec.parse("similarity:nasfpn"), "evolution",
                              {"population_size": 4, "sample_size": 2}, trials=12, workers=2,
                              executor="ray")
        summary = run_search(config, progress=False)
        assert ray.is_initialized()  # an instance the caller started is left running
    finally:
        ray.shutdown()
    assert [r.step for r in summary.records] == list(range(12))
    workers = {r.worker for r in summary.records if not r.cached}
    assert workers and all(w.startswith("ray:") for w in workers)
