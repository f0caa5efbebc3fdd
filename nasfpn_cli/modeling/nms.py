"""Greedy non-maximum suppression in plain torch, vectorised in blocks of boxes.

Boxes are ordered by group (class), then by decreasing score, and cut into blocks. Within a
block the greedy result is the fixed point of
``keep = alive & ~any(keep[j] and overlaps(j, i) for earlier j of the same group)``, reached by a
few matrix iterations (box ``i`` is final once every box before it is, so at most block-size
rounds, usually 2-4). The block's kept boxes then suppress, in one matrix step, the later boxes
of the one group that continues past the block. Groups are kept apart by this ordering and a
same-group mask rather than by offsetting coordinates per class, so no float precision is lost
and no pair of boxes from different groups is ever compared outside a block. The result equals
the sequential greedy algorithm exactly.
"""
from __future__ import annotations

import torch
from torch import Tensor

BLOCK_SIZE = 256


def _suppresses(a: Tensor, b: Tensor, iou_threshold: float) -> Tensor:
    """``[len(a), len(b)]``: IoU(a_i, b_j) > threshold, written as
    ``inter * (1 + t) > t * (area_a + area_b)`` to skip the division (contiguous coordinate
    columns and in-place steps keep it memory-light)."""
    ax1, ay1, ax2, ay2 = (column.contiguous()[:, None] for column in a.unbind(1))
    bx1, by1, bx2, by2 = (column.contiguous()[None, :] for column in b.unbind(1))
    inter = torch.minimum(ax2, bx2).sub_(torch.maximum(ax1, bx1)).clamp_(min=0)
    inter.mul_(torch.minimum(ay2, by2).sub_(torch.maximum(ay1, by1)).clamp_(min=0))
    area_a = (ax2 - ax1).clamp_(min=0) * (ay2 - ay1).clamp_(min=0)
    area_b = (bx2 - bx1).clamp_(min=0) * (by2 - by1).clamp_(min=0)
    return inter.mul_(1 + iou_threshold) > (area_a + area_b).mul_(iou_threshold)


def _greedy_keep(boxes: Tensor, groups: Tensor, iou_threshold: float, block_size: int) -> Tensor:
    """Keep mask for boxes ordered by group, then by decreasing score within each group."""
    count = boxes.shape[0]
    keep = torch.ones(count, dtype=torch.bool, device=boxes.device)
    _, group_sizes = torch.unique_consecutive(groups, return_counts=True)
    group_ends = torch.repeat_interleave(group_sizes.cumsum(0), group_sizes).tolist()
    for start in range(0, count, block_size):
        end = min(start + block_size, count)
        block, block_groups, alive = boxes[start:end], groups[start:end], keep[start:end]
        if not bool(alive.any()):
            continue
        # overlaps[j, i]: box j precedes box i in the block, same group, IoU above the threshold
        overlaps = (_suppresses(block, block, iou_threshold)
                    & (block_groups[:, None] == block_groups[None, :])).triu_(diagonal=1)
        block_keep = alive.clone()
        while True:
            updated = alive & ~(overlaps & block_keep[:, None]).any(dim=0)
            if torch.equal(updated, block_keep):
                break
            block_keep = updated
        keep[start:end] = block_keep
        stop = group_ends[end - 1]  # the last block group may continue after the block
        if stop > end:
            suppressors = block[block_keep & (block_groups == block_groups[-1])]
            if len(suppressors):
                keep[end:stop] &= ~_suppresses(suppressors, boxes[end:stop], iou_threshold).any(dim=0)
    return keep


def batched_nms(boxes: Tensor, scores: Tensor, groups: Tensor, iou_threshold: float,
                block_size: int = BLOCK_SIZE) -> Tensor:
    """Greedy NMS within each group (e.g. class) only; returns the kept indices by decreasing
    score (ties: lower index first).

    A box is suppressed by a kept, higher-ranked box of its group whose IoU with it exceeds
    ``iou_threshold``.
    """
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    by_score = torch.sort(scores, descending=True, stable=True).indices
    order = by_score[torch.sort(groups[by_score], stable=True).indices]
    keep = _greedy_keep(boxes[order], groups[order], iou_threshold, block_size)
    kept = order[keep].sort().values  # back to index order, then a stable sort by score
    return kept[torch.sort(scores[kept], descending=True, stable=True).indices]


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float, block_size: int = BLOCK_SIZE) -> Tensor:
    """Greedy NMS over all boxes (one group); see :func:`batched_nms`."""
    groups = torch.zeros(boxes.shape[0], dtype=torch.long, device=boxes.device)
    return batched_nms(boxes, scores, groups, iou_threshold, block_size)
