"""Fixtures for the engine tests: a tiny synthetic dataset and a single-thread torch (the CI
machines are shared: two threads fighting over busy cores run many times slower)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine_helpers import TINY, TINY_CONFIG

from nasfpn_cli.data.synth import make_synthetic_dataset


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny-data")
    make_synthetic_dataset(root, **TINY)
    return root


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def trained_run(tiny_data, tmp_path_factory):
    """One short training run shared by the tests that need a trained checkpoint:
    (config, result); files under ``result.output_dir``."""
    from nasfpn_cli.engine import TrainConfig, train

    out = tmp_path_factory.mktemp("trained") / "run"
    config = TrainConfig(**TINY_CONFIG, data_dir=str(tiny_data), output_dir=str(out), epochs=8,
                         eval_every=4, log_every=3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = train(config, progress=False)
    finally:
        torch.set_num_threads(threads)
    return config, result
