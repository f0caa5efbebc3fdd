"""The one-shot supernet over the anchored space: 5 to 10 cells of 2 or 3 inputs, ops ``sum``,
``gp`` and ``wsum``, every pyramid of the space in one network (FPN, PANet, BiFPN and NAS-FPN
among them).

What a cell shares with the cells of other paths is decided by its *role*, not by its written
position: intermediate cell ``i`` (counted from the first) has role ``i``, and the output cell
of level ``P`` has the role of that output level, whatever the number of cells before it. So
FPN's, PANet's and BiFPN's P3 outputs use one conv, as do the first top-down cells of PANet and
BiFPN, while a path with more intermediate cells uses more roles. Per (stack, role):

* one ReLU -> Conv3x3 conv, shared by every choice of inputs, level and op;
* norms after it, chosen by the norm scope (:data:`~nasfpn_cli.search.supernet.ANCHORED_NORM_SCOPES`):
  by default one per (level, number of merged features), the merged features being the cell's
  inputs and the residuals the rule adds: the shadow batch norms of MixPath, since a sum of 2,
  3 or 4 features reaches the conv at different scales;
* the weights of each weighted merge (``wsum`` of 2, of 3 inputs): one set per arity, shared by
  every choice of inputs (as the conv).

With ``split="cells"`` (few-shot) each number of cells has roles of its own: a sub-supernet per
cell count, so that a 5-cell FPN and a 10-cell pyramid no longer share a conv.

A path is compiled, as in the paper's space, into an ordinary
:class:`~nasfpn_cli.modeling.neck.Neck` whose cells use these modules: it runs exactly as the
stand-alone neck of its genotype with the same weights (tests/search/test_anchored_supernet.py).
A genotype is compiled in its space's spelling (:meth:`AnchoredSpace.encode` then
``to_genotype``): the same pyramid, its cells named ``n1..nN`` in the order roles are read from.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from torch import nn

from ...errors import SearchError
from ...genotype import OPS, Genotype, ResolvedCell, load_genotype
from ...modeling.layers import make_conv3x3, make_norm
from ...modeling.neck import Neck, build_neck
from ...modeling.ops import make_merge
from ..anchored import ANCHORS, AnchoredSpace
from ..edits import random_edit
from ..genes import Decisions
from . import ANCHORED_NORM_SCOPES, MAX_ANCHOR_EDITS, SAMPLINGS, SPLITS
from .path_neck import Path, PathNeck


def role_count(space: AnchoredSpace) -> int:
    """Roles per stack: the most intermediate cells a point can have, then one per output
    level; as many as the most cells a point can have."""
    return space.cells[1]


def sub_supernets(space: AnchoredSpace, split: str) -> int:
    """How many sub-supernets ``split`` (:data:`~nasfpn_cli.search.supernet.SPLITS`) makes of
    the neck: one, or one per number of cells."""
    if split not in SPLITS:
        raise SearchError(f"unknown supernet split {split!r}; choose one of: {', '.join(SPLITS)}")
    return space.cells[1] - space.cells[0] + 1 if split == "cells" else 1


def cell_role(space: AnchoredSpace, index: int, num_cells: int, level: int) -> int:
    """The role of the ``index``-th cell (from 0) of a point of ``num_cells`` cells."""
    middle = num_cells - len(space.levels)
    if index < middle:
        return index
    return space.cells[1] - len(space.levels) + space.levels.index(level)


def merge_key(op: str, arity: int) -> str:
    return f"{op}{arity}"


def weighted_merges(space: AnchoredSpace) -> list[tuple[str, int]]:
    """(op, arity) of every merge of the space that has weights (``wsum`` of 2 and 3 inputs)."""
    return [(op, arity) for op in space.ops for arity in range(2, space.max_inputs + 1)
            if OPS[op].accepts(arity) and any(True for _ in make_merge(op, arity).parameters())]


@functools.lru_cache(maxsize=16)
def anchor_points(space: AnchoredSpace) -> tuple[Decisions, ...]:
    """The bundled anchors that are points of ``space`` (a narrower space may leave some out)."""
    points = []
    for name in ANCHORS:
        try:
            points.append(space.encode(load_genotype(name)))
        except SearchError:
            continue
    return tuple(points)


def sample_anchored(space, rng: np.random.Generator, sampling: str) -> Decisions:
    """A training path by ``sampling`` (:data:`~nasfpn_cli.search.supernet.SAMPLINGS`):
    ``uniform``, every decision uniform; ``anchors``, with probability 1/2 so, otherwise a
    bundled anchor (uniform among those in the space) after 0 to ``MAX_ANCHOR_EDITS`` random
    edits (uniform in number): where a seeded search spends its trials, while the uniform
    half keeps every role, arity and cell count trained."""
    if sampling not in SAMPLINGS:
        raise SearchError(f"unknown supernet sampling {sampling!r}; choose one of: "
                          f"{', '.join(SAMPLINGS)}")
    if not isinstance(space, AnchoredSpace):
        raise SearchError(f"supernet sampling {sampling!r} needs the anchored space",
                          hint="--space anchored, or sampling=uniform")
    anchors = anchor_points(space)
    if sampling == "uniform" or not anchors or rng.random() < 0.5:
        return space.sample(rng)
    point = anchors[int(rng.integers(len(anchors)))]
    for _ in range(int(rng.integers(MAX_ANCHOR_EDITS + 1))):
        try:
            point = random_edit(space, point, rng)
        except SearchError:  # no edit left in a narrow space: keep the point
            break
    return point


def point_genotype(space: AnchoredSpace, path: Path) -> Genotype:
    """A path (a genotype or decisions) in the space's own spelling; SearchError naming what
    lies outside the space."""
    decisions = space.encode(path) if isinstance(path, Genotype) else space.check(path)
    return space.to_genotype(decisions)


class AnchoredSupernetNeck(PathNeck):
    """The shared modules of every pyramid of the anchored ``space`` (``stacks`` copies), and
    the path that runs (module docstring). ``use(path)`` compiles and selects a path;
    ``compile(path)`` only compiles it."""

    def __init__(self, space: AnchoredSpace, in_channels: Sequence[int], channels: int,
                 stacks: int, *, norm: str = "bn", norm_scope: str = "inputs",
                 split: str = "none", separable: bool = False):
        if not isinstance(space, AnchoredSpace):
            raise SearchError("AnchoredSupernetNeck holds the anchored space's pyramids only")
        if norm_scope not in ANCHORED_NORM_SCOPES:
            raise SearchError(f"unknown supernet norm scope {norm_scope!r} in the anchored "
                              f"space; choose one of: {', '.join(ANCHORED_NORM_SCOPES)}")
        super().__init__(space, in_channels, channels, stacks, norm=norm, separable=separable)
        self.norm_scope, self.split = norm_scope, split
        # the roles of every sub-supernet, one after the other (:meth:`roles`)
        roles = role_count(space) * sub_supernets(space, split)
        scope = ANCHORED_NORM_SCOPES[norm_scope]
        self.convs = nn.ModuleList(
            nn.ModuleList(make_conv3x3(channels, channels, separable=separable)
                          for _ in range(roles)) for _ in range(stacks))
        self.norms = nn.ModuleList(
            nn.ModuleList(nn.ModuleList(make_norm(norm, channels)
                                        for _ in range(scope.slots(space)))
                          for _ in range(roles)) for _ in range(stacks))
        weighted = weighted_merges(space)
        self.merges = nn.ModuleList(
            nn.ModuleList(nn.ModuleDict({merge_key(op, arity): make_merge(op, arity)
                                         for op, arity in weighted})
                          for _ in range(roles)) for _ in range(stacks))

    def roles(self, genotype: Genotype) -> dict[str, int]:
        """Cell name -> role, for a genotype in the space's spelling; with ``split="cells"``
        the roles of the sub-supernet of its number of cells."""
        count = len(genotype.cells)
        first = (count - self.space.cells[0]) * role_count(self.space) \
            if self.split == "cells" else 0
        return {cell.name: first + cell_role(self.space, index, count, cell.level)
                for index, cell in enumerate(genotype.cells)}

    def norm_slot(self, cell: ResolvedCell) -> int:
        return ANCHORED_NORM_SCOPES[self.norm_scope].slot(
            self.space, cell.level, len(cell.inputs) + len(cell.residuals))

    def compile(self, path: Path) -> Neck:
        genotype = point_genotype(self.space, path)
        role = self.roles(genotype)

        def shared(stack: int, cell: ResolvedCell) -> dict[str, nn.Module]:
            index = role[cell.name]
            return {"conv": self.convs[stack][index],
                    "norm_layer": self.norms[stack][index][self.norm_slot(cell)]}

        neck = build_neck(genotype, self.in_channels, self.channels, self.num_stacks,
                          norm=self.norm_name, separable=self.separable, inputs=self.inputs,
                          shared_cells=shared)
        for stack, compiled in enumerate(neck.stacks):
            for cell in compiled.cells:
                merges = self.merges[stack][role[cell.name]]
                key = merge_key(cell.op, len(cell.input_indices))
                if key in merges:  # the path's own merge would hold weights of its own
                    cell.merge = merges[key]
        return neck
