"""``nasfpn search calibrate``: the architecture set, bad input, and a tiny run killed with
``kill -9`` and resumed (a real Kendall tau at the end, nothing trained twice)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from nasfpn_cli.search.calibration import choose_architectures
from nasfpn_cli.search.space import SearchSpace

ROOT = Path(__file__).resolve().parents[2]
# every training well under a second: 64 px, 1@16, 9 training images
TINY = ["--proxy-image-size", "64", "--proxy-channels", "16", "--proxy-stack", "1",
        "--proxy-epochs", "1", "--proxy-images", "12", "--proxy-batch-size", "4",
        "--proxy-score", "loss", "--reference-epochs", "2", "--reference-images", "16",
        "--reference-score", "loss"]
THREE = ["--architectures", "fpn,nasfpn", "--sampled", "1", "--poor", "0", "--seeds", "2",
         "--threads", "1"]


def test_the_set_is_fixed_by_the_seed_and_poor_ones_read_only_coarse_inputs():
    space = SearchSpace()
    first = choose_architectures(space, ("fpn", "bifpn"), 2, 3, seed=4)
    again = choose_architectures(space, ("fpn", "bifpn"), 2, 3, seed=4)
    other = choose_architectures(space, ("fpn", "bifpn"), 2, 3, seed=5)
    assert first == again and first != other
    assert [a.name for a in first] == ["fpn", "bifpn", "sampled1", "sampled2", "poor1", "poor2",
                                       "poor3"]
    assert len({a.genotype.split("\n", 1)[1] for a in first}) == 7  # all distinct
    from nasfpn_cli.genotype import parse_genotype

    for arch in first[4:]:
        genotype = parse_genotype(arch.genotype)
        inputs = {ref.name for cell in genotype.cells for ref in cell.inputs}
        assert not inputs & {"P3", "P4", "P5"}, arch.genotype


def test_the_default_calibration_is_large_enough_to_tune():
    """Issue 29: a default calibration that --tune would call weak invites a weak choice."""
    from nasfpn_cli.search.settings import CalibrationSettings
    from nasfpn_cli.search.tuning import MIN_ARCHITECTURES

    defaults = CalibrationSettings()
    bundled = [name for name in defaults.architectures.split(",") if name]
    assert len(bundled) + defaults.sampled + defaults.poor == MIN_ARCHITECTURES == 16


def test_bad_input_is_a_clear_error(cli, tmp_path):
    few = cli("search", "calibrate", "-o", str(tmp_path / "a"), "--architectures", "fpn",
              "--sampled", "1", "--poor", "0", *TINY)
    assert few.returncode == 2 and "at least 3 architectures" in few.stderr, few.stderr
    short = cli("search", "calibrate", "-o", str(tmp_path / "b"), *THREE, *TINY,
                "--reference-epochs", "1", "--reference-images", "12")
    assert short.returncode == 2, short.stderr
    assert "reference schedule is no longer than the proxy" in short.stderr
    assert "Traceback" not in few.stderr + short.stderr
    # calibrate samples the paper's space and has no --space: no message may point at it
    ranged = cli("search", "calibrate", "-o", str(tmp_path / "r"), "--cells", "5..8", *TINY)
    assert ranged.returncode == 2 and "--cells 5..8" in ranged.stderr, ranged.stderr
    assert "--space" not in ranged.stderr and "one number of cells (default 7)" in ranged.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [{"id": 1, "file_name": "x.png", "width": 8, "height": 8}], '
                      '"annotations": [{"id": 1, "image_id": 1, "category_id": 9, '
                      '"bbox": [0, 0, 4, 4], "area": 16, "iscrowd": 0}], "categories": '
                      '[{"id": 1, "name": "a"}]}')
    (tmp_path / "images").mkdir()
    data = ["--proxy-train-ann", str(broken), "--proxy-train-images", str(tmp_path / "images"),
            "--proxy-val-ann", str(broken), "--proxy-val-images", str(tmp_path / "images")]
    bad = cli("search", "calibrate", "-o", str(tmp_path / "c"), *THREE, *data)
    assert bad.returncode == 1, bad.stderr
    assert "broken.json" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "c" / "trainings.jsonl").exists()


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_kill_9_then_resume_trains_nothing_twice_and_computes_tau(cli, tmp_path):
    out = tmp_path / "calib"
    log = out / "trainings.jsonl"
    args = ["search", "calibrate", "-o", str(out), *THREE, *TINY, "--seed", "3"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "nasfpn_cli", *args], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (log.exists() and log.read_bytes().count(b"\n") >= 3):
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "no training finished"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = log.read_bytes()
    before = before[:before.rfind(b"\n") + 1]
    assert not (out / "calibration.json").exists()

    changed = cli("search", "calibrate", "--resume", "-o", str(out), *THREE, *TINY,
                  "--seeds", "3")
    assert changed.returncode == 2 and "--seeds" in changed.stderr, changed.stderr
    resumed = cli("search", "calibrate", "--resume", "-o", str(out), "--threads", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert log.read_bytes().startswith(before)  # finished trainings kept as they were
    records = _lines(log)
    jobs = [(r["architecture"], r["schedule"], r["seed_index"]) for r in records]
    assert len(jobs) == len(set(jobs)) == 3 * 2 * 2  # each training exactly once
    assert sum(r["worker"] == "main" for r in records) == len(records)
    for record in records:  # the learning curve: AP and AP50 after every epoch
        epochs = 1 if record["schedule"] == "proxy" else 2
        assert sorted(record["curve"]) == ["ap", "ap50"]
        assert all(len(values) == epochs for values in record["curve"].values())

    result = json.loads((out / "calibration.json").read_text())
    names = [arch["name"] for arch in result["architectures"]]
    assert names == ["fpn", "nasfpn", "sampled1"]
    means = {side: [np.mean(arch["scores"][side]) for arch in result["architectures"]]
             for side in ("proxy", "reference")}
    for arch in result["architectures"]:
        assert all(0 < score < 1 for side in arch["scores"].values() for score in side)
        assert arch["neck_macs"] > 0
    tau = result["fidelity"]["kendall_tau"]
    assert tau["value"] == pytest.approx(stats.kendalltau(means["proxy"],
                                                          means["reference"]).statistic)
    assert tau["low"] <= tau["value"] <= tau["high"]
    assert (out / "calibration.png").stat().st_size > 1000
    assert "Kendall tau" in resumed.stdout and "sampled1" in resumed.stdout
