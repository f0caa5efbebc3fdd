"""The PyTorch side of the genotype ops: merging ops keyed by the names in
:data:`nasfpn_cli.genotype.OPS`, and the resampling that brings a feature to a cell's level.

A merging op takes a list of features already resized to the cell's level and returns one tensor.
Inputs arrive in the order the cell builder chose (for ``gp``: coarser source level first).
"""
from __future__ import annotations

from typing import List

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ModelError
from ..genotype import OPS


class SumMerge(nn.Module):
    """Elementwise sum of two or more features."""

    def __init__(self, num_inputs: int = 2):
        super().__init__()

    def forward(self, features: List[Tensor]) -> Tensor:
        out = features[0] + features[1]
        for feature in features[2:]:
            out = out + feature
        return out


class GlobalPoolAttention(nn.Module):
    """NAS-FPN global-pooling attention: ``coarse + fine * sigmoid(global_max_pool(coarse))``.

    ``features[0]`` is the input from the coarser *source* level, ``features[1]`` the finer one
    (the op's registry entry orders them so).
    """

    def __init__(self, num_inputs: int = 2):
        super().__init__()

    def forward(self, features: List[Tensor]) -> Tensor:
        coarse, fine = features[0], features[1]
        gate = torch.sigmoid(torch.amax(coarse, dim=(2, 3), keepdim=True))
        return coarse + fine * gate


class WeightedSum(nn.Module):
    """BiFPN fast normalised fusion: ``sum(relu(w_i) * x_i) / (sum(relu(w)) + eps)``.

    The weights are parameters (initialised to one) learned with the network.
    """

    def __init__(self, num_inputs: int, eps: float = 1e-4):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_inputs))

    def forward(self, features: List[Tensor]) -> Tensor:
        weights = F.relu(self.weight)
        weights = weights / (weights.sum() + self.eps)
        out = features[0] * weights[0]
        for index, feature in enumerate(features[1:]):
            out = out + feature * weights[index + 1]
        return out


def make_merge(op: str, num_inputs: int) -> nn.Module:
    """The merging module for genotype op ``op`` with ``num_inputs`` inputs (the factory named
    by the op's registry entry, :data:`nasfpn_cli.genotype.OPS`)."""
    spec = OPS.get(op)
    if spec is None:
        raise ModelError(f"no PyTorch implementation for op {op!r}; known ops: {', '.join(OPS)}")
    if not spec.accepts(num_inputs):
        raise ModelError(f"op {op!r} takes {spec.arity_text()} (got {num_inputs})")
    try:
        factory = spec.factory()
    except (ImportError, AttributeError) as exc:
        raise ModelError(f"op {op!r}: cannot load its PyTorch module {spec.module!r}: {exc}") from None
    return factory(num_inputs)


class Upsample(nn.Module):
    """Nearest-neighbour upsampling by an integer factor (coarser level -> finer level)."""

    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, scale_factor=float(self.factor), mode="nearest")

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


def make_resample(source_level: int, target_level: int) -> nn.Module:
    """Resize a feature of ``source_level`` to ``target_level``.

    Finer target: nearest upsampling by 2^diff; coarser target: max pooling with
    kernel = stride = 2^diff; same level: identity.
    """
    if source_level == target_level:
        return nn.Identity()
    factor = 2 ** abs(source_level - target_level)
    if source_level > target_level:
        return Upsample(factor)
    return nn.MaxPool2d(kernel_size=factor, stride=factor)
