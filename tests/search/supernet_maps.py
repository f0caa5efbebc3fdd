"""What the supernet tests of both spaces share: backbone-shaped feature maps, and one torch
thread for a test module (``from supernet_maps import one_thread`` turns it on there)."""
from __future__ import annotations

import pytest
import torch

IN_CHANNELS = (16, 24, 32)


def backbone_maps(batch: int = 2, side: int = 128) -> list[torch.Tensor]:
    """C3-C5 maps of a fixed seed, ``side`` pixels on the input."""
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(batch, channels, side >> level, side >> level, generator=generator)
            for level, channels in zip((3, 4, 5), IN_CHANNELS)]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread for the module's tests (the supernet trains in them), then back."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
