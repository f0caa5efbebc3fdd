"""The raw network: parts and attributes, padding of odd sizes, exits and deep supervision,
TorchScript and trace, option plumbing."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nasfpn_cli.errors import ModelError
from nasfpn_cli.modeling import build_network
from nasfpn_cli.modeling.backbones import build_backbone
from nasfpn_cli.modeling.dropblock import DropBlock2d
from nasfpn_cli.modeling.layers import FrozenBatchNorm2d, SeparableConv2d
from nasfpn_cli.modeling.network import RetinaNetNetwork

SMALL = dict(num_classes=3, backbone="resnet10", channels=32, stack=2)


@pytest.fixture(scope="module")
def network() -> RetinaNetNetwork:
    torch.manual_seed(0)
    return build_network("nasfpn", **SMALL).eval()


def test_parts_and_attributes(network):
    assert network.num_anchors == 9 and network.num_classes == 3
    assert network.strides == (8, 16, 32, 64, 128) and network.size_divisor == 128
    assert network.backbone.out_channels == (128, 256, 512)
    assert network.neck.num_stacks == 2 and not hasattr(network, "heads")
    assert network.head.cls_score.out_channels == 27


def test_forward_shapes_and_padding_of_odd_sizes(network):
    images = torch.randn(1, 3, 100, 200)
    with torch.no_grad():
        cls_logits, box_deltas = network(images)
        padded = network(F.pad(images, [0, 56, 0, 28]))  # to 128 x 256 by hand
    assert [tuple(t.shape) for t in cls_logits] == [(1, 27, 16 // s, 32 // s) for s in (1, 2, 4, 8, 16)]
    assert [tuple(t.shape[1:]) for t in box_deltas] == [(36, 16 // s, 32 // s) for s in (1, 2, 4, 8, 16)]
    for a, b in zip(cls_logits + box_deltas, padded[0] + padded[1]):
        assert torch.equal(a, b)


def test_bad_images_are_model_errors(network):
    with pytest.raises(ModelError, match=r"B x 3 x H x W .*\(1, 1, 128, 128\)"):
        network(torch.zeros(1, 1, 128, 128))


def test_exit_at_stops_early_and_matches_forward_exits():
    torch.manual_seed(0)
    network = build_network("nasfpn", **SMALL, deep_supervision=True).eval()
    assert len(network.heads) == 2 and not hasattr(network, "head")
    images = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        exits = network.forward_exits(images)
        last = network(images)
        network.set_exit(1)
        first = network(images)
    assert len(exits) == 2 and network.exit_at == 1
    for got, want in ((first, exits[0]), (last, exits[1])):
        for a, b in zip(got[0] + got[1], want[0] + want[1]):
            torch.testing.assert_close(a, b)
    with pytest.raises(ModelError, match="between 1 and 2"):
        network.set_exit(3)
    with pytest.raises(ModelError, match="between 1 and 2"):
        build_network("nasfpn", **SMALL, exit_at=0)


def test_script_and_trace(network):
    images = torch.randn(1, 3, 130, 128)  # scripted padding is dynamic
    with torch.no_grad():
        eager = network(images)
        scripted = torch.jit.script(network)
        traced = torch.jit.trace(network, images, strict=False, check_trace=False)
        for outputs in (scripted(images), traced(images)):
            for a, b in zip(outputs[0] + outputs[1], eager[0] + eager[1]):
                torch.testing.assert_close(a, b)
        assert len(scripted.forward_exits(images)) == 2


def test_options_reach_the_parts(tmp_path):
    weights = tmp_path / "r10.pth"
    torch.save(build_backbone("resnet10").state_dict(), weights)
    network = build_network("bifpn", **{**SMALL, "stack": 1}, head_norm="bn", neck_norm="gn",
                            separable=True, dropblock={"block_size": 3, "keep_prob": 0.9},
                            backbone_weights=weights, frozen_stages=1, frozen_bn=True)
    modules = list(network.modules())
    assert any(isinstance(m, SeparableConv2d) for m in modules)
    assert sum(isinstance(m, DropBlock2d) for m in modules) == 8  # one per bifpn cell
    assert isinstance(network.neck.stacks[0].cells[0].norm, torch.nn.GroupNorm)
    assert isinstance(network.head.cls_subnet[0].norm, torch.nn.BatchNorm2d)
    assert isinstance(network.backbone.bn1, FrozenBatchNorm2d)
    assert not network.backbone.layer1[0].conv1.weight.requires_grad
    network.train()(torch.randn(2, 3, 128, 128))[0][0].sum().backward()
    assert build_network("fpn", **SMALL, neck_norm="syncbn").neck.inputs.laterals[0].norm.__class__ \
        is torch.nn.SyncBatchNorm
