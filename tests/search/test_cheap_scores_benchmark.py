"""benchmarks/cheap_scores.py on a recorded toy calibration (nothing trained): the ladder rows it
takes, the supernet benchmark's scores lined up with the calibration's architectures (NaN where
a pyramid lies outside the space), and a supernet run against another calibration refused."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from nasfpn_cli.search.calibration import Calibration, resumed_config

from test_tuning import write_toy_calibration

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import cheap_scores as bench  # noqa: E402


@pytest.fixture
def toy(tmp_path) -> tuple[Calibration, list[str]]:
    names = write_toy_calibration(tmp_path / "cal", proxy_epochs=3)
    return Calibration(resumed_config(tmp_path / "cal"), resume=True, prepare=False), names


def test_the_ladder_rows_stop_early_and_cost_at_most_a_third(toy):
    calibration, _ = toy
    scores = bench.ladder_scores(calibration, [])
    # reference 30 s for 3 epochs, proxy 15 s for 3: the proxy's first 2 epochs and the
    # reference's first, each as AP and AP50; nothing extrapolated, nothing above a third of
    # the reference (the whole proxy costs half of it)
    assert sorted(s.name for s in scores) == sorted(
        [f"proxy stopped at epoch {e}/3, {m}" for e in (1, 2) for m in ("ap", "ap50")]
        + [f"reference stopped at epoch 1/3, {m}" for m in ("ap", "ap50")])
    assert {s.name: s.seconds for s in scores}["proxy stopped at epoch 2/3, ap"] == 10.0
    assert all(s.table.shape == (len(calibration.architectures), 2) for s in scores)


def test_supernet_scores_line_up_with_the_architectures(toy, tmp_path):
    calibration, names = toy
    folders = []
    for seed in (0, 1):
        rows = {name: {"supernet loss": 0.1 * i + seed, "supernet loss seconds": 1.0,
                       "supernet ap50": -0.1 * i, "naive ap50": 0.1 * i * (seed + 1),
                       "params": float(i)} for i, name in enumerate(names[1:])}  # names[0] out
        folder = tmp_path / f"sn{seed}"
        folder.mkdir()
        (folder / "fidelity.json").write_text(json.dumps(
            {"calibration": [str(calibration.out)], "seed": seed, "rows": rows}))
        folders.append(folder)
    scores = {s.name: s for s in bench.supernet_scores(calibration, folders)}
    loss = scores["supernet 1/(1+val loss), seed 1"]
    assert np.isnan(loss.table[0, 0]) and loss.table[1, 0] == 1.0 and loss.seconds == 1.0
    assert "neck params" in scores and "neck params, seed 1" not in scores  # seed-independent
    assert scores["neck params"].seconds is None
    # within each training: loss and naive AP50 against AP50; then seed 1 against seed 0
    pairs = bench.supernet_pairs(calibration, folders, resamples=50)
    assert len(pairs) == 2 * 2 + 3
    assert pairs[0].startswith("| supernet 1/(1+val loss), seed 0 | supernet AP50, recalibrated, "
                               f"seed 0 | {len(names) - 1} | 2.00")  # reversed: tau 1 - (-1)
    assert pairs[-3].startswith("| supernet 1/(1+val loss), seed 1 | supernet 1/(1+val loss), "
                                "seed 0 |")
    (folders[1] / "fidelity.json").write_text(json.dumps(
        {"calibration": ["docs/runs/elsewhere"], "seed": 1, "rows": {}}))
    with pytest.raises(SystemExit, match="not"):
        bench.supernet_scores(calibration, folders)
