"""Shared fixtures: the repository root, bundled genotype paths, a CLI runner."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_runner import run_cli

ROOT = Path(__file__).resolve().parents[1]

# keep torch from oversubscribing the 2 cores of CI machines
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def one_thread():
    """One torch thread for the test (shared CI cores: two threads fighting run slower)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def run(capsys):
    """``run(*args)`` runs ``nasfpn ARGS`` in this process: (exit code, stdout, stderr)."""

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        from nasfpn_cli.cli import main

        with pytest.raises(SystemExit) as exit_info:
            main([str(a) for a in args])
        out, err = capsys.readouterr()
        return exit_info.value.code, out, err

    return invoke
