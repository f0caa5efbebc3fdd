"""Compile a genotype into a feature-pyramid neck: laterals, extra levels, N stacked pyramids.

``build_neck(genotype, ...)`` resolves the genotype once (:func:`nasfpn_cli.genotype.plan`) into
index-based module lists; ``forward`` is then a loop over modules, so the compiled neck runs as
fast as the same architecture written by hand and works with ``torch.jit.script``/``trace``.

Input sizes: every backbone level must be exactly half the size of the one below it, and the top
backbone map must divide by 2 once per extra level (P6, P7), i.e. images whose sides are a
multiple of 128 for the default pyramid. The neck raises a ModelError naming the sizes otherwise
(eager mode); :class:`~nasfpn_cli.modeling.network.RetinaNetNetwork` pads images so this holds.
"""
import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import List

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ModelError
from ..genotype import Genotype, Plan, ResolvedCell, plan
from .cell import MergingCell
from .layers import ConvNorm, make_norm
from .spec import DropBlockSpec, as_genotype, dropblock_spec, resolve_pyramid_size

DEFAULT_IN_CHANNELS = (512, 1024, 2048)
FIRST_BACKBONE_LEVEL = 3  # C3 (stride 8) is the first backbone feature the neck takes


class InputPyramid(nn.Module):
    """Backbone maps -> the genotype's input features.

    Backbone levels get a 1x1 conv (no bias) + norm lateral; levels above the backbone are max
    pooled (kernel = stride = 2) from the level below, starting at the top lateral.
    """

    lateral_sources: List[int]
    selected: List[int]

    def __init__(self, in_channels: Sequence[int], in_levels: Sequence[int],
                 input_levels: Sequence[int], channels: int, norm: str):
        super().__init__()
        top = max(in_levels)
        wanted = set(input_levels)
        extra_levels = list(range(top + 1, max(wanted) + 1))
        lateral_levels = [level for level in in_levels
                          if level in wanted or (extra_levels and level == top)]
        self.in_levels = list(in_levels)
        self.lateral_sources = [list(in_levels).index(level) for level in lateral_levels]
        self.laterals = nn.ModuleList(
            ConvNorm(nn.Conv2d(in_channels[self.in_levels.index(level)], channels, 1, bias=False),
                     make_norm(norm, channels))
            for level in lateral_levels)
        self.num_extra = len(extra_levels)
        built = lateral_levels + extra_levels
        self.selected = [built.index(level) for level in input_levels]

    def forward(self, features: List[Tensor]) -> List[Tensor]:
        built: List[Tensor] = []
        for position, lateral in enumerate(self.laterals):
            built.append(lateral(features[self.lateral_sources[position]]))
        for _ in range(self.num_extra):
            built.append(F.max_pool2d(built[-1], kernel_size=2, stride=2))
        return [built[index] for index in self.selected]

    def check_sizes(self, features: Sequence[Tensor]) -> None:
        """ModelError unless the backbone maps halve level by level and the top one can be pooled
        ``num_extra`` times exactly."""
        if len(features) != len(self.in_levels):
            raise ModelError(f"the neck takes {len(self.in_levels)} backbone features "
                             f"(C{self.in_levels[0]}..C{self.in_levels[-1]}), got {len(features)}")
        sizes = [tuple(f.shape[-2:]) for f in features]
        top_h, top_w = sizes[-1]
        divisor = 2 ** self.num_extra
        consistent = all(h == top_h * 2 ** (len(sizes) - 1 - i) and w == top_w * 2 ** (len(sizes) - 1 - i)
                         for i, (h, w) in enumerate(sizes))
        if not consistent or top_h % divisor or top_w % divisor:
            text = ", ".join(f"C{level} {h}x{w}" for level, (h, w) in zip(self.in_levels, sizes))
            stride = 2 ** (self.in_levels[-1] + self.num_extra)
            first_h, first_w = sizes[0]
            image = f"{first_h * 2 ** self.in_levels[0]}x{first_w * 2 ** self.in_levels[0]}"
            raise ModelError(f"feature sizes {text} (image about {image}) do not form an exact "
                             f"pyramid up to P{self.in_levels[-1] + self.num_extra}: image sides "
                             f"must be a multiple of {stride}; pad the images")


class PyramidStack(nn.Module):
    """One copy of the genotype: cells appended to a running feature list, outputs picked by index."""

    output_indices: List[int]

    def __init__(self, cells: Sequence[MergingCell], output_indices: Sequence[int]):
        super().__init__()
        self.cells = nn.ModuleList(cells)
        self.output_indices = list(output_indices)

    def forward(self, inputs: List[Tensor]) -> List[Tensor]:
        features = list(inputs)
        for cell in self.cells:
            features.append(cell(features))
        return [features[index] for index in self.output_indices]


class Neck(nn.Module):
    """The compiled pyramid: ``forward([C3, C4, C5]) -> [P3, ..., P7]`` (finest first).

    Stack k+1 takes stack k's outputs level by level (``carry_indices``). ``forward_stacks``
    returns the outputs of every stack, for deep supervision.
    """

    carry_indices: List[int]

    def __init__(self, genotype: Genotype, inputs: InputPyramid, stacks: Sequence[PyramidStack],
                 carry_indices: Sequence[int], channels: int):
        super().__init__()
        self.genotype = genotype
        self.inputs = inputs
        self.stacks = nn.ModuleList(stacks)
        self.carry_indices = list(carry_indices)
        self.channels = channels
        self.num_stacks = len(stacks)
        self.out_levels = tuple(sorted(genotype.outputs))
        self.strides = tuple(2 ** level for level in self.out_levels)
        # image sides must divide by the stride of the coarsest level anything is computed at
        self.size_divisor = 2 ** max(plan(genotype).levels.values())

    def forward(self, features: List[Tensor]) -> List[Tensor]:
        return self.forward_stacks(features, self.num_stacks)[-1]

    @torch.jit.export
    def forward_stacks(self, features: List[Tensor], num_stacks: int = -1) -> List[List[Tensor]]:
        """Outputs of the first ``num_stacks`` stacks (all when -1), each finest level first."""
        if not torch.jit.is_scripting() and not torch.jit.is_tracing():
            self.inputs.check_sizes(features)
        count = self.num_stacks if num_stacks < 0 else min(num_stacks, self.num_stacks)
        results: List[List[Tensor]] = []
        current = self.inputs(features)
        for index, stack in enumerate(self.stacks):
            if index < count:
                if index > 0:
                    current = [current[position] for position in self.carry_indices]
                current = stack(current)
                results.append(current)
        return results

    def cell_names(self) -> list[str]:
        """Qualified names ``s<stack>/<cell>`` of all cells, in execution order."""
        return [f"s{k + 1}/{cell.name}" for k, stack in enumerate(self.stacks) for cell in stack.cells]


def _check_options(genotype: Genotype, in_channels: Sequence[int], channels: int, stack: int) -> None:
    if not isinstance(channels, int) or channels < 1:
        raise ModelError(f"channels must be a positive integer (got {channels!r})")
    if not isinstance(stack, int) or stack < 1:
        raise ModelError(f"stack must be a positive integer (got {stack!r})")
    if not in_channels or any(not isinstance(c, int) or c < 1 for c in in_channels):
        raise ModelError(f"in_channels must be positive integers (got {tuple(in_channels)!r})")
    low = min(genotype.inputs)
    if low < FIRST_BACKBONE_LEVEL:
        raise ModelError(f"genotype {genotype.name or genotype.path}: input P{low} is finer than the "
                         f"first backbone feature C{FIRST_BACKBONE_LEVEL}")
    if stack > 1:
        missing = [level for level in genotype.inputs if level not in genotype.outputs]
        if missing:
            raise ModelError(f"genotype {genotype.name or genotype.path}: cannot stack {stack} copies: "
                             f"inputs {', '.join(f'P{m}' for m in missing)} are not outputs")


SharedCellModules = Callable[[int, ResolvedCell], Mapping[str, nn.Module]]


def build_stack(resolved: Plan, channels: int,
                shared: Callable[[ResolvedCell], Mapping] | None = None,
                **cell_options) -> PyramidStack:
    """One pyramid copy from a resolved plan; features are indexed inputs first, then cells.
    ``shared(cell)`` gives modules a cell uses instead of building its own (``conv``,
    ``norm_layer``)."""
    positions = {name: index for index, name in enumerate(resolved.inputs)}
    cells = []
    for cell in resolved.cells:
        modules = dict(shared(cell)) if shared is not None else {}
        cells.append(MergingCell.from_plan(cell, positions, resolved.levels, channels,
                                           **cell_options, **modules))
        positions[cell.name] = len(positions)
    return PyramidStack(cells, [positions[name] for name in resolved.outputs])


def build_neck(genotype: Genotype | str | Path, in_channels: Sequence[int] = DEFAULT_IN_CHANNELS,
               channels: int | None = None, stack: int | None = None, *,
               norm: str = "bn", separable: bool = False,
               dropblock: DropBlockSpec | Mapping | None = None,
               inputs: InputPyramid | None = None,
               shared_cells: SharedCellModules | None = None) -> Neck:
    """Compile ``genotype`` (a Genotype, a file path or a bundled name) into a :class:`Neck`.

    ``in_channels`` are the channels of C3, C4, ... from the backbone. ``channels``/``stack``
    follow the one rule of :mod:`~nasfpn_cli.modeling.spec` (given > the file's directives >
    7@256).
    ``norm``: "bn", "syncbn" (batch statistics across processes when distributed), "gn",
    "frozenbn" or "none"; ``separable``: depthwise-separable 3x3 convs in the cells;
    ``dropblock``: a :class:`~nasfpn_cli.modeling.spec.DropBlockSpec` (or its fields as a
    mapping) applied after every cell's norm, off by default.
    ``inputs`` and ``shared_cells(stack, cell)`` (modules by MergingCell keyword) make a neck
    that uses modules it does not own, e.g. one path through the one-shot supernet
    (:mod:`nasfpn_cli.search.supernet`): nothing of theirs is built again.
    """
    genotype = as_genotype(genotype)
    stack, channels = resolve_pyramid_size(genotype, stack, channels)
    in_channels = tuple(in_channels)
    _check_options(genotype, in_channels, channels, stack)
    options = dict(norm=norm, separable=separable, dropblock=dropblock_spec(dropblock))
    make_norm(norm, channels)  # unknown names fail here, before anything is built
    resolved = plan(genotype)
    in_levels = range(FIRST_BACKBONE_LEVEL, FIRST_BACKBONE_LEVEL + len(in_channels))
    input_levels = [resolved.levels[name] for name in resolved.inputs]
    if inputs is None:
        inputs = InputPyramid(in_channels, in_levels, input_levels, channels, norm)
    stacks = [build_stack(resolved, channels,
                          None if shared_cells is None else functools.partial(shared_cells, k),
                          **options) for k in range(stack)]
    out_levels = sorted(genotype.outputs)
    carry = [out_levels.index(level) for level in input_levels] if stack > 1 else []
    return Neck(genotype, inputs, stacks, carry, channels)
