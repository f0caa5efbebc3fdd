"""A compiled merging cell: resize inputs -> merge op -> (+ residuals) -> ReLU -> Conv3x3 -> norm.

The cell reads its inputs from the running list of features of its stack by index, so the stack's
forward is a plain loop over cells with no graph walking or name lookups.
"""
from typing import List

import torch.nn.functional as F
from torch import Tensor, nn

from ..genotype import OPS, ResolvedCell
from .dropblock import make_dropblock
from .spec import DropBlockSpec
from .layers import make_conv3x3, make_norm
from .ops import make_merge, make_resample


class MergingCell(nn.Module):
    """One genotype cell at a fixed pyramid level.

    ``input_indices`` are positions in the stack's feature list (inputs first, then cells in
    order); for ``gp`` they are ordered coarser source level first. ``residual_indices`` are the
    same-level features the residual rule adds before the ReLU. ``conv``/``norm_layer``: modules
    to use instead of new ones (the one-shot supernet shares one conv per cell position among
    all the architectures it holds).
    """

    input_indices: List[int]
    residual_indices: List[int]

    def __init__(self, name: str, op: str, level: int, input_indices: list[int],
                 input_levels: list[int], residual_indices: list[int], channels: int, *,
                 norm: str = "bn", separable: bool = False,
                 dropblock: DropBlockSpec | None = None, conv: nn.Module | None = None,
                 norm_layer: nn.Module | None = None):
        super().__init__()
        self.name = name
        self.op = op
        self.level = level
        self.input_indices = list(input_indices)
        self.residual_indices = list(residual_indices)
        self.resamples = nn.ModuleList(make_resample(source, level) for source in input_levels)
        self.merge = make_merge(op, len(input_indices))
        self.conv = conv if conv is not None else make_conv3x3(channels, channels,
                                                               separable=separable)
        self.norm = norm_layer if norm_layer is not None else make_norm(norm, channels)
        self.dropblock = make_dropblock(dropblock)

    @classmethod
    def from_plan(cls, cell: ResolvedCell, positions: dict[str, int], levels: dict[str, int],
                  channels: int, **options) -> "MergingCell":
        """Build from a resolved cell; ``positions`` maps feature names to list indices."""
        names = OPS[cell.op].ordered(list(cell.inputs), levels)
        return cls(cell.name, cell.op, cell.level, [positions[n] for n in names],
                   [levels[n] for n in names], [positions[n] for n in cell.residuals], channels,
                   **options)

    def forward(self, features: List[Tensor]) -> Tensor:
        inputs: List[Tensor] = []
        for position, resample in enumerate(self.resamples):
            inputs.append(resample(features[self.input_indices[position]]))
        out = self.merge(inputs)
        for index in self.residual_indices:
            out = out + features[index]
        out = self.norm(self.conv(F.relu(out)))
        return self.dropblock(out)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, op={self.op!r}, level=P{self.level}"
