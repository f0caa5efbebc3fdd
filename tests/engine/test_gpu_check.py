"""benchmarks/gpu_check.sh: says so and exits 0 quickly without a GPU; its measuring script runs
on a CPU with a tiny model (the CUDA-only parts cannot be exercised here)."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import torch
from cli_runner import ROOT
from engine_helpers import ONE_THREAD

SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


def test_the_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: the script would measure")
def test_without_a_gpu_it_says_so_and_exits_0_quickly(tmp_path):
    start = time.perf_counter()
    run = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable,
                              "OUT": str(tmp_path / "out")})
    assert run.returncode == 0, run.stderr
    assert "no CUDA GPU here" in run.stdout
    assert time.perf_counter() - start < 60
    assert not (tmp_path / "out").exists()  # nothing measured, nothing written


def test_the_measuring_script_runs_on_a_cpu_with_a_tiny_model(tiny_data, tmp_path):
    out = tmp_path / "train.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--data", str(tiny_data),
         "--device", "cpu", "--backbone", "resnet10", "--stack", "1", "--channels", "16",
         "--image-size", "64", "--num-classes", "1", "--steps", "2", "--warmup", "1",
         "--batch-sizes", "4", "--compare-steps", "2", "--workers", "0", "--json", str(out)],
        capture_output=True, text=True, timeout=300, env={**ONE_THREAD, "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    (row,) = result["throughput"]
    assert row["batch_size"] == 4 and row["images_per_s"] > 0 and row["peak_memory_gib"] is None
    check = result["amp_check"]
    assert len(check["fp32"]) == len(check["amp"]) == 2
    assert check["fp32"][0] == pytest.approx(check["amp"][0], rel=0.05)  # bf16 tracks fp32
    assert "max relative loss difference" in run.stdout
