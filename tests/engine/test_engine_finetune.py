"""``--recipe finetune`` and the settings it relies on: ImageNet weights by name, frozen stages
and frozen batch norm reaching the built backbone and the checkpoint's spec, and the advice
``nasfpn train`` gives once for a large backbone from scratch on a small dataset."""
from __future__ import annotations

import hashlib

import pytest
import torch

from engine_helpers import TINY_CONFIG

from nasfpn_cli.engine.advice import (LARGE_BACKBONE_PARAMS, from_scratch_warning,
                                      warmup_warning)
from nasfpn_cli.engine.config import TrainConfig
from nasfpn_cli.errors import ModelError, UsageError
from nasfpn_cli.modeling.backbones import build_backbone
from nasfpn_cli.modeling.layers import FrozenBatchNorm2d
from nasfpn_cli.modeling.pretrained import PUBLISHED, PublishedWeights


def test_finetune_recipe_values_are_detectron2_s_1x():
    config = TrainConfig.from_recipe("finetune")
    assert config.recipe == "finetune"
    assert (config.backbone_weights, config.model.frozen_stages, config.model.frozen_bn) == (
        "imagenet", 1, True)
    assert (config.optimizer, config.momentum, config.lr, config.weight_decay,
            config.batch_size) == ("sgd", 0.9, 0.01, 1e-4, 16)
    assert (config.warmup, config.warmup_factor) == (1000, 0.001)
    assert (config.epochs, config.schedule, config.milestones, config.gamma) == (
        12, "step", (8, 11), 0.1)
    # the backbone stays the user's choice (ResNet-18 by default), with published weights
    assert config.model.backbone == TrainConfig().model.backbone


def test_frozen_settings_reach_the_backbone_and_the_stored_spec():
    from nasfpn_cli.modeling.network import build_network
    from nasfpn_cli.modeling.spec import ModelSpec

    config = TrainConfig.from_recipe("finetune", **{**TINY_CONFIG, "backbone_weights": None})
    spec = config.model_spec("fpn", 2)
    assert (spec.frozen_stages, spec.frozen_bn) == (1, True)
    backbone = build_network(spec).backbone.train()
    for module in (backbone.conv1, backbone.layer1):
        assert not any(p.requires_grad for p in module.parameters())
    assert all(p.requires_grad for p in backbone.layer2.parameters())
    norms = [m for m in backbone.modules() if "Norm" in type(m).__name__]
    assert norms and all(isinstance(m, FrozenBatchNorm2d) for m in norms)
    # a checkpoint stores the spec: eval and resume rebuild the same module types
    again = ModelSpec.from_dict(spec.to_dict())
    assert (again.frozen_stages, again.frozen_bn) == (1, True)


@pytest.mark.parametrize("option, value", [("frozen_stages", 5), ("frozen_stages", -2)])
def test_frozen_stages_out_of_range_is_a_usage_error(option, value):
    with pytest.raises(UsageError, match="--frozen-stages"):
        TrainConfig.from_recipe(None, **{option: value})


def test_weights_names_and_urls_pass_validation_and_resnet10_has_none():
    assert TrainConfig.from_recipe(None, backbone_weights="imagenet-v2",
                                   backbone="resnet50").backbone_weights == "imagenet-v2"
    assert TrainConfig.from_recipe(None, backbone_weights="https://example.invalid/w.pth")
    with pytest.raises(ModelError, match="no published weights for resnet10"):
        TrainConfig.from_recipe("finetune", backbone="resnet10")


def test_cli_imagenet_for_resnet10_exits_1_before_training(cli, tmp_path):
    result = cli("train", "fpn", "--backbone", "resnet10", "--backbone-weights", "imagenet",
                 "--data", str(tmp_path / "missing"), "-o", str(tmp_path / "run"))
    assert result.returncode == 1, result.stderr
    assert "no published weights for resnet10" in result.stderr
    assert "resnet18" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()
    helped = cli("train", "--help").stdout
    for text in ("FILE|URL|imagenet", "--frozen-stages", "--frozen-bn", "finetune"):
        assert text in helped


def test_from_scratch_warning_decision():
    resnet50 = sum(p.numel() for p in build_backbone("resnet50").parameters())
    assert resnet50 >= LARGE_BACKBONE_PARAMS
    warning = from_scratch_warning("resnet50", resnet50, None, 60)
    assert "--backbone-weights imagenet" in warning and "--recipe finetune" in warning
    assert from_scratch_warning("resnet50", resnet50, "imagenet", 60) is None
    assert from_scratch_warning("resnet50", resnet50, None, 50_000) is None
    assert from_scratch_warning("resnet18", 11_176_512, None, 60) is None
    assert "--warmup 10" in warmup_warning(1000, 100)
    assert warmup_warning(100, 1000) is None


def test_train_resolves_weights_once_and_warns_once(tiny_data, tmp_path, monkeypatch, capsys):
    """prepare() with ``advice``: the weights of a published name come from a file:// URL
    into a private hub cache; one from-scratch warning for a 'large' resnet10."""
    from nasfpn_cli.engine import advice
    from nasfpn_cli.engine.distributed import DistContext
    from nasfpn_cli.engine.run import prepare

    torch.manual_seed(5)
    state = build_backbone("resnet10").state_dict()
    raw = tmp_path / "raw.pth"
    torch.save(state, raw)
    published = tmp_path / f"resnet10-{hashlib.sha256(raw.read_bytes()).hexdigest()[:8]}.pth"
    raw.rename(published)
    monkeypatch.setitem(PUBLISHED, "resnet10", {"imagenet-v1": PublishedWeights(
        "resnet10", "imagenet-v1", published.as_uri(), 0.0, "TEST")})
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    base = dict(**TINY_CONFIG, data_dir=str(tiny_data), output_dir=str(tmp_path / "run"))

    prepared = prepare(TrainConfig.of(**base, backbone_weights="imagenet", frozen_bn=True),
                       DistContext(), advice=True, progress=False)
    backbone = prepared.model.network.backbone
    assert torch.equal(backbone.conv1.weight, state["conv1.weight"])
    assert isinstance(backbone.bn1, FrozenBatchNorm2d)
    assert (tmp_path / "torch" / "hub" / "checkpoints" / published.name).is_file()
    assert "random weights" not in capsys.readouterr().err

    monkeypatch.setattr(advice, "LARGE_BACKBONE_PARAMS", 1)  # resnet10 counts as large
    advised = prepare(TrainConfig.of(**base), DistContext(), advice=True, progress=False)
    assert advised.advice  # fit() warns after the run's start lines
    from nasfpn_cli.engine.run import _advise

    _advise(advised.config, advised.model, len(advised.data.train),
            advised.schedule.total_steps)
    assert capsys.readouterr().err.count("trains from random weights") == 1
    silent = prepare(TrainConfig.of(**base), DistContext(), progress=False)
    assert not silent.advice  # the search's trials never warn
