"""Decoding detections: score threshold, top-k per level, class-wise NMS, the detection cap."""
from __future__ import annotations

import math

import torch

from nasfpn_cli.modeling.postprocess import DetectionPostprocessor

LOW = -10.0  # sigmoid(-10) ~ 4.5e-5: below any threshold


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_zero_deltas_give_the_anchors_back_with_0_based_labels():
    anchors = [torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 40.0, 40.0], [5.0, 5.0, 9.0, 9.0]])]
    logits = torch.full((1, 3, 4), LOW)
    logits[0, 1, 3] = logit(0.9)
    logits[0, 0, 0] = logit(0.6)
    logits[0, 2, 2] = logit(0.04)  # under the 0.05 threshold
    [result] = DetectionPostprocessor()([logits], [torch.zeros(1, 3, 4)], anchors, [(64, 64)])
    assert result["labels"].tolist() == [3, 0]
    torch.testing.assert_close(result["scores"], torch.tensor([0.9, 0.6]))
    assert result["boxes"].tolist() == [[20.0, 20.0, 40.0, 40.0], [0.0, 0.0, 10.0, 10.0]]


def test_topk_per_level_nms_and_cap():
    # level 0: five disjoint anchors, one class; level 1: two identical anchors, two classes
    level0 = torch.tensor([[i * 20.0, 0.0, i * 20.0 + 10, 10.0] for i in range(5)])
    level1 = torch.tensor([[0.0, 30.0, 30.0, 60.0], [0.0, 30.0, 30.0, 60.0]])
    logits0 = torch.tensor([[[logit(p), LOW] for p in (0.5, 0.9, 0.3, 0.8, 0.7)]])
    logits1 = torch.tensor([[[logit(0.6), logit(0.55)], [logit(0.65), LOW]]])
    deltas = [torch.zeros(1, 5, 4), torch.zeros(1, 2, 4)]
    post = DetectionPostprocessor(topk_per_level=3)
    [result] = post([logits0, logits1], deltas, [level0, level1], [(100, 100)])
    # top 3 of level 0: 0.9, 0.8, 0.7; level 1: class 0 keeps 0.65 (same box at 0.6 suppressed),
    # class 1 is another class so its 0.55 stays
    torch.testing.assert_close(result["scores"], torch.tensor([0.9, 0.8, 0.7, 0.65, 0.55]))
    assert result["labels"].tolist() == [0, 0, 0, 0, 1]
    capped = DetectionPostprocessor(topk_per_level=3, detections_per_image=2)
    [result] = capped([logits0, logits1], deltas, [level0, level1], [(100, 100)])
    torch.testing.assert_close(result["scores"], torch.tensor([0.9, 0.8]))


def test_boxes_are_decoded_and_clipped_per_image():
    anchors = [torch.tensor([[0.0, 0.0, 10.0, 10.0]])]
    logits = torch.full((2, 1, 1), logit(0.5))
    deltas = torch.tensor([[[1.0, 0.0, 0.0, 0.0]], [[0.0, 0.0, math.log(4.0), 0.0]]])
    results = DetectionPostprocessor()([logits], [deltas], anchors, [(100, 100), (8, 12)])
    assert results[0]["boxes"].tolist() == [[10.0, 0.0, 20.0, 10.0]]  # moved one width right
    assert results[1]["boxes"].tolist() == [[0.0, 0.0, 12.0, 8.0]]    # 40 px wide, clipped
