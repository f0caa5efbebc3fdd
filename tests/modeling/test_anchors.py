"""Anchors: sizes, ratios, centres, order, caching and the head-output layout."""
from __future__ import annotations

import math

import torch

from nasfpn_cli.modeling.anchors import AnchorGenerator, flatten_head_output


def test_cell_anchors_have_the_retinanet_sizes_and_ratios():
    generator = AnchorGenerator()
    assert generator.num_anchors == 9
    cell = generator.cell_anchors(8)
    widths, heights = cell[:, 2] - cell[:, 0], cell[:, 3] - cell[:, 1]
    # a = ratio_index * 3 + scale_index; base size 4 x stride = 32 px on P3
    expected_sizes = [32 * 2 ** (i / 3) for i in range(3)] * 3
    torch.testing.assert_close(torch.sqrt(widths * heights), torch.tensor(expected_sizes, dtype=torch.float64))
    torch.testing.assert_close(heights / widths, torch.tensor([0.5] * 3 + [1.0] * 3 + [2.0] * 3, dtype=torch.float64))
    assert cell[3].tolist() == [-16.0, -16.0, 16.0, 16.0]
    assert torch.allclose(cell[:, :2], -cell[:, 2:])  # centred on the origin
    # P7 (stride 128) largest anchor: 512 * 2^(2/3) px on a side
    assert math.isclose(float(generator.cell_anchors(128)[5, 2] * 2), 512 * 2 ** (2 / 3))


def test_grid_anchor_order_and_centres():
    generator = AnchorGenerator()
    anchors = generator.grid_anchors(3, 5, 16)
    assert anchors.shape == (3 * 5 * 9, 4) and anchors.dtype == torch.float32
    y, x, a = 1, 2, 4
    box = anchors[(y * 5 + x) * 9 + a]
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    assert (float(centre[0]), float(centre[1])) == (40.0, 24.0)  # ((x + 0.5) * 16, (y + 0.5) * 16)
    assert torch.allclose(box - torch.tensor([40.0, 24.0, 40.0, 24.0]),
                          generator.cell_anchors(16)[a].float())


def test_anchors_per_level_are_cached_per_size_device_and_dtype():
    generator = AnchorGenerator()
    sizes = [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
    first = generator(sizes)
    assert [len(level) for level in first] == [2304, 576, 144, 36, 9]
    again = generator(sizes)
    assert all(a is b for a, b in zip(first, again))
    as_double = generator(sizes, dtype=torch.float64)
    assert as_double[0] is not first[0] and as_double[0].dtype == torch.float64
    small = AnchorGenerator(cache_size=2)
    small(sizes)
    assert len(small._cache) == 2


def test_flatten_head_output_matches_anchor_order():
    batch, anchors, channels, height, width = 2, 9, 3, 4, 5
    b, a, c, y, x = torch.meshgrid(*(torch.arange(n) for n in (batch, anchors, channels, height, width)),
                                   indexing="ij")
    code = b * 10000 + a * 1000 + c * 100 + y * 10 + x  # [B, A, C, H, W]
    head_output = code.reshape(batch, anchors * channels, height, width)  # channel = a*C + c
    flat = flatten_head_output(head_output, channels)
    assert flat.shape == (batch, height * width * anchors, channels)
    assert int(flat[1, (3 * width + 2) * anchors + 7, 2]) == 10000 + 7000 + 200 + 30 + 2
