"""Fixtures for the hostile-input tests: a tiny dataset and one tiny trained checkpoint shared by
every test that needs a model (the in-process CLI runner ``run`` is in tests/conftest.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from cli_runner import train_single_threaded
from robust_helpers import TINY_DATA, TINY_TRAIN


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    from nasfpn_cli.data.synth import make_synthetic_dataset

    root = tmp_path_factory.mktemp("robust-data")
    make_synthetic_dataset(root, **TINY_DATA)
    return root


@pytest.fixture(scope="session")
def tiny_run(tiny_data, tmp_path_factory) -> Path:
    """A two-epoch run folder (last.pt, best.pt, metrics.jsonl) on the tiny dataset."""
    out = tmp_path_factory.mktemp("robust-run") / "run"
    train_single_threaded(**TINY_TRAIN, data_dir=str(tiny_data), output_dir=str(out), epochs=2)
    return out
