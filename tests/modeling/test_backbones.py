"""Backbones: torchvision-compatible state-dict keys and sizes, outputs, weight files with strict
key checks, frozen stages and frozen batch norm."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from nasfpn_cli.errors import ModelError
from nasfpn_cli.modeling.backbones import BACKBONES, build_backbone
from nasfpn_cli.modeling.layers import FrozenBatchNorm2d

# torchvision's parameter counts without the ImageNet classifier (fc / classifier.1)
TORCHVISION_PARAMS = {
    "resnet18": 11_689_512 - 513_000,
    "resnet34": 21_797_672 - 513_000,
    "resnet50": 25_557_032 - 2_049_000,
    "resnet101": 44_549_160 - 2_049_000,
    "mobilenetv2": 3_504_872 - 1_281_000,
}


@pytest.mark.parametrize("name", list(BACKBONES))
def test_outputs_channels_strides_and_parameter_counts(name):
    torch.manual_seed(0)
    backbone = build_backbone(name).eval()
    assert backbone.out_channels == BACKBONES[name].out_channels and backbone.strides == (8, 16, 32)
    with torch.no_grad():
        outputs = backbone(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outputs] == [
        (1, c, 64 // s, 96 // s) for c, s in zip(backbone.out_channels, backbone.strides)]
    params = sum(p.numel() for p in backbone.parameters())
    assert params == TORCHVISION_PARAMS.get(name, 4_905_792)  # resnet10: BasicBlock x (1, 1, 1, 1)


def test_resnet50_state_dict_keys_are_torchvision_s():
    keys = list(build_backbone("resnet50").state_dict())
    assert len(keys) == 318  # torchvision's 320 minus fc.weight and fc.bias
    assert keys[:6] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                        "bn1.running_var", "bn1.num_batches_tracked"]
    for key in ("layer1.0.downsample.0.weight", "layer1.0.downsample.1.running_var",
                "layer2.3.conv3.weight", "layer4.2.bn3.bias"):
        assert key in keys
    assert not any(key.startswith("fc.") for key in keys)


def test_mobilenetv2_state_dict_keys_are_torchvision_s():
    keys = list(build_backbone("mobilenetv2").state_dict())
    assert len(keys) == 312  # torchvision's 314 minus classifier.1.weight/bias
    for key in ("features.0.0.weight", "features.0.1.running_mean", "features.1.conv.0.0.weight",
                "features.1.conv.1.weight", "features.1.conv.2.bias", "features.2.conv.1.0.weight",
                "features.2.conv.3.running_var", "features.18.0.weight", "features.18.1.bias"):
        assert key in keys


@pytest.fixture
def resnet10_file(tmp_path):
    torch.manual_seed(1)
    state = build_backbone("resnet10").state_dict()
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 512), torch.zeros(1000)  # as published
    path = tmp_path / "resnet10.pth"
    torch.save(state, path)
    return path, state


def test_weights_load_from_a_saved_file(resnet10_file, tmp_path):
    path, state = resnet10_file
    backbone = build_backbone("resnet10", weights=path)
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, state[key]), key
    # a checkpoint-style wrapper with DataParallel prefixes loads too
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, wrapped)
    assert torch.equal(build_backbone("resnet10", weights=wrapped).conv1.weight, state["conv1.weight"])


def test_wrong_keys_are_listed(resnet10_file, tmp_path):
    _, state = resnet10_file
    del state["layer4.0.bn2.weight"]
    state["layer5.0.conv1.weight"] = torch.zeros(1)
    state["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(ModelError) as info:
        build_backbone("resnet10", weights=path)
    text = str(info.value)
    assert "do not fit resnet10" in text and str(path) in text
    assert "1 missing key(s): layer4.0.bn2.weight" in text
    assert "1 unexpected key(s): layer5.0.conv1.weight" in text
    assert "conv1.weight (64, 3, 3, 3) != (64, 3, 7, 7)" in text
    with pytest.raises(ModelError, match="fit resnet50"):
        build_backbone("resnet50", weights=resnet10_file[0])


def test_unreadable_weight_files(tmp_path):
    with pytest.raises(ModelError, match="no such file"):
        build_backbone("resnet10", weights=tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_text("not a checkpoint")
    with pytest.raises(ModelError, match="cannot read"):
        build_backbone("resnet10", weights=junk)
    listing = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], listing)
    with pytest.raises(ModelError, match="not a state dict"):
        build_backbone("resnet10", weights=listing)
    with pytest.raises(ModelError, match="unknown backbone 'vgg16'"):
        build_backbone("vgg16")


def test_frozen_stages_stay_frozen_in_train_mode():
    backbone = build_backbone("resnet10", frozen_stages=1).train()
    assert not backbone.conv1.weight.requires_grad and not backbone.layer1[0].conv1.weight.requires_grad
    assert backbone.layer2[0].conv1.weight.requires_grad
    assert not backbone.bn1.training and not backbone.layer1[0].bn1.training
    assert backbone.layer2[0].bn1.training
    with pytest.raises(ModelError, match="between -1 and 4"):
        build_backbone("resnet10", frozen_stages=5)
    mobile = build_backbone("mobilenetv2", frozen_stages=2).train()
    assert not mobile.features[6].conv[0][0].weight.requires_grad
    assert mobile.features[7].conv[0][0].weight.requires_grad and mobile.features[7].training


def test_frozen_bn_replaces_batch_norm_and_keeps_outputs(resnet10_file):
    path, _ = resnet10_file
    reference = build_backbone("resnet10", weights=path).eval()
    frozen = build_backbone("resnet10", weights=path, frozen_bn=True).train()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in frozen.modules())
    assert sum(isinstance(m, FrozenBatchNorm2d) for m in frozen.modules()) == 12
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(frozen(x), reference(x)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["resnet10", "mobilenetv2"])
def test_backbones_script(name):
    backbone = build_backbone(name).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(torch.jit.script(backbone)(x), backbone(x)):
            torch.testing.assert_close(a, b)
