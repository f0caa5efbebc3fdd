"""Helpers for the tests of the exported Python neck: load a written file as a module, give a
compiled neck weights that are not its initial ones, compare two necks on random features."""
from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import torch
from torch import nn

from nasfpn_cli.modeling.neck import build_neck
from nasfpn_cli.modeling.neck_source import neck_source

SMALL_IN = (8, 16, 32)  # C3..C5 channels small enough for fast tests
_counter = itertools.count()


def load_module(path: Path):
    """Import the file at ``path`` under a fresh name (torch.jit.script reads its source)."""
    spec = importlib.util.spec_from_file_location(f"exported_neck_{next(_counter)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def randomised(module: nn.Module, seed: int = 0) -> nn.Module:
    """``module`` with random parameters and norm statistics, in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=generator)
                tensor.copy_(values + 0.5 if name.endswith("running_var") else values - 0.5)
    return module.eval()


def features(image: int = 128, batch: int = 1, in_channels=SMALL_IN, seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, c, image >> (3 + i), image >> (3 + i), generator=generator)
            for i, c in enumerate(in_channels)]


def exported_pair(genotype, tmp_path: Path, *, channels: int = 8, stack: int = 1,
                  in_channels=SMALL_IN, norm: str = "bn", separable: bool = False):
    """(compiled neck with random weights, the exported file's neck with those weights, module)."""
    compiled = randomised(build_neck(genotype, in_channels, channels, stack, norm=norm,
                                     separable=separable))
    path = tmp_path / f"neck_{next(_counter)}.py"
    path.write_text(neck_source(genotype, in_channels=in_channels, channels=channels,
                                stack=stack, norm=norm, separable=separable))
    module = load_module(path)
    exported = module.build_neck().eval()
    assert list(exported.state_dict()) == list(compiled.state_dict())
    exported.load_state_dict(compiled.state_dict(), strict=True)
    return compiled, exported, module


def max_diff(got, want) -> float:
    assert len(got) == len(want)
    return max(float((a - b).abs().max()) for a, b in zip(got, want))
