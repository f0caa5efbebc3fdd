"""RetinaNet anchors: 3 scales x 3 aspect ratios per pyramid level, and the head-output layout.

Anchor order (shared with :func:`flatten_head_output`): level by level, then row ``y``, column
``x``, then anchor ``a = ratio_index * len(scales) + scale_index``. Anchor centres sit at
``((x + 0.5) * stride, (y + 0.5) * stride)`` as in the TensorFlow reference implementation.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import Tensor

DEFAULT_STRIDES = (8, 16, 32, 64, 128)
DEFAULT_SCALES = (2.0 ** 0, 2.0 ** (1 / 3), 2.0 ** (2 / 3))
DEFAULT_RATIOS = (0.5, 1.0, 2.0)  # height / width


def flatten_head_output(output: Tensor, channels_per_anchor: int) -> Tensor:
    """``[B, A*C, H, W]`` (channel = a*C + c) -> ``[B, H*W*A, C]`` in anchor order."""
    batch, _, height, width = output.shape
    output = output.view(batch, -1, channels_per_anchor, height, width)
    return output.permute(0, 3, 4, 1, 2).reshape(batch, -1, channels_per_anchor)


class AnchorGenerator:
    """Anchors for the feature-map sizes of one forward pass, cached per (size, device, dtype).

    The base anchor size of a level is ``size_multiplier * stride`` (4x: 32 px on P3 ... 512 px
    on P7), multiplied by each scale and reshaped to each ratio at constant area.
    """

    def __init__(self, strides: Sequence[int] = DEFAULT_STRIDES,
                 scales: Sequence[float] = DEFAULT_SCALES, ratios: Sequence[float] = DEFAULT_RATIOS,
                 size_multiplier: float = 4.0, cache_size: int = 64):
        self.strides = tuple(int(s) for s in strides)
        self.scales = tuple(float(s) for s in scales)
        self.ratios = tuple(float(r) for r in ratios)
        self.size_multiplier = float(size_multiplier)
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple, Tensor] = OrderedDict()

    @property
    def num_anchors(self) -> int:
        """Anchors per feature-map position."""
        return len(self.scales) * len(self.ratios)

    def cell_anchors(self, stride: int) -> Tensor:
        """The ``[A, 4]`` anchors of one position, centred on the origin (float64)."""
        rows = []
        for ratio in self.ratios:
            for scale in self.scales:
                size = self.size_multiplier * stride * scale
                half_w, half_h = size / math.sqrt(ratio) / 2, size * math.sqrt(ratio) / 2
                rows.append((-half_w, -half_h, half_w, half_h))
        return torch.tensor(rows, dtype=torch.float64)

    def grid_anchors(self, height: int, width: int, stride: int, device: torch.device | str = "cpu",
                     dtype: torch.dtype = torch.float32) -> Tensor:
        """``[height * width * A, 4]`` anchors of a ``height`` x ``width`` map with ``stride``."""
        key = (height, width, stride, torch.device(device), dtype)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        ys = (torch.arange(height, dtype=torch.float64) + 0.5) * stride
        xs = (torch.arange(width, dtype=torch.float64) + 0.5) * stride
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        centres = torch.stack((grid_x, grid_y, grid_x, grid_y), dim=-1).reshape(-1, 1, 4)
        anchors = (centres + self.cell_anchors(stride)[None]).reshape(-1, 4)
        anchors = anchors.to(device=device, dtype=dtype)
        self._cache[key] = anchors
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return anchors

    def __call__(self, feature_sizes: Sequence[tuple[int, int]], device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> list[Tensor]:
        """Anchors per level for feature maps of the given ``(height, width)`` sizes."""
        if len(feature_sizes) != len(self.strides):
            raise ValueError(f"expected {len(self.strides)} feature maps, got {len(feature_sizes)}")
        return [self.grid_anchors(h, w, stride, device, dtype)
                for (h, w), stride in zip(feature_sizes, self.strides)]
