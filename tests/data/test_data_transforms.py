"""Detection transforms: boxes follow the pixels exactly through resize, crop, pad and flip."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nasfpn_cli.data.transforms import (IMAGENET_MEAN, IMAGENET_STD, PAD_RGB, EvalTransform,
                                        TrainTransform, to_normalized_tensor)

RED = (230, 20, 20)
GREY = (90, 90, 90)


def _scene(width: int, height: int, boxes: list[tuple[int, int, int, int]]) -> tuple[Image.Image, dict]:
    """A grey image with a red filled rectangle for each xyxy box (pixels x0..x1-1)."""
    pixels = np.full((height, width, 3), GREY, dtype=np.uint8)
    for x0, y0, x1, y1 in boxes:
        pixels[y0:y1, x0:x1] = RED
    target = {"boxes": np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
              "labels": np.arange(len(boxes), dtype=np.int64),
              "iscrowd": np.zeros(len(boxes), dtype=bool),
              "area": np.ones(len(boxes), dtype=np.float32)}
    return Image.fromarray(pixels), target


def _red_extent(image: Image.Image) -> tuple[int, int, int, int]:
    """xyxy extent of the pixels that are more red than grey."""
    pixels = np.asarray(image, dtype=np.int16)
    red = np.abs(pixels - RED).sum(-1) < np.abs(pixels - GREY).sum(-1)
    rows, cols = np.nonzero(red)
    return cols.min(), rows.min(), cols.max() + 1, rows.max() + 1


def test_eval_transform_pins_scale_boxes_and_padding():
    image, target = _scene(640, 480, [(100, 50, 200, 130)])
    out, result = EvalTransform(320)(image, target)
    assert out.size == (320, 320)
    assert result["scale"] == 0.5 and result["valid_size"] == (240, 320)
    np.testing.assert_array_equal(result["boxes"], [[50, 25, 100, 65]])
    assert _red_extent(out) == (50, 25, 100, 65)
    pixels = np.asarray(out)
    assert (pixels[240:] == PAD_RGB).all() and (pixels[:240] != PAD_RGB).any(axis=-1).all()


def test_train_transform_pure_scale_and_flip_is_exact():
    image, target = _scene(512, 512, [(40, 100, 140, 300)])
    transform = TrainTransform(256, scale_range=(1.0, 1.0), flip_prob=1.0)
    out, result = transform(image, target, generator=torch.Generator().manual_seed(0))
    assert result["flipped"] and result["scale"] == 0.5
    np.testing.assert_array_equal(result["boxes"], [[256 - 70, 50, 256 - 20, 150]])
    assert _red_extent(out) == (186, 50, 236, 150)


def test_train_transform_crop_shifts_boxes_by_the_offset():
    image, target = _scene(256, 256, [(10, 10, 60, 50), (200, 180, 250, 240)])
    transform = TrainTransform(256, scale_range=(2.0, 2.0), flip_prob=0.0)
    out, result = transform(image, target, generator=torch.Generator().manual_seed(5))
    offset_y, offset_x = result["crop_offset"]
    assert result["valid_size"] == (256, 256) and (offset_x, offset_y) != (0, 0)
    expected = np.array([[20, 20, 120, 100], [400, 360, 500, 480]], np.float32)
    expected -= [offset_x, offset_y, offset_x, offset_y]
    expected[:, 0::2] = expected[:, 0::2].clip(0, 256)
    expected[:, 1::2] = expected[:, 1::2].clip(0, 256)
    keep = (expected[:, 2] - expected[:, 0] >= 1) & (expected[:, 3] - expected[:, 1] >= 1)
    np.testing.assert_array_equal(result["boxes"], expected[keep])
    np.testing.assert_array_equal(result["labels"], np.arange(2)[keep])


def test_boxes_dropped_when_cropped_away_with_all_per_box_fields():
    image, target = _scene(400, 400, [(0, 0, 20, 20), (380, 380, 400, 400)])
    target["iscrowd"] = np.array([False, True])
    transform = TrainTransform(200, scale_range=(1.0, 1.0), flip_prob=0.0)
    # longer side 200 from 400: scale 0.5, no crop: both boxes survive as 10 px squares
    _, result = transform(image, target, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(result["boxes"], [[0, 0, 10, 10], [190, 190, 200, 200]])
    # scale 2: 800 px, cropped to 200 at a random offset: at most one corner box is visible
    seen = set()
    for seed in range(12):
        _, result = TrainTransform(200, (2.0, 2.0), 0.0)(
            image, target, generator=torch.Generator().manual_seed(seed))
        assert len(result["boxes"]) == len(result["labels"]) == len(result["iscrowd"]) \
            == len(result["area"]) <= 1
        seen.add(tuple(result["labels"].tolist()))
    assert () in seen


@pytest.mark.parametrize("seed", range(16))
def test_random_train_transform_box_covers_the_rectangle(seed):
    image, target = _scene(640, 480, [(101, 57, 263, 170)])
    transform = TrainTransform(256, scale_range=(0.5, 2.0), flip_prob=0.5)
    out, result = transform(image, target, generator=torch.Generator().manual_seed(seed))
    assert out.size == (256, 256)
    box = result["boxes"][0]
    x0, y0, x1, y1 = _red_extent(out)
    # the red pixels (more than half covered) match the transformed box to within a pixel
    assert np.abs(np.array([x0, y0, x1, y1]) - box).max() <= 1.0, (box, (x0, y0, x1, y1))


def test_random_choices_cover_crop_pad_and_flip_and_are_reproducible():
    image, target = _scene(640, 480, [(101, 57, 263, 170)])
    transform = TrainTransform(256)
    flips, crops = set(), set()
    for seed in range(20):
        out_a, a = transform(image, target, generator=torch.Generator().manual_seed(seed))
        out_b, b = transform(image, target, generator=torch.Generator().manual_seed(seed))
        assert out_a.tobytes() == out_b.tobytes()
        np.testing.assert_array_equal(a["boxes"], b["boxes"])
        assert 0.8 * 256 / 640 <= a["scale"] <= 1.2 * 256 / 640
        flips.add(a["flipped"])
        crops.add(a["valid_size"][1] == 256)
    assert flips == {True, False} and crops == {True, False}


def test_normalisation_uses_imagenet_mean_and_std():
    image = Image.new("RGB", (3, 2), (255, 0, 128))
    tensor = to_normalized_tensor(image)
    assert tensor.shape == (3, 2, 3) and tensor.dtype == torch.float32
    expected = [(v / 255 - m) / s for v, m, s in zip((255, 0, 128), IMAGENET_MEAN, IMAGENET_STD)]
    assert torch.allclose(tensor[:, 0, 0], torch.tensor(expected), atol=1e-6)
    # the padding colour normalises to (almost) zero
    pad = to_normalized_tensor(Image.new("RGB", (1, 1), PAD_RGB))
    assert pad.abs().max() < 0.01


@pytest.mark.parametrize("kwargs", [{"size": 0}, {"size": 64, "scale_range": (1.2, 0.8)},
                                    {"size": 64, "flip_prob": 1.5}])
def test_invalid_train_transform_arguments(kwargs):
    with pytest.raises(ValueError):
        TrainTransform(**kwargs)
