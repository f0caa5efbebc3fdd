"""Shared fixtures: the repository root, bundled genotype paths, a CLI runner."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_runner import run_cli

ROOT = Path(__file__).resolve().parents[1]

# keep torch from oversubscribing the 2 cores of CI machines
os.environ.setdefault("OMP_NUM_THREADS", "2")
# --amp auto and --channels-last auto (the defaults) mean fp32 and contiguous in the tests on any
# CPU, so the numbers they pin hold on machines with and without native bf16 (subprocesses
# inherit it); tests of the bf16 path force it (tests/engine/test_engine_precision.py)
os.environ.setdefault("NASFPN_NO_NATIVE_BF16", "1")


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
