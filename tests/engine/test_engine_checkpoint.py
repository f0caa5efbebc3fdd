"""Checkpoints: atomic writes, weights-only loading, RNG round trips, clear errors."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from nasfpn_cli.engine.checkpoint import (capture_rng_state, read_checkpoint, restore_rng_state,
                                          write_checkpoint, transfer_weights)
from nasfpn_cli.errors import CheckpointError


def test_rng_state_survives_a_weights_only_round_trip(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    state = {"model": {}, "config": {}, "rng": capture_rng_state()}
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    write_checkpoint(state, tmp_path / "a.pt", tmp_path / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    restore_rng_state(read_checkpoint(tmp_path / "b.pt").state["rng"])
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected


def test_load_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        read_checkpoint(tmp_path / "missing.pt")
    torn = tmp_path / "torn.pt"
    torn.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        read_checkpoint(torn)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="missing model, config"):
        read_checkpoint(foreign)
    listed = tmp_path / "list.pt"
    torch.save([1, 2], listed)
    with pytest.raises(CheckpointError, match="top level is a list"):
        read_checkpoint(listed)


def test_transfer_weights_loads_matching_tensors_only():
    source = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 5))
    target = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    loaded, skipped = transfer_weights(target, source.state_dict())
    assert loaded == 2 and skipped == ["1.bias", "1.weight"]
    assert torch.equal(target[0].weight, source[0].weight)
    with pytest.raises(CheckpointError, match="no weights match"):
        transfer_weights(torch.nn.Linear(7, 7), source.state_dict())
