"""The backbone interface: ``forward(x) -> [C3, C4, C5]`` plus ``out_channels`` and ``strides``,
and stage freezing that survives ``model.train()``."""
from __future__ import annotations

from typing import List

from torch import Tensor, nn

from ..errors import ModelError


class Backbone(nn.Module):
    """Base class: subclasses set ``out_channels``/``strides`` and list their ``stages()``
    (stage 0 is the stem) so the first stages can be frozen."""

    def __init__(self) -> None:
        super().__init__()
        self.out_channels: tuple = ()  # channels of C3, C4, C5
        self.strides: tuple = (8, 16, 32)
        self.frozen_stages = -1

    def stages(self) -> list[list[nn.Module]]:
        """Modules of each stage, stem first."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> List[Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def freeze_stages(self, count: int) -> None:
        """Freeze stages ``0..count`` (stem first; -1 freezes nothing): no gradients, and their
        norm layers stay in eval mode even after ``train()``."""
        stages = self.stages()
        if not -1 <= count < len(stages):
            raise ModelError(f"frozen_stages must be between -1 and {len(stages) - 1} (got {count})")
        self.frozen_stages = count
        for module in self._frozen_modules():
            for parameter in module.parameters():
                parameter.requires_grad_(False)
        self.train(self.training)

    def _frozen_modules(self) -> list[nn.Module]:
        return [module for stage in self.stages()[: self.frozen_stages + 1] for module in stage]

    def train(self, mode: bool = True) -> Backbone:
        super().train(mode)
        for module in self._frozen_modules():
            module.eval()
        return self
