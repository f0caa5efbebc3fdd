"""From raw head outputs to detections: score threshold, top-k per level, decoding, NMS."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .boxes import BoxCoder, clip_boxes
from .nms import batched_nms


class DetectionPostprocessor:
    """Turns per-level class logits and box deltas into at most ``detections_per_image`` boxes.

    Per image and level: sigmoid scores above ``score_threshold``, the ``topk_per_level`` best
    (anchor, class) pairs, decoded and clipped to the image; then class-wise NMS over all levels.
    Labels are 0-based class indices.
    """

    def __init__(self, box_coder: BoxCoder | None = None, *, score_threshold: float = 0.05,
                 topk_per_level: int = 1000, nms_threshold: float = 0.5,
                 detections_per_image: int = 100):
        self.box_coder = box_coder or BoxCoder()
        self.score_threshold = score_threshold
        self.topk_per_level = topk_per_level
        self.nms_threshold = nms_threshold
        self.detections_per_image = detections_per_image

    def _level_candidates(self, logits: Tensor, deltas: Tensor,
                          anchors: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Boxes, scores, labels of one image and level (``[N, K]`` logits, ``[N, 4]`` deltas)."""
        num_classes = logits.shape[-1]
        scores = torch.sigmoid(logits.float()).flatten()
        candidates = torch.nonzero(scores > self.score_threshold).squeeze(1)
        scores = scores[candidates]
        if len(scores) > self.topk_per_level:
            scores, best = scores.topk(self.topk_per_level)
            candidates = candidates[best]
        anchor_index, labels = candidates // num_classes, candidates % num_classes
        boxes = self.box_coder.decode(deltas[anchor_index].float(), anchors[anchor_index])
        return boxes, scores, labels

    def __call__(self, cls_logits: Sequence[Tensor], box_deltas: Sequence[Tensor],
                 anchors: Sequence[Tensor],
                 image_sizes: Sequence[tuple[int, int]]) -> list[dict[str, Tensor]]:
        """Detections per image from per-level ``[B, N_l, K]`` logits and ``[B, N_l, 4]`` deltas
        (anchor order of :mod:`.anchors`), clipped to each image's ``(height, width)``."""
        results = []
        for image, (height, width) in enumerate(image_sizes):
            parts = [self._level_candidates(logits[image], deltas[image], level_anchors)
                     for logits, deltas, level_anchors in zip(cls_logits, box_deltas, anchors)]
            boxes = clip_boxes(torch.cat([p[0] for p in parts]), height, width)
            scores = torch.cat([p[1] for p in parts])
            labels = torch.cat([p[2] for p in parts])
            keep = batched_nms(boxes, scores, labels, self.nms_threshold)
            keep = keep[: self.detections_per_image]
            results.append({"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]})
        return results
