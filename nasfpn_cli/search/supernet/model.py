"""The one-shot supernet: every pyramid of a search space in one network.

In the merging-cell space the only weights inside a pyramid are each cell's ReLU -> Conv3x3 ->
norm (resizing, ``sum`` and ``gp`` have none), so one network holds every architecture: per
stack and cell position one conv shared by every choice of inputs, level and op, and norms per
(stack, cell position, output level) by default (``norm_scope="cell"``: per (stack, cell
position); :data:`NORM_SCOPES`). Laterals, backbone and head are shared as well, and they are
the proxy detector's own: :func:`build_supernet` builds the proxy's detector and puts a
:class:`SupernetNeck` in place of its neck, so anchors, losses and decoding are unchanged.

The anchored space (5 to 10 cells of 2 or 3 inputs, ``wsum`` among its ops) has its own
:class:`~.anchored_neck.AnchoredSupernetNeck`; :func:`build_supernet` and :func:`sample_path`
take either space.

A path (a Genotype of the space, or its decisions) selects what runs. It is compiled once by
:func:`~nasfpn_cli.modeling.neck.build_neck` into an ordinary :class:`~nasfpn_cli.modeling.neck.Neck`
whose cells use the supernet's modules: a path runs exactly as the stand-alone neck of that
genotype with the same weights (tests/search/test_supernet.py), and a step walks no graph.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import nn

from ...errors import SearchError
from ...genotype import Genotype, ResolvedCell
from ...modeling.layers import make_conv3x3, make_norm
from ...modeling.neck import Neck, build_neck
from ...modeling.ops import make_merge
from ..anchored import AnchoredSpace
from ..space import Decisions, SearchSpace
from . import NORM_SCOPES
from .anchored_neck import AnchoredSupernetNeck, sample_anchored
from .path_neck import Path, PathNeck

__all__ = ["AnchoredSupernetNeck", "Path", "PathNeck", "SupernetNeck", "build_supernet",
           "check_weight_free", "path_genotype", "sample_path", "supernet_neck"]


def check_weight_free(space: SearchSpace) -> None:
    """SearchError unless every op of the space is weight-free (a merge with weights, such as
    ``wsum``, would need weights per choice of inputs, which the supernet does not hold)."""
    for op in space.ops:
        if any(True for _ in make_merge(op, 2).parameters()):
            raise SearchError(f"the supernet holds weight-free ops only; op {op!r} has weights",
                              hint="search with ops such as sum and gp")


def path_genotype(space: SearchSpace, path: Path) -> Genotype:
    """The Genotype a path names; SearchError saying what lies outside the space otherwise."""
    if isinstance(path, Genotype):
        space.encode(path)  # raises SearchError naming what does not fit
        return path
    return space.to_genotype(path)


def sample_path(space: SearchSpace, seed: int, step: int, sampling: str = "uniform"
                ) -> Decisions:
    """The path of training step ``step``: uniform over the space (or, in the anchored space,
    ``sampling="anchors"``: :func:`.anchored_neck.sample_anchored`), a function of (seed, step)
    only, so a resumed training samples what an uninterrupted one would."""
    rng = np.random.default_rng([seed, step])
    if sampling == "uniform":
        return space.sample(rng)
    return sample_anchored(space, rng, sampling)


class SupernetNeck(PathNeck):
    """The shared modules of every pyramid of the paper's ``space`` (``stacks`` copies), and
    the path that runs.

    ``use(path)`` compiles and selects a path; ``compile(path)`` only compiles it.
    """

    def __init__(self, space: SearchSpace, in_channels: Sequence[int], channels: int,
                 stacks: int, *, norm: str = "bn", norm_scope: str = "level",
                 separable: bool = False):
        check_weight_free(space)
        if norm_scope not in NORM_SCOPES:
            raise SearchError(f"unknown supernet norm scope {norm_scope!r}; choose one of: "
                              f"{', '.join(NORM_SCOPES)}")
        super().__init__(space, in_channels, channels, stacks, norm=norm, separable=separable)
        self.norm_scope = norm_scope
        scope = NORM_SCOPES[norm_scope]
        self.convs = nn.ModuleList(
            nn.ModuleList(make_conv3x3(channels, channels, separable=separable)
                          for _ in range(space.num_cells)) for _ in range(stacks))
        self.norms = nn.ModuleList(
            nn.ModuleList(nn.ModuleList(make_norm(norm, channels)
                                        for _ in range(scope.slots(space)))
                          for _ in range(space.num_cells)) for _ in range(stacks))

    def compile(self, path: Path) -> Neck:
        genotype = path_genotype(self.space, path)
        position = {cell.name: index for index, cell in enumerate(genotype.cells)}
        scope = NORM_SCOPES[self.norm_scope]

        def shared(stack: int, cell: ResolvedCell) -> dict[str, nn.Module]:
            index = position[cell.name]
            return {"conv": self.convs[stack][index],
                    "norm_layer": self.norms[stack][index][scope.slot(self.space, cell.level)]}

        return build_neck(genotype, self.in_channels, self.channels, self.num_stacks,
                          norm=self.norm_name, separable=self.separable, inputs=self.inputs,
                          shared_cells=shared)


def build_supernet(config, space, num_classes: int, norm_scope: str = "level",
                   split: str = "none"):
    """The detector ``config`` (a TrainConfig, e.g. the proxy's) describes, with a
    :class:`SupernetNeck` over ``space`` (the anchored space: an
    :class:`~.anchored_neck.AnchoredSupernetNeck`) in place of its neck: backbone, head, anchors, losses
    and decoding are built by :func:`~nasfpn_cli.modeling.detector.build_detector` as for any
    candidate, from a placeholder genotype of the space whose neck is then replaced."""
    from ...modeling.detector import build_detector

    placeholder = space.to_genotype(space.sample(np.random.default_rng(0)))
    detector = build_detector(config.model_spec(placeholder, num_classes),
                              backbone_weights=config.backbone_weights)
    spec = detector.spec
    network = detector.network
    if isinstance(space, AnchoredSpace):
        network.neck = AnchoredSupernetNeck(
            space, network.backbone.out_channels, spec.channels, spec.stack,
            norm=spec.neck_norm, norm_scope=norm_scope, split=split, separable=spec.separable)
    else:
        if split != "none":
            raise SearchError(f"supernet split {split!r} needs the anchored space")
        network.neck = SupernetNeck(space, network.backbone.out_channels, spec.channels,
                                    spec.stack, norm=spec.neck_norm, norm_scope=norm_scope,
                                    separable=spec.separable)
    return detector


def supernet_neck(detector) -> PathNeck:
    """The supernet inside a detector built by :func:`build_supernet`."""
    return detector.network.neck
