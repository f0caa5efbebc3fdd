"""ModelSpec: one description of a detector, N@C by one rule in every command."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from nasfpn_cli.engine.checkpoint import FORMAT_VERSION, Checkpoint, write_checkpoint
from nasfpn_cli.engine.config import TrainConfig
from nasfpn_cli.errors import CheckpointError, ModelError
from nasfpn_cli.genotype import load_genotype
from nasfpn_cli.modeling import spec as spec_module
from nasfpn_cli.modeling.backbones import BACKBONES as BACKBONE_REGISTRY
from nasfpn_cli.modeling.detector import build_detector
from nasfpn_cli.modeling.layers import NORM_LAYERS
from nasfpn_cli.modeling.losses import BOX_LOSSES
from nasfpn_cli.modeling.spec import ModelSpec, resolve_pyramid_size


def test_choices_are_the_registries_keys():
    assert spec_module.BACKBONES == tuple(BACKBONE_REGISTRY)
    assert set(spec_module.NORMS) == set(NORM_LAYERS)
    assert spec_module.BOX_LOSSES == tuple(BOX_LOSSES)


def test_one_rule_option_then_directive_then_7_at_256():
    big, plain = load_genotype("nasfpn_7x256"), load_genotype("nasfpn")
    assert resolve_pyramid_size(big) == (7, 256)
    assert resolve_pyramid_size(plain) == (7, 256)
    assert resolve_pyramid_size(big, 2, 32) == (2, 32)
    small = dataclasses.replace(plain, stack=3, channels=64)
    assert resolve_pyramid_size(small) == (3, 64)
    assert resolve_pyramid_size(small, channels=16) == (3, 16)
    # train follows it too: a file's directives are honoured unless --stack/--channels say so
    assert TrainConfig.of(genotype="nasfpn_7x256").model_spec(big, 3).stack == 7
    assert TrainConfig.of(stack=2, channels=32).model_spec(big, 3).channels == 32


def test_spec_is_json_and_rebuilds_the_same_detector():
    spec = ModelSpec.create("fpn", stack=1, channels=32, num_classes=3, backbone="resnet10",
                            dropblock={"block_size": 3, "keep_prob": 0.9})
    stored = json.loads(json.dumps(spec.to_dict()))
    again = ModelSpec.from_dict(stored)
    assert again == spec and again.genotype == spec.genotype
    torch.manual_seed(0)
    detector = build_detector(spec)
    assert detector.spec is spec and detector.network.num_stacks == 1
    with pytest.raises(ModelError, match="unknown model option.*colour"):
        ModelSpec.create("fpn", colour="red")
    with pytest.raises(ModelError, match="unknown backbone 'vgg'"):
        ModelSpec.create("fpn", backbone="vgg")
    with pytest.raises(ModelError, match="exit_at must be a stack between 1 and 2"):
        ModelSpec.create("fpn", stack=2, exit_at=3)


def _tiny_state(detector, **extra):
    return {"model": detector.state_dict(),
            "config": {"genotype_text": detector.spec.genotype_text, "model": detector.config,
                       "train": {"image_size": 64}}, **extra}


def test_checkpoints_of_version_1_load_and_newer_ones_are_refused(tmp_path):
    detector = build_detector("fpn", stack=1, channels=32, num_classes=2, backbone="resnet10")
    old = tmp_path / "old.pt"
    torch.save(_tiny_state(detector), old)  # written before format_version existed
    assert Checkpoint.read(old).spec == detector.spec
    assert Checkpoint.read(old).image_size == 64
    current = tmp_path / "current.pt"
    write_checkpoint(_tiny_state(detector), current)
    assert Checkpoint.read(current).state["format_version"] == FORMAT_VERSION
    newer = tmp_path / "newer.pt"
    torch.save(_tiny_state(detector, format_version=FORMAT_VERSION + 1), newer)
    with pytest.raises(CheckpointError, match=f"format version {FORMAT_VERSION + 1} is newer"):
        Checkpoint.read(newer)


def test_commands_follow_the_rule(cli, tmp_path):
    flops = json.loads(cli("flops", "nasfpn_7x256", "--backbone", "resnet10", "--image-size",
                           "128", "--neck-only", "--json").stdout)
    assert len(flops["stacks"]) == 7 and flops["cells"][0]["stacks"] == 7
    flops = json.loads(cli("flops", "nasfpn_7x256", "--backbone", "resnet10", "--image-size",
                           "128", "--neck-only", "--stack", "2", "--json").stdout)
    assert len(flops["stacks"]) == 2
