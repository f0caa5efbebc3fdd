"""Anchor assignment: thresholds, low-quality matches, crowd regions, and a loop reference."""
from __future__ import annotations

import torch

from nasfpn_cli.modeling.boxes import box_ioa, box_iou
from nasfpn_cli.modeling.matching import BACKGROUND, IGNORE, match_anchors


def reference_match(anchors, gt, positive=0.5, negative=0.4, low_quality=True, crowd=None):
    """Anchor by anchor, box by box, as the rule is written."""
    iou = box_iou(gt, anchors).tolist() if len(gt) else []
    result = []
    for n in range(len(anchors)):
        column = [row[n] for row in iou]
        best = max(column) if column else 0.0
        best_gt = column.index(best) if column else -1
        if column and best >= positive:
            result.append(best_gt)
        elif column and best >= negative:
            result.append(IGNORE)
        else:
            result.append(BACKGROUND)
    if low_quality:
        for row in iou:
            top = max(row)
            for n, value in enumerate(row):
                if top > 0 and value == top:
                    column = [r[n] for r in iou]
                    result[n] = column.index(max(column))
    if crowd is not None and len(crowd):
        ioa = box_ioa(anchors, crowd).tolist()
        for n in range(len(anchors)):
            if result[n] == BACKGROUND and max(ioa[n]) >= 0.5:
                result[n] = IGNORE
    return result


def test_thresholds_by_hand():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    anchors = torch.tensor([
        [0.0, 0.0, 10.0, 12.0],   # IoU 100/120 = 0.83 -> positive
        [0.0, 0.0, 10.0, 22.0],   # IoU 100/220 = 0.45 -> ignored
        [0.0, 0.0, 10.0, 40.0],   # IoU 0.25 -> negative
        [50.0, 50.0, 60.0, 60.0], # no overlap -> negative
    ])
    assert match_anchors(anchors, gt).tolist() == [0, IGNORE, BACKGROUND, BACKGROUND]


def test_each_box_keeps_its_best_anchor():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0], [100.0, 100.0, 110.0, 110.0]])
    anchors = torch.tensor([[0.0, 0.0, 10.0, 40.0], [0.0, 0.0, 10.0, 50.0], [100.0, 100.0, 110.0, 110.0]])
    assert match_anchors(anchors, gt).tolist() == [0, BACKGROUND, 1]
    assert match_anchors(anchors, gt, allow_low_quality=False).tolist() == [BACKGROUND, BACKGROUND, 1]


def test_no_boxes_means_all_background_and_crowd_regions_are_ignored():
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [2.0, 2.0, 6.0, 6.0], [40.0, 40.0, 50.0, 50.0]])
    assert match_anchors(anchors, torch.zeros(0, 4)).tolist() == [BACKGROUND] * 3
    crowd = torch.tensor([[0.0, 0.0, 8.0, 8.0]])
    # anchor 0 is 64% inside the crowd box, anchor 1 fully inside, anchor 2 outside
    assert match_anchors(anchors, torch.zeros(0, 4), ignore_boxes=crowd).tolist() == [IGNORE, IGNORE, BACKGROUND]


def test_vectorised_matching_equals_the_loop_reference():
    generator = torch.Generator().manual_seed(3)
    for trial in range(5):
        xy = torch.rand(300, 2, generator=generator) * 100
        anchors = torch.cat([xy, xy + 4 + torch.rand(300, 2, generator=generator) * 30], dim=1)
        # rounded coordinates make exact IoU ties between anchors likely
        anchors = anchors.round()
        gxy = torch.rand(4, 2, generator=generator) * 100
        gt = torch.cat([gxy, gxy + 4 + torch.rand(4, 2, generator=generator) * 30], dim=1).round()
        crowd = gt[:1] + 5 if trial % 2 else None
        got = match_anchors(anchors, gt, ignore_boxes=crowd).tolist()
        assert got == reference_match(anchors, gt, crowd=crowd)
        assert sum(1 for m in got if m >= 0) >= 4  # every box has an anchor
