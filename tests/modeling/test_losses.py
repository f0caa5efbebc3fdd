"""Focal and box losses against a loop-by-loop reference, pinned values, fp32 under autocast."""
from __future__ import annotations

import math

import pytest
import torch

from nasfpn_cli.errors import ModelError
from nasfpn_cli.modeling.boxes import BoxCoder
from nasfpn_cli.modeling.losses import RetinaNetLoss, sigmoid_focal_loss
from nasfpn_cli.modeling.matching import IGNORE, match_anchors


def reference_losses(cls_logits, box_deltas, anchors, targets, alpha=0.25, gamma=1.5, beta=0.11):
    """Sum over anchors and classes written out with python floats; the anchor assignment is
    taken from ``match_anchors`` (tested on its own)."""
    cls_total = box_total = 0.0
    positives = 0
    for image, target in enumerate(targets):
        crowd = target.get("iscrowd", torch.zeros(len(target["boxes"]))).bool()
        boxes, labels = target["boxes"][~crowd], target["labels"][~crowd]
        matches = match_anchors(anchors, boxes, ignore_boxes=target["boxes"][crowd]).tolist()
        for n, match in enumerate(matches):
            if match == IGNORE:
                continue
            for k in range(cls_logits.shape[-1]):
                p = 1 / (1 + math.exp(-float(cls_logits[image, n, k])))
                if match >= 0 and int(labels[match]) == k:
                    cls_total += -alpha * (1 - p) ** gamma * math.log(p)
                else:
                    cls_total += -(1 - alpha) * p ** gamma * math.log(1 - p)
            if match < 0:
                continue
            positives += 1
            ax1, ay1, ax2, ay2 = anchors[n].tolist()
            gx1, gy1, gx2, gy2 = boxes[match].tolist()
            aw, ah, gw, gh = ax2 - ax1, ay2 - ay1, gx2 - gx1, gy2 - gy1
            target_deltas = [((gx1 + gx2) - (ax1 + ax2)) / 2 / aw, ((gy1 + gy2) - (ay1 + ay2)) / 2 / ah,
                             math.log(gw / aw), math.log(gh / ah)]
            for predicted, wanted in zip(box_deltas[image, n].tolist(), target_deltas):
                error = abs(predicted - wanted)
                box_total += 0.5 * error * error / beta if error < beta else error - 0.5 * beta
    normaliser = max(positives, 1)
    return cls_total / normaliser, box_total / normaliser, positives


def random_problem(seed: int, num_anchors: int = 80, num_classes: int = 3):
    generator = torch.Generator().manual_seed(seed)
    xy = torch.rand(num_anchors, 2, generator=generator) * 60
    anchors = torch.cat([xy, xy + 8 + torch.rand(num_anchors, 2, generator=generator) * 24], dim=1)
    targets = []
    for count in (3, 0, 2):
        gxy = torch.rand(count, 2, generator=generator) * 60
        boxes = torch.cat([gxy, gxy + 8 + torch.rand(count, 2, generator=generator) * 24], dim=1)
        labels = torch.randint(0, num_classes, (count,), generator=generator)
        targets.append({"boxes": boxes, "labels": labels})
    targets[2]["iscrowd"] = torch.tensor([0, 1])
    cls_logits = torch.randn(3, num_anchors, num_classes, generator=generator) * 2
    box_deltas = torch.randn(3, num_anchors, 4, generator=generator) * 0.2
    return cls_logits, box_deltas, anchors, targets


def test_focal_loss_pinned_values():
    value = sigmoid_focal_loss(torch.tensor([0.0]), torch.tensor([1.0]))
    assert math.isclose(float(value), 0.25 * 0.5 ** 1.5 * math.log(2), rel_tol=1e-6)  # 0.061266...
    negative = sigmoid_focal_loss(torch.tensor([2.0]), torch.tensor([0.0]), alpha=0.25, gamma=2.0)
    p = 1 / (1 + math.exp(-2.0))
    assert math.isclose(float(negative), 0.75 * p ** 2 * -math.log(1 - p), rel_tol=1e-6)
    # gamma 0 and no alpha: plain binary cross-entropy
    plain = sigmoid_focal_loss(torch.tensor([0.3]), torch.tensor([1.0]), alpha=-1, gamma=0.0)
    assert math.isclose(float(plain), math.log(1 + math.exp(-0.3)), rel_tol=1e-6)


def test_focal_loss_is_fp32_under_autocast():
    logits = torch.randn(64, 5).to(torch.bfloat16)
    targets = (torch.rand(64, 5) > 0.8).float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = sigmoid_focal_loss(logits, targets)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, sigmoid_focal_loss(logits.float(), targets))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_retinanet_loss_equals_the_reference(seed):
    cls_logits, box_deltas, anchors, targets = random_problem(seed)
    criterion = RetinaNetLoss(num_classes=3)
    matched = criterion.match(anchors, targets)
    losses = criterion(cls_logits, box_deltas, anchors, matched)
    expected_cls, expected_box, positives = reference_losses(cls_logits, box_deltas, anchors, targets)
    assert int(matched.num_positives) == positives > 0
    assert math.isclose(float(losses["cls"]), expected_cls, rel_tol=1e-5)
    assert math.isclose(float(losses["box"]), expected_box, rel_tol=1e-5)


def test_images_without_boxes_are_all_negative():
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 20.0, 20.0]])
    criterion = RetinaNetLoss(num_classes=2)
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}
    matched = criterion.match(anchors, [empty])
    logits = torch.zeros(1, 2, 2)
    losses = criterion(logits, torch.zeros(1, 2, 4), anchors, matched)
    # 4 negatives at p = 0.5, normalised by max(0 positives, 1)
    assert math.isclose(float(losses["cls"]), 4 * 0.75 * 0.5 ** 1.5 * math.log(2), rel_tol=1e-6)
    assert float(losses["box"]) == 0.0


def test_crowd_boxes_make_no_positives_and_mute_anchors_inside():
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [40.0, 40.0, 50.0, 50.0]])
    criterion = RetinaNetLoss(num_classes=2)
    target = {"boxes": torch.tensor([[0.0, 0.0, 10.0, 10.0]]), "labels": torch.tensor([1]),
              "iscrowd": torch.tensor([1])}
    matched = criterion.match(anchors, [target])
    assert matched.labels.tolist() == [[IGNORE, -1]]
    same_via_ignore = criterion.match(anchors, [{**target, "iscrowd": None, "ignore": [True]}])
    assert same_via_ignore.labels.tolist() == [[IGNORE, -1]]


def test_l1_and_giou_box_losses():
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    target = {"boxes": torch.tensor([[0.0, 0.0, 10.0, 10.0]]), "labels": torch.tensor([0])}
    deltas = torch.tensor([[[0.1, 0.0, 0.0, 0.0]]])  # shifts the box right by 1 px
    for kind, expected in (("l1", 0.1), ("smooth_l1", 0.5 * 0.01 / 0.11), ("giou", 1 - (90 / 110 - 0))):
        criterion = RetinaNetLoss(num_classes=1, box_loss=kind)
        losses = criterion(torch.zeros(1, 1, 1), deltas, anchors, criterion.match(anchors, [target]))
        assert math.isclose(float(losses["box"]), expected, rel_tol=1e-5), kind


def test_box_coder_weights_reach_the_loss():
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    target = {"boxes": torch.tensor([[1.0, 0.0, 11.0, 10.0]]), "labels": torch.tensor([0])}
    criterion = RetinaNetLoss(num_classes=1, box_coder=BoxCoder((10.0, 10.0, 5.0, 5.0)), box_loss="l1")
    losses = criterion(torch.zeros(1, 1, 1), torch.zeros(1, 1, 4), anchors, criterion.match(anchors, [target]))
    assert math.isclose(float(losses["box"]), 1.0, rel_tol=1e-6)  # dx = 10 * 1/10


def test_bad_targets_and_options_are_reported():
    criterion = RetinaNetLoss(num_classes=3)
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    with pytest.raises(ModelError, match=r"targets\[0\]: labels must lie in 0..2, got 0..3"):
        criterion.match(anchors, [{"boxes": torch.ones(2, 4), "labels": torch.tensor([0, 3])}])
    with pytest.raises(ModelError, match=r"targets\[0\]: boxes must be \[N, 4\]"):
        criterion.match(anchors, [{"boxes": torch.ones(2, 5), "labels": torch.tensor([0, 1])}])
    with pytest.raises(ModelError, match="needs 'boxes' and 'labels'"):
        criterion.match(anchors, [{"boxes": torch.ones(2, 4)}])
    with pytest.raises(ModelError, match="box loss 'iou'"):
        RetinaNetLoss(num_classes=3, box_loss="iou")
