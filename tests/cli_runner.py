"""Running nasfpn from tests in every folder: the CLI in a subprocess, and a training in this
process on one torch thread."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    """Run ``python -m nasfpn_cli ARGS`` in a subprocess; returns CompletedProcess (text)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "nasfpn_cli", *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, env=full_env, timeout=timeout)


def train_single_threaded(**config):
    """``train(TrainConfig.of(**config))`` on one torch thread (shared CI cores), no progress
    bar."""
    import torch

    from nasfpn_cli.engine import TrainConfig, train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(TrainConfig.of(**config), progress=False)
    finally:
        torch.set_num_threads(threads)
