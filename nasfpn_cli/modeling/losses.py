"""RetinaNet losses: sigmoid focal loss for classes, smooth-L1 / L1 / GIoU for boxes.

Both are summed over anchors and divided by the number of positive anchors in the batch
(at least 1), and always computed in float32, also under mixed-precision autocast.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ModelError
from .boxes import BoxCoder, paired_giou
from .matching import IGNORE, match_anchors

BOX_LOSSES = ("smooth_l1", "l1", "giou")


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, alpha: float = 0.25,
                       gamma: float = 1.5) -> Tensor:
    """Element-wise focal loss ``-alpha_t (1 - p_t)^gamma log(p_t)`` (Lin et al. 2017), fp32.

    ``targets`` are 0/1 (or soft) with the shape of ``logits``; ``alpha < 0`` disables the
    class weighting.
    """
    with torch.autocast(device_type=logits.device.type, enabled=False):
        logits, targets = logits.float(), targets.float()
        ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        prob = torch.sigmoid(logits)
        p_t = prob * targets + (1 - prob) * (1 - targets)
        loss = ce * (1 - p_t) ** gamma
        if alpha >= 0:
            loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
        return loss


@dataclass
class MatchedTargets:
    """Per-anchor training targets of a batch.

    ``labels[b, n]``: class index of a positive anchor, ``BACKGROUND`` or ``IGNORE``;
    ``boxes[b, n]``: its matched ground-truth box (meaningful for positives only).
    """

    labels: Tensor
    boxes: Tensor

    @property
    def positive(self) -> Tensor:
        return self.labels >= 0

    @property
    def num_positives(self) -> Tensor:
        return self.positive.sum()


def _ignored_mask(target: dict, count: int, device: torch.device) -> Tensor:
    """Boxes that must not become positives: ``iscrowd`` or ``ignore`` set."""
    mask = torch.zeros(count, dtype=torch.bool, device=device)
    for key in ("iscrowd", "ignore"):
        if target.get(key) is not None:
            mask |= torch.as_tensor(target[key], device=device).reshape(-1).bool()
    return mask


class RetinaNetLoss:
    """Matches anchors to targets and computes ``{"cls": focal, "box": regression}`` losses."""

    def __init__(self, num_classes: int, box_coder: BoxCoder | None = None, *,
                 focal_alpha: float = 0.25, focal_gamma: float = 1.5, box_loss: str = "smooth_l1",
                 smooth_l1_beta: float = 0.11, box_loss_weight: float = 1.0,
                 positive_iou: float = 0.5, negative_iou: float = 0.4,
                 allow_low_quality: bool = True):
        if box_loss not in BOX_LOSSES:
            raise ModelError(f"box loss {box_loss!r} is not one of {', '.join(BOX_LOSSES)}")
        if not 0 <= negative_iou <= positive_iou <= 1:
            raise ModelError(f"need 0 <= negative IoU ({negative_iou}) <= positive IoU "
                             f"({positive_iou}) <= 1")
        self.num_classes = num_classes
        self.box_coder = box_coder or BoxCoder()
        self.focal_alpha, self.focal_gamma = focal_alpha, focal_gamma
        self.box_loss, self.smooth_l1_beta, self.box_loss_weight = box_loss, smooth_l1_beta, box_loss_weight
        self.positive_iou, self.negative_iou = positive_iou, negative_iou
        self.allow_low_quality = allow_low_quality

    def _check_target(self, index: int, target: dict) -> tuple[Tensor, Tensor]:
        boxes, labels = target.get("boxes"), target.get("labels")
        if boxes is None or labels is None:
            raise ModelError(f"targets[{index}] needs 'boxes' and 'labels'")
        boxes, labels = torch.as_tensor(boxes), torch.as_tensor(labels)
        if boxes.dim() != 2 or boxes.shape[-1] != 4 or labels.shape != boxes.shape[:1]:
            raise ModelError(f"targets[{index}]: boxes must be [N, 4] and labels [N], got "
                             f"{list(boxes.shape)} and {list(labels.shape)}")
        if labels.numel() and not (0 <= int(labels.min()) and int(labels.max()) < self.num_classes):
            raise ModelError(f"targets[{index}]: labels must lie in 0..{self.num_classes - 1}, "
                             f"got {int(labels.min())}..{int(labels.max())}")
        return boxes, labels

    def match(self, anchors: Tensor, targets: Sequence[dict]) -> MatchedTargets:
        """Assign every anchor of every image (``anchors`` ``[N, 4]`` shared by the batch)."""
        all_labels, all_boxes = [], []
        for index, target in enumerate(targets):
            boxes, labels = self._check_target(index, target)
            boxes = boxes.to(device=anchors.device, dtype=anchors.dtype)
            labels = labels.to(device=anchors.device, dtype=torch.long)
            ignored = _ignored_mask(target, len(boxes), anchors.device)
            kept_boxes, kept_labels = boxes[~ignored], labels[~ignored]
            matches = match_anchors(anchors, kept_boxes, positive_iou=self.positive_iou,
                                    negative_iou=self.negative_iou,
                                    allow_low_quality=self.allow_low_quality,
                                    ignore_boxes=boxes[ignored])
            positive = matches >= 0
            index_or_zero = matches.clamp(min=0)
            if len(kept_boxes):
                anchor_labels = torch.where(positive, kept_labels[index_or_zero], matches)
                anchor_boxes = kept_boxes[index_or_zero]
            else:
                anchor_labels = matches
                anchor_boxes = torch.zeros_like(anchors)
            all_labels.append(anchor_labels)
            all_boxes.append(anchor_boxes)
        return MatchedTargets(torch.stack(all_labels), torch.stack(all_boxes))

    def __call__(self, cls_logits: Tensor, box_deltas: Tensor, anchors: Tensor,
                 matched: MatchedTargets) -> dict[str, Tensor]:
        """Losses for ``[B, N, K]`` logits and ``[B, N, 4]`` deltas against ``matched``."""
        with torch.autocast(device_type=cls_logits.device.type, enabled=False):
            normaliser = matched.num_positives.clamp(min=1).float()
            valid = matched.labels != IGNORE
            positive = matched.positive
            cls_targets = torch.zeros_like(cls_logits, dtype=torch.float32)
            cls_targets[positive, matched.labels[positive]] = 1.0
            focal = sigmoid_focal_loss(cls_logits[valid], cls_targets[valid],
                                       self.focal_alpha, self.focal_gamma)
            cls_loss = focal.sum() / normaliser
            box_loss = self._box_loss(box_deltas[positive].float(),
                                      anchors.expand(len(box_deltas), -1, -1)[positive].float(),
                                      matched.boxes[positive].float())
            return {"cls": cls_loss, "box": self.box_loss_weight * box_loss / normaliser}

    def _box_loss(self, deltas: Tensor, anchors: Tensor, gt_boxes: Tensor) -> Tensor:
        if self.box_loss == "giou":
            return (1 - paired_giou(self.box_coder.decode(deltas, anchors), gt_boxes)).sum()
        targets = self.box_coder.encode(gt_boxes, anchors)
        beta = self.smooth_l1_beta if self.box_loss == "smooth_l1" else 0.0
        return F.smooth_l1_loss(deltas, targets, beta=beta, reduction="sum")

