"""Shared fixtures: the repository root, bundled genotype paths, a CLI runner."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# keep torch from oversubscribing the 2 cores of CI machines
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture
def root() -> Path:
    return ROOT


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    """Run ``python -m nasfpn_cli ARGS`` in a subprocess; returns CompletedProcess (text)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "nasfpn_cli", *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, env=full_env, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli
