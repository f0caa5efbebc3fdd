"""Geometric transforms for detection: resize, crop/pad to a square canvas, horizontal flip.

A transform takes a PIL image and a target dict of numpy arrays (``boxes`` float32 [N, 4] xyxy
in pixels with pixel ``i`` spanning [i, i + 1), plus per-box ``labels``/``iscrowd``/``area``)
and returns the new image and target. Boxes follow the pixels exactly: a resize by ``s`` maps
coordinate ``x`` to ``x * s`` (PIL resamples over pixel edges), a crop at ``ox`` to ``x - ox``
and a flip of a region ``w`` wide to ``w - x``. Randomness comes from the ``generator`` given,
so a transform is reproducible per sample.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# padding colour: the ImageNet mean, so padded pixels are ~0 after normalisation
PAD_RGB = tuple(int(round(255 * m)) for m in IMAGENET_MEAN)
PER_BOX_KEYS = ("boxes", "labels", "iscrowd", "area")


def select_boxes(target: dict, keep: np.ndarray) -> dict:
    """A copy of ``target`` keeping only the boxes where ``keep`` is true (every per-box key)."""
    return {key: (value[keep] if key in PER_BOX_KEYS else value) for key, value in target.items()}


def _resized_shape(width: int, height: int, longer_side: float) -> tuple[int, int, float]:
    """The (width, height) after scaling the longer side to ``longer_side``, and the scale."""
    scale = longer_side / max(width, height)
    return max(1, int(round(width * scale))), max(1, int(round(height * scale))), scale


def _resize(image: Image.Image, target: dict, new_w: int, new_h: int) -> tuple[Image.Image, dict]:
    """Resize to exactly new_w x new_h; boxes scale per axis by the same factors as the pixels."""
    width, height = image.size
    factors = np.array([new_w / width, new_h / height] * 2, dtype=np.float32)
    if (new_w, new_h) != (width, height):
        image = image.resize((new_w, new_h), Image.BILINEAR)
    return image, {**target, "boxes": target["boxes"] * factors}


def _clip_and_drop(target: dict, width: int, height: int, min_size: float) -> dict:
    """Clip boxes to [0, width] x [0, height]; drop those narrower or shorter than min_size."""
    boxes = target["boxes"].copy()
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    keep = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & ((boxes[:, 3] - boxes[:, 1]) >= min_size)
    return select_boxes({**target, "boxes": boxes}, keep)


def _pad_to_square(image: Image.Image, size: int) -> Image.Image:
    """Place ``image`` at the top-left of a size x size canvas of the padding colour."""
    if image.size == (size, size):
        return image
    canvas = Image.new("RGB", (size, size), PAD_RGB)
    canvas.paste(image, (0, 0))
    return canvas


def _uniform(generator: torch.Generator | None, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _randint(generator: torch.Generator | None, high_inclusive: int) -> int:
    if high_inclusive <= 0:
        return 0
    return int(torch.randint(high_inclusive + 1, (), generator=generator))


class EvalTransform:
    """Resize so the longer side is ``size``, pad to size x size at the bottom/right.

    Records ``scale`` (transformed / original) and ``valid_size`` (h, w of the image content);
    a box in the output maps back to the original image by dividing by ``scale``.
    """

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"size must be positive, got {size}")
        self.size = int(size)

    def __call__(self, image: Image.Image, target: dict,
                 generator: torch.Generator | None = None) -> tuple[Image.Image, dict]:
        new_w, new_h, scale = _resized_shape(*image.size, self.size)
        image, target = _resize(image, target, new_w, new_h)
        target = _clip_and_drop(target, new_w, new_h, min_size=1e-3)
        target.update(scale=scale, valid_size=(new_h, new_w), flipped=False)
        return _pad_to_square(image, self.size), target

    def __repr__(self) -> str:
        return f"EvalTransform(size={self.size})"


class TrainTransform:
    """Scale jitter, random crop or pad to size x size, and horizontal flip.

    The longer side is resized to ``size * s`` with ``s`` uniform in ``scale_range`` (the
    paper's 0.8-1.2); a larger image is cropped at a random offset, a smaller one padded at the
    bottom/right; the content is flipped left-right with probability ``flip_prob``. Boxes are
    transformed exactly, clipped to the visible content, and dropped when less than
    ``min_box_size`` pixels wide or high.
    """

    def __init__(self, size: int, scale_range: tuple[float, float] = (0.8, 1.2),
                 flip_prob: float = 0.5, min_box_size: float = 1.0):
        low, high = scale_range
        if size < 1:
            raise ValueError(f"size must be positive, got {size}")
        if not 0 < low <= high:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {scale_range}")
        if not 0.0 <= flip_prob <= 1.0:
            raise ValueError(f"flip_prob must be in [0, 1], got {flip_prob}")
        self.size = int(size)
        self.scale_range = (float(low), float(high))
        self.flip_prob = float(flip_prob)
        self.min_box_size = float(min_box_size)

    def __call__(self, image: Image.Image, target: dict,
                 generator: torch.Generator | None = None) -> tuple[Image.Image, dict]:
        jitter = _uniform(generator, *self.scale_range)
        new_w, new_h, scale = _resized_shape(*image.size, self.size * jitter)
        offset_x = _randint(generator, new_w - self.size)
        offset_y = _randint(generator, new_h - self.size)
        flip = float(torch.rand((), generator=generator)) < self.flip_prob

        image, target = _resize(image, target, new_w, new_h)
        crop_w, crop_h = min(new_w, self.size), min(new_h, self.size)
        if (crop_w, crop_h) != (new_w, new_h):
            image = image.crop((offset_x, offset_y, offset_x + crop_w, offset_y + crop_h))
            shift = np.array([offset_x, offset_y] * 2, dtype=np.float32)
            target = {**target, "boxes": target["boxes"] - shift}
        target = _clip_and_drop(target, crop_w, crop_h, self.min_box_size)
        if flip:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
            boxes = target["boxes"].copy()
            boxes[:, [0, 2]] = crop_w - target["boxes"][:, [2, 0]]
            target["boxes"] = boxes
        target.update(scale=scale, valid_size=(crop_h, crop_w), flipped=flip,
                      crop_offset=(offset_y, offset_x))
        return _pad_to_square(image, self.size), target

    def __repr__(self) -> str:
        return (f"TrainTransform(size={self.size}, scale_range={self.scale_range}, "
                f"flip_prob={self.flip_prob})")


_MEAN_255 = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(3, 1, 1) * 255.0
_INV_STD_255 = 1.0 / (torch.tensor(IMAGENET_STD, dtype=torch.float32).view(3, 1, 1) * 255.0)


def to_normalized_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image -> FloatTensor[3, H, W] normalised with the ImageNet mean/std."""
    planes = np.asarray(image.convert("RGB")).transpose(2, 0, 1).copy()  # C order, writable
    return torch.from_numpy(planes).float().sub_(_MEAN_255).mul_(_INV_STD_255)
