"""A synthetic COCO-format detection dataset of simple shapes: the built-in data of the demo and
the tests.

Every image is a noisy grey background with a few filled shapes (one shape and colour per
category) at scales from about 8 px to half the image. Shapes never overlap, so each box is the
exact pixel extent of a fully visible object. Category ids are deliberately non-contiguous
(1, 3, 7, ...) so that the label mapping is always exercised. Image ``i`` depends only on
``(seed, i)``: the same seed writes byte-identical files.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..errors import DatasetError
from ..utils import atomic_write_json
from .generated_settings import SynthSettings

Polygon = list[tuple[float, float]]


def _square(w: float, h: float) -> Polygon:
    return [(0, 0), (w, 0), (w, h), (0, h)]


def _circle(w: float, h: float, points: int = 48) -> Polygon:
    return [(w / 2 * (1 + math.cos(2 * math.pi * k / points)),
             h / 2 * (1 + math.sin(2 * math.pi * k / points))) for k in range(points)]


def _triangle(w: float, h: float) -> Polygon:
    return [(w / 2, 0), (w, h), (0, h)]


def _diamond(w: float, h: float) -> Polygon:
    return [(w / 2, 0), (w, h / 2), (w / 2, h), (0, h / 2)]


def _cross(w: float, h: float) -> Polygon:
    a, b, c, d = w / 3, 2 * w / 3, h / 3, 2 * h / 3
    return [(a, 0), (b, 0), (b, c), (w, c), (w, d), (b, d), (b, h), (a, h), (a, d), (0, d),
            (0, c), (a, c)]


def _hexagon(w: float, h: float) -> Polygon:
    return [(w / 4, 0), (3 * w / 4, 0), (w, h / 2), (3 * w / 4, h), (w / 4, h), (0, h / 2)]


@dataclass(frozen=True)
class ShapeClass:
    """One synthetic category: its COCO id, name, fill colour and outline in a w x h box."""

    category_id: int
    name: str
    colour: tuple[int, int, int]
    outline: Callable[[float, float], Polygon]


# Non-contiguous ids on purpose; the first ``num_classes`` entries are used.
SHAPE_CLASSES: tuple[ShapeClass, ...] = (
    ShapeClass(1, "square", (220, 40, 40), _square),
    ShapeClass(3, "circle", (40, 200, 60), _circle),
    ShapeClass(7, "triangle", (50, 90, 235), _triangle),
    ShapeClass(12, "diamond", (235, 210, 40), _diamond),
    ShapeClass(18, "cross", (210, 60, 200), _cross),
    ShapeClass(25, "hexagon", (40, 205, 215), _hexagon),
)

MIN_OBJECT_SIZE = SynthSettings.min_object_size
MIN_IMAGE_SIZE = 32
EMPTY_IMAGE_PROBABILITY = 0.1
TRAIN_SPLIT, VAL_SPLIT = "train2017", "val2017"
_IMAGE_NAME = re.compile(r"^\d{12}\.png$")


Placement = tuple[ShapeClass, int, int, int, int]  # class, x, y, w, h


def _place_objects(rng: np.random.Generator, image_size: int, num_classes: int,
                   max_objects: int, min_size: int) -> list[Placement]:
    """Sample non-overlapping (class, x, y, w, h) boxes with sizes log-uniform in
    [min_size, image_size / 2] and aspect ratios in [1/2, 2]."""
    if rng.random() < EMPTY_IMAGE_PROBABILITY:
        return []
    wanted = int(rng.integers(1, max_objects + 1))
    largest = image_size / 2
    placed: list[Placement] = []
    for _ in range(wanted):
        shape = SHAPE_CLASSES[int(rng.integers(num_classes))]
        for _attempt in range(30):
            side = math.exp(rng.uniform(math.log(min_size), math.log(largest)))
            aspect = math.exp(rng.uniform(-math.log(2), math.log(2)))
            w = int(round(min(max(side * math.sqrt(aspect), min_size), largest)))
            h = int(round(min(max(side / math.sqrt(aspect), min_size), largest)))
            x = int(rng.integers(0, image_size - w + 1))
            y = int(rng.integers(0, image_size - h + 1))
            margin = 2
            if all(x + w + margin <= px or px + pw + margin <= x or
                   y + h + margin <= py or py + ph + margin <= y
                   for _, px, py, pw, ph in placed):
                placed.append((shape, x, y, w, h))
                break
    return placed


def render_image(seed: int, index: int, image_size: int, num_classes: int = 3,
                 max_objects: int = 6, min_object_size: int = MIN_OBJECT_SIZE
                 ) -> tuple[Image.Image, list[dict]]:
    """Draw image ``index`` of the dataset for ``seed``; returns it and its objects as partial
    COCO annotations (category_id, bbox [x, y, w, h] tight around the drawn pixels, area =
    drawn pixel count, segmentation = the drawn polygon)."""
    rng = np.random.default_rng([seed, index])
    level = int(rng.integers(70, 150))
    noise = rng.integers(-24, 25, size=(image_size, image_size, 3), dtype=np.int16)
    image = Image.fromarray((noise + level).clip(0, 255).astype(np.uint8), "RGB")
    objects = []
    for shape, x, y, w, h in _place_objects(rng, image_size, num_classes, max_objects,
                                                min_object_size):
        # PIL fills polygons over pixel indices, so a w x h box spans indices 0..w-1, 0..h-1.
        polygon = shape.outline(w - 1, h - 1)
        mask = Image.new("L", (w, h), 0)
        ImageDraw.Draw(mask).polygon(polygon, fill=255)
        left, top, right, bottom = mask.getbbox()
        jitter = rng.integers(-15, 16, size=3)
        colour = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(shape.colour, jitter))
        image.paste(colour, (x, y), mask)
        objects.append({
            "category_id": shape.category_id,
            "bbox": [x + left, y + top, right - left, bottom - top],
            "area": int(np.count_nonzero(np.asarray(mask))),
            "segmentation": [[round(v, 2) for px, py in polygon for v in (x + px + 0.5,
                                                                          y + py + 0.5)]],
        })
    return image, objects


def _split_sizes(num_images: int, val_fraction: float) -> tuple[int, int]:
    num_val = int(round(num_images * val_fraction))
    if val_fraction > 0 and num_images >= 2:
        num_val = min(max(num_val, 1), num_images - 1)
    return num_images - num_val, num_val


def _remove_stale_images(folder: Path, keep: set[str]) -> None:
    """Remove synthetic-looking images (12-digit .png) left by an earlier, larger run."""
    for path in folder.glob("*.png"):
        if _IMAGE_NAME.match(path.name) and path.name not in keep:
            path.unlink()


def make_synthetic_dataset(out_dir: str | Path, num_images: int = SynthSettings.num_images,
                           image_size: int = SynthSettings.image_size,
                           seed: int = SynthSettings.seed,
                           val_fraction: float = SynthSettings.val_fraction,
                           num_classes: int = SynthSettings.num_classes, *,
                           max_objects: int = SynthSettings.max_objects,
                           min_object_size: int = SynthSettings.min_object_size,
                           progress: Callable[[int], None] | None = None) -> dict:
    """Write a synthetic dataset in the COCO 2017 layout under ``out_dir``:
    ``train2017/*.png``, ``val2017/*.png`` and ``annotations/instances_{train,val}2017.json``.

    ``progress`` is called with the number of images just written (for a progress bar).
    Returns a JSON-able summary: the four paths, image/annotation counts and the categories.
    """
    if num_images < 1:
        raise DatasetError(f"num_images must be at least 1, got {num_images}")
    if image_size < MIN_IMAGE_SIZE:
        raise DatasetError(f"image_size must be at least {MIN_IMAGE_SIZE} px, got {image_size}")
    if not 0.0 <= val_fraction < 1.0:
        raise DatasetError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if not 1 <= num_classes <= len(SHAPE_CLASSES):
        raise DatasetError(f"num_classes must be between 1 and {len(SHAPE_CLASSES)}, "
                           f"got {num_classes}")
    if max_objects < 1:
        raise DatasetError(f"max_objects must be at least 1, got {max_objects}")
    if not 4 <= min_object_size <= image_size // 2:
        raise DatasetError(f"min_object_size must be between 4 and image_size / 2 "
                           f"({image_size // 2}), got {min_object_size}")
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise DatasetError(f"{root}: exists and is not a folder")
    categories = [{"id": c.category_id, "name": c.name, "supercategory": "shape"}
                  for c in SHAPE_CLASSES[:num_classes]]
    num_train, _ = _split_sizes(num_images, val_fraction)
    summary: dict = {"root": str(root), "seed": seed, "num_images": num_images,
                     "image_size": image_size, "max_objects": max_objects,
                     "min_object_size": min_object_size, "categories": categories,
                     "num_annotations": 0}
    write_splits(root, {TRAIN_SPLIT: range(0, num_train), VAL_SPLIT: range(num_train, num_images)},
                 lambda split, index: render_image(seed, index, image_size, num_classes,
                                                   max_objects, min_object_size),
                 categories, f"nasfpn synthetic shapes, seed {seed}", summary, progress)
    atomic_write_json(root / "synth.json", summary, indent=None)
    return summary


RenderFn = Callable[[str, int], tuple[Image.Image, list[dict]]]


def write_splits(root: Path, splits: dict[str, range], render: RenderFn, categories: list[dict],
                 description: str, summary: dict,
                 progress: Callable[[int], None] | None = None) -> None:
    """Write generated images ``render(split, index)`` as ``root/SPLIT/{index + 1:012d}.png`` and
    their annotations as ``root/annotations/instances_SPLIT.json`` (ids unique across splits),
    removing stale images of an earlier run. Adds paths and counts to ``summary``."""
    annotation_id = 0
    summary["num_annotations"] = 0
    for split, indices in splits.items():
        image_dir = root / split
        image_dir.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for index in indices:
            image_id = index + 1
            file_name = f"{image_id:012d}.png"
            image, objects = render(split, index)
            image.save(image_dir / file_name, format="PNG", compress_level=1)
            images.append({"id": image_id, "file_name": file_name,
                           "width": image.width, "height": image.height})
            for obj in objects:
                annotation_id += 1
                annotations.append({"id": annotation_id, "image_id": image_id, "iscrowd": 0,
                                    **obj})
            if progress is not None:
                progress(1)
        _remove_stale_images(image_dir, {image["file_name"] for image in images})
        ann_file = root / "annotations" / f"instances_{split}.json"
        atomic_write_json(ann_file, indent=None, value={
            "info": {"description": description, "version": "1.0"},
            "licenses": [], "images": images, "annotations": annotations,
            "categories": categories})
        key = "train" if split == TRAIN_SPLIT else "val"
        summary[f"{key}_ann"] = str(ann_file)
        summary[f"{key}_images"] = str(image_dir)
        summary[f"num_{key}"] = len(images)
        summary["num_annotations"] += len(annotations)
