"""``kill -9`` in the middle of a search, then ``--resume``: nothing lost, nothing run twice."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasfpn_cli.search.rewards import RewardSpec
from nasfpn_cli.search.runner import SearchConfig, resumed_config, run_search

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PLUGIN = "search_test_plugin"


def start_search(out: Path, trials: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{ROOT}", "NASFPN_TEST_PAUSE": "0.03",
           "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "nasfpn_cli", "search", "--space", "paper", "--controller", "ppo",
         "--reward", "slow-similarity", "--reward-module", PLUGIN, "--trials", str(trials),
         "--workers", str(workers), "--seed", "5", "-o", str(out)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_after(process: subprocess.Popen, trials_file: Path, lines: int) -> bytes:
    """SIGKILL the search once ``trials_file`` has ``lines`` lines; its bytes at that moment."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the search ended before the kill: {process.stderr.read().decode()}")
        if trials_file.exists() and trials_file.read_bytes().count(b"\n") >= lines:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return trials_file.read_bytes()
        time.sleep(0.01)
    process.kill()
    pytest.fail("the search made no progress")


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]


def without_timing(items: list[dict]) -> list[dict]:
    timing = ("seconds", "worker", "finished_at")
    return [{k: v for k, v in item.items() if k not in timing} for item in items]


def test_sigkill_then_resume_matches_an_uninterrupted_search(tmp_path):
    killed, straight = tmp_path / "killed", tmp_path / "straight"
    before = kill_after(start_search(killed, 60, 1), killed / "trials.jsonl", 15)
    run_search(resumed_config(killed, trials=60), resume=True, progress=False)
    run_search(SearchConfig(straight, RewardSpec("slow-similarity", modules=(PLUGIN,)), "ppo",
                            seed=5, trials=60), progress=False)
    after = (killed / "trials.jsonl").read_bytes()
    complete = before[:before.rfind(b"\n") + 1]
    assert after.startswith(complete)  # finished trials are kept as they were
    assert without_timing(records(killed)) == without_timing(records(straight))


def test_sigkill_with_two_workers_loses_and_repeats_nothing(tmp_path):
    out = tmp_path / "killed"
    before = kill_after(start_search(out, 40, 2), out / "trials.jsonl", 12)
    result = subprocess.run(
        [sys.executable, "-m", "nasfpn_cli", "search", "--resume", "--trials", "40",
         "--workers", "2", "-o", str(out)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{ROOT}"},
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    done = records(out)
    assert [r["step"] for r in done] == list(range(40))
    assert len({r["trial"] for r in done}) == 40
    complete = before[:before.rfind(b"\n") + 1]
    assert (out / "trials.jsonl").read_bytes().startswith(complete)
    assert "best reward" in result.stdout
