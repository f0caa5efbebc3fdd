"""How well do a detector's anchors fit a dataset's boxes?

A ground-truth box no anchor overlaps with IoU >= 0.5 is only ever trained through the matcher's
low-quality fallback (its single best anchor), so a training set whose objects are smaller than
the smallest anchor learns slowly. :func:`anchor_coverage` lays the real anchors of a
``size`` x ``size`` training canvas (padded like the network pads it) and reports the fraction
of boxes, scaled as the evaluation transform scales them, whose best anchor reaches the
threshold: the check well-known detectors' data tools print before training.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .anchors import AnchorGenerator
from .boxes import box_iou

CHUNK = 4096  # boxes per IoU block, to bound memory on large sets


@dataclass(frozen=True)
class AnchorCoverage:
    """``covered`` of ``total`` boxes reach ``threshold``; ``median_best_iou`` over all boxes."""

    covered: int
    total: int
    threshold: float
    median_best_iou: float
    smallest_anchor: float

    @property
    def fraction(self) -> float:
        return self.covered / self.total if self.total else 1.0

    def summary(self) -> str:
        return (f"anchor coverage: {self.fraction:.1%} of {self.total} training boxes have an "
                f"anchor with IoU >= {self.threshold:g} (median best IoU "
                f"{self.median_best_iou:.2f}; smallest anchor {self.smallest_anchor:.0f} px)")


def anchor_coverage(boxes_xywh: Sequence[Sequence[float]], image_sizes: Sequence[tuple[int, int]],
                    generator: AnchorGenerator, size: int, *, size_divisor: int = 128,
                    threshold: float = 0.5) -> AnchorCoverage:
    """Coverage of ``boxes_xywh`` (COCO boxes, one per row) in images of ``image_sizes``
    (``(width, height)`` per box) once each image's longer side is resized to ``size``."""
    padded = -(-size // size_divisor) * size_divisor
    anchors = torch.cat(generator([(padded // s, padded // s) for s in generator.strides],
                                  dtype=torch.float32))
    smallest = generator.size_multiplier * generator.strides[0] * min(generator.scales)
    if not boxes_xywh:
        return AnchorCoverage(0, 0, threshold, 0.0, smallest)
    boxes = torch.tensor(boxes_xywh, dtype=torch.float32).reshape(-1, 4)
    longer = torch.tensor([max(w, h) for w, h in image_sizes], dtype=torch.float32)
    scale = (size / longer)[:, None]
    xyxy = torch.cat((boxes[:, :2], boxes[:, :2] + boxes[:, 2:]), dim=1) * scale
    best = torch.cat([box_iou(xyxy[start:start + CHUNK], anchors).max(dim=1).values
                      for start in range(0, len(xyxy), CHUNK)])
    return AnchorCoverage(int((best >= threshold).sum()), len(best), threshold,
                          float(best.median()), smallest)


def dataset_anchor_coverage(dataset, generator: AnchorGenerator, size: int,
                            threshold: float = 0.5) -> AnchorCoverage:
    """:func:`anchor_coverage` of a ``CocoDetection``'s non-crowd boxes."""
    coco = dataset.coco
    boxes, sizes = [], []
    for annotation in coco.dataset.get("annotations", []):
        if annotation.get("iscrowd", 0):
            continue
        image = coco.imgs[annotation["image_id"]]
        boxes.append(annotation["bbox"])
        sizes.append((image["width"], image["height"]))
    return anchor_coverage(boxes, sizes, generator, size, threshold=threshold)
