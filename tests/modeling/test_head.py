"""The shared RetinaNet head: output shapes, focal-loss initialisation, norms, parameter count."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nasfpn_cli.errors import ModelError
from nasfpn_cli.modeling.head import RetinaHead


def pyramid(channels: int = 32, batch: int = 2) -> list[torch.Tensor]:
    return [torch.randn(batch, channels, s, s) for s in (16, 8, 4, 2, 1)]


def test_outputs_per_level():
    head = RetinaHead(32, num_classes=5).eval()
    cls_logits, box_deltas = head(pyramid())
    assert [tuple(t.shape) for t in cls_logits] == [(2, 45, s, s) for s in (16, 8, 4, 2, 1)]
    assert [tuple(t.shape) for t in box_deltas] == [(2, 36, s, s) for s in (16, 8, 4, 2, 1)]


def test_prior_probability_initialisation():
    torch.manual_seed(0)
    head = RetinaHead(64, num_classes=3, prior_prob=0.01)
    bias = head.cls_score.bias
    assert torch.allclose(bias, torch.full_like(bias, -math.log(99.0)))
    assert torch.sigmoid(bias[0]).item() == pytest.approx(0.01)
    assert head.cls_score.weight.std().item() == pytest.approx(0.01, rel=0.1)
    assert torch.count_nonzero(head.box_pred.bias) == 0
    with torch.no_grad():
        scores = torch.sigmoid(head.eval()(pyramid(64))[0][0])
    assert scores.mean().item() == pytest.approx(0.01, rel=0.05)


@pytest.mark.parametrize("norm, norm_type, conv_bias", [
    ("gn", nn.GroupNorm, False), ("bn", nn.BatchNorm2d, False), ("none", nn.Identity, True)])
def test_norm_choices(norm, norm_type, conv_bias):
    head = RetinaHead(32, num_classes=2, num_convs=2, norm=norm)
    assert len(head.cls_subnet) == 2 and len(head.box_subnet) == 2
    block = head.cls_subnet[0]
    assert isinstance(block.norm, norm_type) and (block.conv.bias is not None) == conv_bias


def test_parameter_count_of_the_coco_head():
    head = RetinaHead(256, num_classes=80)
    towers = 2 * 4 * (9 * 256 * 256 + 2 * 256)  # conv (no bias) + GroupNorm affine
    predictors = (9 * 256 * 720 + 720) + (9 * 256 * 36 + 36)
    assert sum(p.numel() for p in head.parameters()) == towers + predictors == 6_465_268


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_classes=0), "num_classes"), (dict(num_classes=3, prior_prob=1.0), "prior_prob"),
    (dict(num_classes=3, num_anchors=0), "num_anchors"), (dict(num_classes=3, norm="xn"), "unknown norm")])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ModelError, match=message):
        RetinaHead(32, **kwargs)
