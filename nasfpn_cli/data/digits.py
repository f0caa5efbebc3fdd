"""A small real detection benchmark: scikit-learn's handwritten digits placed on photographs.

The 1,797 8x8 digit scans of ``sklearn.datasets.load_digits`` (ten classes, written by 43
people) are scaled to objects of about 10-80 px and placed several per canvas, apart from one
another, on backgrounds cut at random scales from the two photographs scikit-learn ships
(``load_sample_images``) or on noise. The training split draws its digits from the first 80%
of the scans and the validation split from the rest, so evaluation sees unseen handwriting.

The ink is alpha-blended with a colour that contrasts with the background under it; a box is
the exact extent of the pixels whose alpha is at least one half, and the area their count.
Category ids are 1..10, named "0".."9". Image ``i`` depends only on ``(seed, i)``: the same
seed writes byte-identical files.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DatasetError
from ..utils import atomic_write_json
from .generated_settings import DigitsSettings
from .synth import TRAIN_SPLIT, VAL_SPLIT, write_splits

NUM_CLASSES = 10
CATEGORIES: tuple[dict, ...] = tuple({"id": digit + 1, "name": str(digit), "supercategory": "digit"}
                                     for digit in range(NUM_CLASSES))
MIN_IMAGE_SIZE = 64
SMALLEST_OBJECT = 6
TRAIN_SCAN_FRACTION = 0.8
NOISE_BACKGROUND_PROBABILITY = 0.25
BACKGROUND_CONTRAST = 0.6  # photos are flattened towards grey so the digits stay readable
ALPHA_THRESHOLD = 128

Placement = tuple[int, int, int, int]  # x, y, w, h


@functools.lru_cache(maxsize=1)
def digit_scans() -> tuple[np.ndarray, np.ndarray]:
    """The digit scans as uint8 alpha masks (N, 8, 8) in 0..255, and their labels (N,)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    scans = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    return scans, digits.target.astype(np.int64)


@functools.lru_cache(maxsize=1)
def sample_photos() -> tuple[np.ndarray, ...]:
    """scikit-learn's bundled photographs (RGB uint8), the source of the backgrounds."""
    from sklearn.datasets import load_sample_images

    return tuple(np.ascontiguousarray(image) for image in load_sample_images().images)


def _scan_pool(split: str) -> np.ndarray:
    """Indices of the scans a split draws from: training and validation never share one."""
    count = len(digit_scans()[1])
    cut = int(count * TRAIN_SCAN_FRACTION)
    return np.arange(0, cut) if split == TRAIN_SPLIT else np.arange(cut, count)


def _background(rng: np.random.Generator, image_size: int) -> np.ndarray:
    """A square crop of a bundled photo at a random scale (or noise), as float32 RGB."""
    if rng.random() < NOISE_BACKGROUND_PROBABILITY:
        level = rng.uniform(40, 215)
        noise = rng.normal(0.0, 20.0, size=(image_size, image_size, 3))
        return np.clip(level + noise, 0, 255).astype(np.float32)
    photos = sample_photos()
    photo = photos[int(rng.integers(len(photos)))]
    height, width = photo.shape[:2]
    side = int(rng.integers(min(height, width) // 4, min(height, width) + 1))
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    crop = Image.fromarray(photo[top:top + side, left:left + side])
    pixels = np.asarray(crop.resize((image_size, image_size), Image.BILINEAR), np.float32)
    if rng.random() < 0.5:
        pixels = pixels[:, ::-1]
    return 128.0 + BACKGROUND_CONTRAST * (pixels - 128.0)


def _place_boxes(rng: np.random.Generator, image_size: int, max_objects: int,
                 min_size: int, max_size: int) -> list[Placement]:
    """Sample up to ``max_objects`` boxes 2 px apart, heights log-uniform in [min, max] and
    widths 0.6-1.0 of the height (digits are upright)."""
    wanted = int(rng.integers(1, max_objects + 1))
    placed: list[Placement] = []
    for _ in range(wanted):
        for _attempt in range(30):
            h = int(round(math.exp(rng.uniform(math.log(min_size), math.log(max_size)))))
            w = max(min_size, int(round(h * rng.uniform(0.6, 1.0))))
            x = int(rng.integers(0, image_size - w + 1))
            y = int(rng.integers(0, image_size - h + 1))
            margin = 2
            if all(x + w + margin <= px or px + pw + margin <= x or
                   y + h + margin <= py or py + ph + margin <= y
                   for px, py, pw, ph in placed):
                placed.append((x, y, w, h))
                break
    return placed


def _ink_colour(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    """A colour far in brightness from the mean of ``region``: dark ink on light ground."""
    luminance = float(region.mean())
    base = rng.uniform(0, 60) if luminance > 128 else rng.uniform(195, 255)
    return np.clip(base + rng.uniform(-25, 25, size=3), 0, 255).astype(np.float32)


def render_digits_image(seed: int, index: int, image_size: int, pool: np.ndarray, *,
                        max_objects: int = 6, min_object_size: int = 10,
                        max_object_size: int = 80) -> tuple[Image.Image, list[dict]]:
    """Draw image ``index`` for ``seed`` with digits drawn from scan indices ``pool``; returns
    it and its objects as partial COCO annotations (category_id, tight bbox, pixel area)."""
    rng = np.random.default_rng([seed, index])
    scans, labels = digit_scans()
    canvas = _background(rng, image_size)
    objects = []
    for x, y, w, h in _place_boxes(rng, image_size, max_objects, min_object_size,
                                   max_object_size):
        scan = int(pool[int(rng.integers(len(pool)))])
        alpha = np.asarray(Image.fromarray(scans[scan]).resize((w, h), Image.BILINEAR))
        ink = alpha >= ALPHA_THRESHOLD
        if not ink.any():
            continue
        region = canvas[y:y + h, x:x + w]
        weight = (alpha.astype(np.float32) / 255.0)[..., None]
        region[:] = region * (1.0 - weight) + _ink_colour(rng, region) * weight
        rows, cols = np.nonzero(ink)
        left, top = int(cols.min()), int(rows.min())
        objects.append({
            "category_id": int(labels[scan]) + 1,
            "bbox": [x + left, y + top, int(cols.max()) + 1 - left, int(rows.max()) + 1 - top],
            "area": int(ink.sum()),
        })
    image = Image.fromarray(np.clip(np.round(canvas), 0, 255).astype(np.uint8), "RGB")
    return image, objects


def _check_options(num_train: int, num_val: int, image_size: int, max_objects: int,
                   min_object_size: int, max_object_size: int) -> None:
    if num_train < 1:
        raise DatasetError(f"num_train must be at least 1, got {num_train}")
    if num_val < 0:
        raise DatasetError(f"num_val must be at least 0, got {num_val}")
    if image_size < MIN_IMAGE_SIZE:
        raise DatasetError(f"image_size must be at least {MIN_IMAGE_SIZE} px, got {image_size}")
    if max_objects < 1:
        raise DatasetError(f"max_objects must be at least 1, got {max_objects}")
    if min_object_size < SMALLEST_OBJECT:
        raise DatasetError(f"min_object_size must be at least {SMALLEST_OBJECT} px, "
                           f"got {min_object_size}")
    if not min_object_size <= max_object_size <= image_size // 2:
        raise DatasetError(f"max_object_size must be between min_object_size "
                           f"({min_object_size}) and image_size / 2 ({image_size // 2}), "
                           f"got {max_object_size}")


def make_digits_dataset(out_dir: str | Path, num_train: int = DigitsSettings.num_train,
                        num_val: int = DigitsSettings.num_val,
                        image_size: int = DigitsSettings.image_size,
                        seed: int = DigitsSettings.seed, *,
                        max_objects: int = DigitsSettings.max_objects,
                        min_object_size: int = DigitsSettings.min_object_size,
                        max_object_size: int = DigitsSettings.max_object_size,
                        progress: Callable[[int], None] | None = None) -> dict:
    """Write the digits dataset in the COCO 2017 layout under ``out_dir`` (``train2017/``,
    ``val2017/``, ``annotations/instances_{train,val}2017.json``, ``digits.json``).

    ``progress`` is called with the number of images just written. Returns a JSON-able
    summary: the four paths, counts and the categories.
    """
    _check_options(num_train, num_val, image_size, max_objects, min_object_size,
                   max_object_size)
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise DatasetError(f"{root}: exists and is not a folder")
    categories = [dict(c) for c in CATEGORIES]
    summary: dict = {"root": str(root), "seed": seed, "num_images": num_train + num_val,
                     "image_size": image_size, "max_objects": max_objects,
                     "min_object_size": min_object_size, "max_object_size": max_object_size,
                     "categories": categories}
    pools = {TRAIN_SPLIT: _scan_pool(TRAIN_SPLIT), VAL_SPLIT: _scan_pool(VAL_SPLIT)}
    write_splits(root, {TRAIN_SPLIT: range(0, num_train),
                        VAL_SPLIT: range(num_train, num_train + num_val)},
                 lambda split, index: render_digits_image(
                     seed, index, image_size, pools[split], max_objects=max_objects,
                     min_object_size=min_object_size, max_object_size=max_object_size),
                 categories, f"nasfpn digits on photos (scikit-learn), seed {seed}", summary,
                 progress)
    atomic_write_json(root / "digits.json", summary, indent=None)
    return summary
