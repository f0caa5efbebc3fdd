"""The optimizers run fused: the same updates as torch's per-tensor loop (channels_last weights
included), and a resumed run keeps the fused kernel even from a checkpoint without it."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from nasfpn_cli.engine.config import TrainConfig
from nasfpn_cli.engine.optim import build_optimizer, load_optimizer_state, parameter_groups


def _model(channels_last: bool) -> nn.Module:
    torch.manual_seed(0)
    # (no bias before the norm: its gradient is rounding noise, which Adam scales up to lr)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 4, 1))
    return model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def _steps(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int = 5) -> None:
    """Steps on the gradients of a real backward (their layout follows the weights')."""
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        images = torch.randn(2, 3, 8, 8, generator=generator)
        optimizer.zero_grad()
        model(images).square().mean().backward()
        optimizer.step()


@pytest.mark.parametrize("name", ["sgd", "adamw"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_updates_equal_the_per_tensor_loop(name, channels_last):
    config = TrainConfig.of(optimizer=name, lr=0.01, weight_decay=0.05)
    fused_model, loop_model = _model(channels_last), _model(channels_last)
    fused = build_optimizer(fused_model, config)
    assert all(group["fused"] for group in fused.param_groups)
    loop = type(fused)(parameter_groups(loop_model, config.weight_decay), **_hyper(fused))
    _steps(fused_model, fused)
    _steps(loop_model, loop)
    for a, b in zip(fused_model.parameters(), loop_model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def _hyper(optimizer: torch.optim.Optimizer) -> dict:
    group = optimizer.param_groups[0]
    keys = {"lr", "momentum"} if isinstance(optimizer, torch.optim.SGD) else {"lr"}
    return {key: group[key] for key in keys} | {"foreach": False}


def test_state_of_a_per_tensor_optimizer_loads_into_a_fused_one():
    config = TrainConfig.of(optimizer="adamw", lr=0.01)
    old_model, new_model = _model(False), _model(False)
    old = torch.optim.AdamW(parameter_groups(old_model, config.weight_decay), lr=0.01,
                            foreach=False)
    _steps(old_model, old)
    new = build_optimizer(new_model, config)
    load_optimizer_state(new, old.state_dict())
    assert all(group["fused"] and group["foreach"] is None for group in new.param_groups)
    assert int(new.state_dict()["state"][0]["step"]) == 5
