"""ImageIO: the one place images are resized, padded, normalised and boxes mapped back."""
from __future__ import annotations

import torch
from PIL import Image

from nasfpn_cli.data.image_io import ImageIO, padded_size, to_original


def test_prepare_resizes_the_longer_side_and_pads_square():
    prepared = ImageIO(128).prepare(Image.new("RGB", (200, 100), (255, 0, 0)))
    assert prepared.tensor.shape == (3, 128, 128)
    assert prepared.scale == 128 / 200 and prepared.original_size == (100, 200)
    assert prepared.tensor[0, 0, 0] > 2 and abs(float(prepared.tensor[0, -1, 0])) < 0.02  # padding ~ mean


def test_boxes_go_back_to_original_pixels_clipped():
    boxes = torch.tensor([[64.0, 32.0, 128.0, 64.0], [-5.0, -5.0, 140.0, 70.0]])
    back = to_original(boxes, 0.64, (100, 200))
    torch.testing.assert_close(back[0], torch.tensor([100.0, 50.0, 200.0, 100.0]))
    torch.testing.assert_close(back[1], torch.tensor([0.0, 0.0, 200.0, 100.0]))
    torch.testing.assert_close(to_original(boxes[:1], (0.5, 0.25), (1000, 1000))[0],
                               torch.tensor([128.0, 128.0, 256.0, 256.0]))
    assert padded_size(200, 129, 128) == (256, 256)
