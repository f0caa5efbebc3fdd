"""COCO-format detection dataset (pycocotools) with contiguous labels and exact box transforms.

All decoding and augmentation happens in ``__getitem__``, i.e. in DataLoader workers; the
constructor only reads the JSON. Crowd boxes are dropped by default (training ignores them);
images without objects are kept with empty targets.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..errors import DatasetError
from .annotations import CHECK_HINT, build_coco, read_annotation_file
from .loader import build_dataloader, collate
from .paths import resolve_data_paths
from .transforms import EvalTransform, TrainTransform, to_normalized_tensor

# the loader, paths and transforms are re-exported: the engine takes all it needs from here
__all__ = ["CocoDetection", "EvalTransform", "TrainTransform", "build_dataloader", "collate",
           "resolve_data_paths", "sample_seed"]

Transform = Callable[..., tuple[Image.Image, dict]]


@dataclass(frozen=True)
class _ImageRecord:
    """What ``__getitem__`` needs for one image, prepared once from the annotations."""

    image_id: int
    path: Path
    width: int
    height: int
    boxes: np.ndarray  # float32 [N, 4] xyxy, clipped to the image
    labels: np.ndarray  # int64 [N], contiguous
    iscrowd: np.ndarray  # bool [N]
    area: np.ndarray  # float32 [N]


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A well-mixed 63-bit seed for one sample of one epoch."""
    state = np.random.SeedSequence([seed, epoch, index]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


class CocoDetection(Dataset):
    """A COCO detection dataset: ``dataset[i] -> (image, target)``.

    ``image`` is FloatTensor[3, H, W] normalised with the ImageNet mean/std; ``target`` holds
    ``boxes`` FloatTensor[N, 4] (xyxy, pixels of the transformed image), ``labels``
    LongTensor[N] in 0..K-1, ``iscrowd`` BoolTensor[N], ``image_id``, ``orig_size`` (h, w),
    ``scale`` (transformed / original), ``valid_size`` (h, w of the content before padding),
    ``flipped`` and ``file_name``.

    ``annotations`` may be given instead of reading ``ann_file`` (e.g. the output of
    ``clean_dataset``). With ``seed`` set, sample ``i`` of epoch ``e`` (``set_epoch``) is
    augmented with a generator seeded from (seed, e, i): the same in any worker; without it the
    worker's global torch RNG is used.
    """

    def __init__(self, ann_file: str | Path, image_dir: str | Path,
                 transform: Transform | None = None, *, skip_crowd: bool = True,
                 annotations: dict | None = None, seed: int | None = None):
        self.ann_file = Path(ann_file)
        self.image_dir = Path(image_dir)
        self.transform = transform
        self.skip_crowd = skip_crowd
        self.seed = seed
        self.epoch = 0
        data = read_annotation_file(self.ann_file) if annotations is None else annotations
        if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
                or not isinstance(data.get("categories"), list):
            raise DatasetError(f"{self.ann_file}: not a COCO annotation file (needs 'images' "
                               f"and 'categories' lists)", hint=CHECK_HINT)
        try:
            self.coco = build_coco(data)
            categories = sorted(self.coco.cats)
            self.label_to_category: list[int] = [int(c) for c in categories]
            self.category_to_label: dict[int, int] = {c: i for i, c in
                                                      enumerate(self.label_to_category)}
            self.category_names: list[str] = [str(self.coco.cats[c].get("name", c))
                                              for c in categories]
            self.image_ids: list[int] = sorted(self.coco.imgs)
            self._records = self._build_records()
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DatasetError(f"{self.ann_file}: malformed annotations ({type(exc).__name__}: "
                               f"{exc})", hint=CHECK_HINT) from None

    @property
    def num_classes(self) -> int:
        return len(self.label_to_category)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation stream of ``epoch`` (used when ``seed`` is set)."""
        self.epoch = int(epoch)

    def _build_records(self) -> list[_ImageRecord]:
        """Per-image box arrays: one pass over the annotations, numpy for the rest. Boxes are
        clipped to their image; degenerate ones, crowd ones (with ``skip_crowd``) and those
        of unknown images or categories are left out."""
        images = [self.coco.imgs[image_id] for image_id in self.image_ids]
        position = {image_id: k for k, image_id in enumerate(self.image_ids)}
        sizes = np.array([(float(i["width"]), float(i["height"])) for i in images],
                         dtype=np.float64).reshape(-1, 2)
        anns = [a for a in self.coco.dataset["annotations"]
                if a["image_id"] in position and a["category_id"] in self.category_to_label
                and not (self.skip_crowd and a.get("iscrowd", 0))]
        owner = np.array([position[a["image_id"]] for a in anns], dtype=np.int64)
        xywh = np.array([a["bbox"][:4] for a in anns], dtype=np.float64).reshape(-1, 4)
        labels = np.array([self.category_to_label[a["category_id"]] for a in anns],
                          dtype=np.int64)
        crowd = np.array([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool)
        area = np.array([a["area"] for a in anns], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
            boxes = np.clip(boxes, 0.0, np.tile(sizes[owner], 2))
            keep = (np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > boxes[:, 0])
                    & (boxes[:, 3] > boxes[:, 1]))
        order = np.flatnonzero(keep)[np.argsort(owner[keep], kind="stable")]
        owner, boxes, labels = owner[order], boxes[order].astype(np.float32), labels[order]
        crowd, area = crowd[order], area[order].astype(np.float32)
        bounds = np.searchsorted(owner, np.arange(len(images) + 1))
        return [_ImageRecord(
            image_id=int(image_id), path=self.image_dir / str(info["file_name"]),
            width=int(info["width"]), height=int(info["height"]),
            boxes=boxes[lo:hi], labels=labels[lo:hi], iscrowd=crowd[lo:hi], area=area[lo:hi])
            for image_id, info, lo, hi in zip(self.image_ids, images, bounds[:-1], bounds[1:])]

    def __len__(self) -> int:
        return len(self._records)

    def load_image(self, index: int) -> Image.Image:
        """Decode image ``index`` as RGB; raises DatasetError naming the file."""
        record = self._records[index]
        try:
            with Image.open(record.path) as image:
                image = image.convert("RGB")
        except FileNotFoundError:
            raise DatasetError(f"{record.path}: image file not found", hint=CHECK_HINT) from None
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise DatasetError(f"{record.path}: cannot decode image: {exc}",
                               hint=CHECK_HINT) from None
        if image.size != (record.width, record.height):
            raise DatasetError(f"{record.path}: image is {image.size[0]}x{image.size[1]} but the "
                               f"annotations say {record.width}x{record.height}",
                               hint=CHECK_HINT)
        return image

    def _generator(self, index: int) -> torch.Generator | None:
        if self.seed is None:
            return None
        return torch.Generator().manual_seed(sample_seed(self.seed, self.epoch, index))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict]:
        record = self._records[index]
        image = self.load_image(index)
        target = {"boxes": record.boxes, "labels": record.labels, "iscrowd": record.iscrowd,
                  "area": record.area}
        if self.transform is not None:
            image, target = self.transform(image, target, generator=self._generator(index))
        else:
            target.update(scale=1.0, valid_size=(record.height, record.width), flipped=False)
        out = {key: value for key, value in target.items() if key not in ("boxes", "labels",
                                                                            "iscrowd", "area")}
        out.update(  # copies: a caller editing a target must not edit the dataset
            boxes=torch.tensor(target["boxes"], dtype=torch.float32).reshape(-1, 4),
            labels=torch.tensor(target["labels"], dtype=torch.int64),
            iscrowd=torch.tensor(target["iscrowd"], dtype=torch.bool),
            area=torch.tensor(target["area"], dtype=torch.float32),
            image_id=record.image_id, orig_size=(record.height, record.width),
            scale=float(target["scale"]), file_name=record.path.name)
        return to_normalized_tensor(image), out

    def __repr__(self) -> str:
        return (f"CocoDetection({str(self.ann_file)!r}, {str(self.image_dir)!r}, "
                f"images={len(self)}, classes={self.num_classes}, transform={self.transform!r})")
