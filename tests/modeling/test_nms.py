"""NMS: the vectorised block algorithm against the sequential greedy algorithm."""
from __future__ import annotations

import pytest
import torch

from nasfpn_cli.modeling.nms import batched_nms, nms


def reference_nms(boxes: list, scores: list, groups: list, threshold: float) -> list[int]:
    """Greedy NMS as usually written: best remaining box first, per group, plain python floats."""
    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0

    order = sorted(range(len(boxes)), key=lambda i: -scores[i])  # stable: ties keep index order
    kept: list[int] = []
    for i in order:
        if all(groups[j] != groups[i] or iou(boxes[j], boxes[i]) <= threshold for j in kept):
            kept.append(i)
    return kept


def random_boxes(count: int, seed: int, clusters: int = 8):
    """Boxes jittered around a few centres so that many overlap."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.rand(clusters, 2, generator=generator) * 200
    pick = torch.randint(0, clusters, (count,), generator=generator)
    xy = centres[pick] + torch.randn(count, 2, generator=generator) * 8
    wh = 10 + torch.rand(count, 2, generator=generator) * 40
    boxes = torch.cat([xy - wh / 2, xy + wh / 2], dim=1)
    scores = torch.rand(count, generator=generator)
    return boxes, scores


@pytest.mark.parametrize("count,block_size,threshold,seed",
                         [(50, 256, 0.5, 0), (700, 256, 0.5, 1), (700, 7, 0.3, 2), (300, 64, 0.7, 3)])
def test_nms_keeps_exactly_what_greedy_keeps(count, block_size, threshold, seed):
    boxes, scores = random_boxes(count, seed)
    keep = nms(boxes, scores, threshold, block_size=block_size)
    expected = reference_nms(boxes.tolist(), scores.tolist(), [0] * count, threshold)
    assert keep.tolist() == expected
    assert 0 < len(expected) < count


def test_batched_nms_keeps_exactly_what_per_class_greedy_keeps():
    for seed in range(4):
        boxes, scores = random_boxes(500, seed + 10)
        groups = torch.randint(0, 6, (500,), generator=torch.Generator().manual_seed(seed))
        keep = batched_nms(boxes, scores, groups, 0.5, block_size=128)
        expected = reference_nms(boxes.tolist(), scores.tolist(), groups.tolist(), 0.5)
        assert keep.tolist() == expected


def test_ties_empty_input_and_other_groups():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0]])
    scores = torch.tensor([0.5, 0.5, 0.9])
    assert nms(boxes, scores, 0.5).tolist() == [2]
    assert nms(boxes, torch.tensor([0.5, 0.5, 0.1]), 0.5).tolist() == [0]  # tie: lower index wins
    assert batched_nms(boxes, scores, torch.tensor([0, 1, 0]), 0.5).tolist() == [2, 1]
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).tolist() == []
    assert batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5).tolist() == []
