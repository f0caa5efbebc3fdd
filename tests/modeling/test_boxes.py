"""Box geometry and the box coder, with hand-computed numbers."""
from __future__ import annotations

import math

import torch

from nasfpn_cli.modeling.boxes import BoxCoder, box_ioa, box_iou, clip_boxes, paired_giou


def test_iou_and_ioa_known_values():
    a = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 0.0, 5.0]])
    b = torch.tensor([[5.0, 5.0, 15.0, 15.0], [0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    iou = box_iou(a, b)
    torch.testing.assert_close(iou[0], torch.tensor([25 / 175, 1.0, 0.0]))
    assert iou[1].tolist() == [0.0, 0.0, 0.0]  # degenerate box: no NaN
    small = torch.tensor([[2.0, 2.0, 4.0, 4.0]])
    assert box_ioa(small, b[1:2]).item() == 1.0  # fully inside
    assert box_ioa(a[:1], b[:1]).item() == 0.25


def test_giou_of_disjoint_and_equal_boxes():
    a = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[2.0, 0.0, 3.0, 1.0], [0.0, 0.0, 2.0, 2.0]])
    torch.testing.assert_close(paired_giou(a, b), torch.tensor([-1 / 3, 1.0]))


def test_coder_known_deltas_and_round_trip():
    coder = BoxCoder()
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    boxes = torch.tensor([[5.0, 0.0, 15.0, 20.0]])
    deltas = coder.encode(boxes, anchors)
    torch.testing.assert_close(deltas, torch.tensor([[0.5, 0.5, 0.0, math.log(2)]]))
    torch.testing.assert_close(coder.decode(deltas, anchors), boxes)
    generator = torch.Generator().manual_seed(0)
    anchors = torch.rand(50, 2, generator=generator) * 100
    anchors = torch.cat([anchors, anchors + 1 + torch.rand(50, 2, generator=generator) * 50], dim=1)
    boxes = anchors + torch.randn(50, 4, generator=generator)
    weighted = BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
    torch.testing.assert_close(weighted.decode(weighted.encode(boxes, anchors), anchors), boxes,
                               atol=1e-4, rtol=1e-5)


def test_decode_clamps_the_log_scale():
    coder = BoxCoder()
    box = coder.decode(torch.tensor([[0.0, 0.0, 50.0, 50.0]]), torch.tensor([[0.0, 0.0, 16.0, 16.0]]))
    torch.testing.assert_close(box[0, 2] - box[0, 0], torch.tensor(1000.0))
    assert torch.isfinite(box).all()


def test_clip_boxes():
    boxes = torch.tensor([[-5.0, 3.0, 140.0, 70.0]])
    assert clip_boxes(boxes, height=64, width=128).tolist() == [[0.0, 3.0, 128.0, 64.0]]
