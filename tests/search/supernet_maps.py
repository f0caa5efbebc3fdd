"""Backbone-shaped feature maps for the supernet tests of both spaces (one definition)."""
from __future__ import annotations

import torch

IN_CHANNELS = (16, 24, 32)


def backbone_maps(batch: int = 2, side: int = 128) -> list[torch.Tensor]:
    """C3-C5 maps of a fixed seed, ``side`` pixels on the input."""
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(batch, channels, side >> level, side >> level, generator=generator)
            for level, channels in zip((3, 4, 5), IN_CHANNELS)]
