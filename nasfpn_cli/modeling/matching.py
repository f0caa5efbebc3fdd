"""Anchor assignment: which ground-truth box (if any) each anchor learns to predict.

The result of :func:`match_anchors` is one integer per anchor: a ground-truth index (positive),
:data:`BACKGROUND` (negative) or :data:`IGNORE` (no loss at all).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .boxes import box_ioa, box_iou

BACKGROUND = -1
IGNORE = -2


def match_anchors(anchors: Tensor, gt_boxes: Tensor, *, positive_iou: float = 0.5,
                  negative_iou: float = 0.4, allow_low_quality: bool = True,
                  ignore_boxes: Tensor | None = None, ignore_ioa: float = 0.5) -> Tensor:
    """Assign ``[N, 4]`` anchors to ``[G, 4]`` ground-truth boxes, all at once.

    IoU >= ``positive_iou``: the best-overlapping box; IoU < ``negative_iou``: background;
    in between: ignored. With ``allow_low_quality`` every box's best anchors (all ties, if its
    best IoU is above 0) stay positive, matched to the box they overlap most, so no object goes
    without an anchor. Background anchors lying at least ``ignore_ioa`` inside one of
    ``ignore_boxes`` (crowd regions) are ignored instead.
    """
    num_anchors = anchors.shape[0]
    matches = torch.full((num_anchors,), BACKGROUND, dtype=torch.long, device=anchors.device)
    if gt_boxes.numel():
        iou = box_iou(gt_boxes.to(anchors.dtype), anchors)  # [G, N]
        best_iou, best_gt = iou.max(dim=0)
        matches = torch.where(best_iou >= positive_iou, best_gt, matches)
        matches = torch.where((best_iou >= negative_iou) & (best_iou < positive_iou),
                              torch.full_like(matches, IGNORE), matches)
        if allow_low_quality:
            best_per_gt = iou.max(dim=1, keepdim=True).values
            is_best = ((iou == best_per_gt) & (best_per_gt > 0)).any(dim=0)
            matches = torch.where(is_best, best_gt, matches)
    if ignore_boxes is not None and ignore_boxes.numel():
        inside = box_ioa(anchors, ignore_boxes.to(anchors.dtype)).max(dim=1).values >= ignore_ioa
        matches = torch.where(inside & (matches == BACKGROUND), torch.full_like(matches, IGNORE),
                              matches)
    return matches
