"""benchmarks/controller_warm_start.py on recorded toy searches (nothing run): the anchors'
rewards read from any search that scored them, and what one search found, judged against them."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from nasfpn_cli.search.anchored import AnchoredSpace
from nasfpn_cli.search.edits import neighbours

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import controller_warm_start as bench  # noqa: E402

SPACE = AnchoredSpace()


def write_search(folder: Path, points: list[tuple[tuple[int, ...], float]]) -> None:
    folder.mkdir(parents=True)
    (folder / "search.json").write_text(json.dumps({"identity": {"space": SPACE.to_dict()}}))
    with (folder / "trials.jsonl").open("w") as rows:
        for trial, (point, reward) in enumerate(points):
            rows.write(json.dumps({"step": trial, "trial": trial, "hash": SPACE.hash(point),
                                   "genotype": "", "reward": reward, "seconds": 1.0,
                                   "worker": "w0", "score": reward, "macs": 1,
                                   "decisions": list(point)}) + "\n")


def test_a_search_is_judged_against_the_best_anchor(tmp_path):
    fpn, panet, bifpn, nasfpn = SPACE.anchors()
    edit = neighbours(SPACE, bifpn)[0]
    write_search(tmp_path / "seeded", [(fpn, 0.60), (panet, 0.62), (bifpn, 0.63), (nasfpn, 0.61),
                                       (bifpn, 0.63), (edit, 0.64), (fpn, 0.60)])
    far = SPACE.sample(np.random.default_rng(0))
    write_search(tmp_path / "cold", [(far, 0.5), (far, 0.5)])
    anchors = bench.anchor_rewards([tmp_path / "cold", tmp_path / "seeded"])
    assert anchors == {"fpn": 0.60, "panet": 0.62, "bifpn": 0.63, "nasfpn": 0.61}

    found = bench.summarise(tmp_path / "seeded", anchors)
    assert found["best_reward"] == 0.64 and found["first_trial_above_best_anchor"] == 5
    assert (found["nearest_anchor"], found["edit_distance"]) == ("bifpn", 1)
    assert found["distinct"] == 5 and found["trials"] == 7
    assert found["second_half_mean"] == pytest.approx(np.mean([0.61, 0.63, 0.64, 0.60]))  # 3..6
    cold = bench.summarise(tmp_path / "cold", anchors)
    assert cold["first_trial_above_best_anchor"] is None and cold["edit_distance"] > 0


def test_paired_differences_are_by_seed():
    assert bench.paired({0: 0.5, 1: 0.7}, {0: 0.4, 1: 0.4}) == "+0.2000 +- 0.1000 (n=2)"
    assert bench.paired({0: 0.5}, {0: 0.4, 1: 0.3}) == "+0.1000"
