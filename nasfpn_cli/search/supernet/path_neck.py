"""What every supernet neck shares, whatever its space: the laterals, the path that runs, and a
forward that runs it (:class:`PathNeck`); :mod:`.model` (the paper's space) and
:mod:`.anchored_neck` (the anchored space) hold the shared cell modules."""
from __future__ import annotations

from collections.abc import Sequence
from typing import List, Union

from torch import Tensor, nn

from ...errors import SearchError
from ...genotype import Genotype
from ...modeling.neck import FIRST_BACKBONE_LEVEL, InputPyramid, Neck

Path = Union[Genotype, Sequence[int]]


class PathNeck(nn.Module):
    """What every supernet neck has: the shared laterals (``inputs``), the path that runs and
    ``forward([C3, C4, C5]) -> [P3, ..., P7]`` like a compiled Neck. A subclass holds the
    shared cell modules and compiles a path onto them (:meth:`compile`)."""

    def __init__(self, space, in_channels: Sequence[int], channels: int, stacks: int, *,
                 norm: str = "bn", separable: bool = False):
        super().__init__()
        self.space = space
        self.channels = channels
        self.num_stacks = stacks
        self.norm_name = norm
        self.separable = separable
        self.in_channels = tuple(in_channels)
        in_levels = range(FIRST_BACKBONE_LEVEL, FIRST_BACKBONE_LEVEL + len(in_channels))
        self.inputs = InputPyramid(in_channels, in_levels, space.levels, channels, norm)
        self.out_levels = tuple(space.levels)
        self.strides = tuple(2 ** level for level in self.out_levels)
        self.size_divisor = 2 ** max(space.levels)
        self._set_path(None)

    def _set_path(self, neck: Neck | None) -> None:
        # kept out of the module tree: the path's modules are the supernet's own
        object.__setattr__(self, "_path", neck)

    @property
    def path(self) -> Neck | None:
        """The compiled path that runs (None before :meth:`use`)."""
        return self._path

    def compile(self, path: Path) -> Neck:
        """The path as a Neck using this supernet's modules (SearchError when the path lies
        outside the space)."""
        raise NotImplementedError

    def use(self, path: Path | Neck) -> Neck:
        """Make ``path`` (or a path compiled before) the one that runs; returns it compiled."""
        neck = path if isinstance(path, Neck) else self.compile(path)
        self._set_path(neck)
        return neck

    def forward(self, features: List[Tensor]) -> List[Tensor]:
        return self.forward_stacks(features, self.num_stacks)[-1]

    def forward_stacks(self, features: List[Tensor], num_stacks: int = -1) -> List[List[Tensor]]:
        """The selected path's outputs of every stack (see ``Neck.forward_stacks``)."""
        if self._path is None:
            raise SearchError("the supernet runs one path at a time: choose it with use()")
        return self._path.forward_stacks(features, num_stacks)
