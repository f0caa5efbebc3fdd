"""Fixtures for the engine tests: a tiny synthetic dataset and one short training run (on one
torch thread: the CI machines are shared)."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine_helpers import TINY, TINY_CONFIG, train_single_threaded

from nasfpn_cli.data.synth import make_synthetic_dataset


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny-data")
    make_synthetic_dataset(root, **TINY)
    return root


@pytest.fixture(scope="session")
def trained_run(tiny_data, tmp_path_factory):
    """One short training run shared by the tests that need a trained checkpoint:
    (config, result); files under ``result.output_dir``."""
    from nasfpn_cli.engine import TrainConfig

    out = tmp_path_factory.mktemp("trained") / "run"
    options = dict(**TINY_CONFIG, data_dir=str(tiny_data), output_dir=str(out), epochs=8,
                   eval_every=4, log_every=3)
    return TrainConfig.of(**options), train_single_threaded(**options)
