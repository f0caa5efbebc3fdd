"""``nasfpn export --to safetensors``: the detector's weights with what rebuilds it, or the
backbone's alone under torchvision's names; read back as a checkpoint; usage errors."""
from __future__ import annotations

import json
import re

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from nasfpn_cli import __version__
from nasfpn_cli.cli import cli as nasfpn_group
from nasfpn_cli.commands.export import FORMAT_NAMES
from nasfpn_cli.engine.checkpoint import Checkpoint
from nasfpn_cli.errors import CheckpointError, NasfpnError, UsageError
from nasfpn_cli.genotype import load_genotype
from nasfpn_cli.modeling.backbones import build_backbone
from nasfpn_cli.modeling.detector import build_detector
from nasfpn_cli.modeling.exporting import FORMATS, export_format, export_network
from nasfpn_cli.modeling.network import build_network
from nasfpn_cli.modeling.spec import ModelSpec
from nasfpn_cli.modeling.weights_file import file_tensors, same_bits, to_bytes

TINY = dict(num_classes=3, backbone="resnet10", channels=32, stack=1)
DATA = {"label_to_category": [1, 5, 9], "category_names": ["cat", "dog", "eel"]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A detector and its checkpoint, laid out as the training engine writes them, with weights
    and batch-norm statistics that differ from a fresh build."""
    torch.manual_seed(0)
    detector = build_detector("fpn", **TINY, score_threshold=0.0).eval()
    with torch.no_grad():
        detector.network.head.cls_score.bias.fill_(0.5)
        detector.network.backbone.bn1.running_mean.uniform_()
    path = tmp_path_factory.mktemp("run") / "last.pt"
    torch.save({"model": detector.state_dict(),
                "config": {"genotype_text": load_genotype("fpn").source, "model": detector.config,
                           "train": {"image_size": 96}, "data": DATA}, "epoch": 1}, path)
    return detector, path


def export(*args: str) -> None:
    """``nasfpn export ARGS`` in this process; raises what the command raised."""
    outcome = CliRunner().invoke(nasfpn_group, ["export", *map(str, args)],
                                 standalone_mode=False)
    if outcome.exception is not None:
        raise outcome.exception
    return outcome.stdout


def test_detector_file_from_a_checkpoint_rebuilds_the_model(trained, tmp_path):
    detector, checkpoint = trained
    output = tmp_path / "model.safetensors"
    shown = export("fpn", "--checkpoint", checkpoint, "-o", output, "--image-size", 64)
    assert re.search(r"tensors\s+148 \(read back bit for bit\)", shown)
    assert re.search(r"format\s+safetensors \(detector\)", shown)
    assert re.search(r"max abs diff\s+0 ", shown)
    assert f"{sum(p.numel() for p in detector.parameters()):,}" in shown

    tensors = load_file(str(output))
    own = detector.state_dict()
    assert sorted(tensors) == sorted(own)
    assert all(same_bits(tensors[key], own[key]) for key in own)

    from safetensors import safe_open

    with safe_open(str(output), "pt") as handle:
        metadata = handle.metadata()
    assert metadata["format"] == "nasfpn-detector" and metadata["nasfpn_version"] == __version__
    assert metadata["genotype"] == detector.spec.genotype_text
    assert json.loads(metadata["data"]) == DATA and metadata["image_size"] == "96"
    spec = ModelSpec.from_dict(json.loads(metadata["spec"]), metadata["genotype"])
    assert spec == detector.spec

    rebuilt = build_detector(spec).eval()
    rebuilt.load_state_dict(tensors, strict=True)
    images = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        for got, want in zip(rebuilt.network(images), detector.network(images)):
            for a, b in zip(got, want):
                torch.testing.assert_close(a, b, rtol=0, atol=0)

    # the reverse: the file reads as a checkpoint (eval, predict, bench, export --checkpoint)
    stored = Checkpoint.read(output)
    assert stored.spec == detector.spec and stored.image_size == 96
    assert stored.label_to_category == [1, 5, 9] and stored.category_names == ["cat", "dog", "eel"]
    with torch.no_grad():
        got, want = stored.detector()(images)[0], detector(images)[0]
    torch.testing.assert_close(got["scores"], want["scores"])
    torch.testing.assert_close(got["boxes"], want["boxes"])
    # ... and is never written over by an export that reads it
    with pytest.raises(NasfpnError, match="also an input"):
        export("fpn", "--checkpoint", output, "-o", output)


def test_backbone_only_has_torchvision_names_and_loads_strictly(trained, tmp_path):
    detector, checkpoint = trained
    output = tmp_path / "backbone.safetensors"
    shown = export("fpn", "--checkpoint", checkpoint, "-o", output, "--backbone-only",
                   "--image-size", 64)
    assert re.search(r"format\s+safetensors \(backbone\)", shown)
    tensors = load_file(str(output))
    assert "conv1.weight" in tensors and "layer4.0.downsample.1.running_var" in tensors
    assert not [key for key in tensors if key.startswith(("network.", "backbone.", "fc."))]
    fresh = build_backbone("resnet10")
    fresh.load_state_dict(tensors, strict=True)
    own = detector.network.backbone.state_dict()
    assert all(same_bits(fresh.state_dict()[key], own[key]) for key in own)
    with pytest.raises(CheckpointError, match="not a nasfpn detector weights file") as caught:
        Checkpoint.read(output)
    assert "--backbone-weights" in caught.value.hint


def test_an_exported_backbone_is_what_backbone_weights_reads(trained, tmp_path):
    """The way out and the way in meet: --backbone-only's file is a --backbone-weights file."""
    detector, checkpoint = trained
    output = tmp_path / "shared.safetensors"
    export("fpn", "--checkpoint", checkpoint, "-o", output, "--backbone-only")
    loaded = build_backbone("resnet10", weights=output).state_dict()
    own = detector.network.backbone.state_dict()
    assert loaded.keys() == own.keys()
    assert all(same_bits(loaded[key], own[key]) for key in own)


def test_backbone_only_mobilenet_keys(tmp_path):
    torch.manual_seed(0)
    spec = ModelSpec.create("fpn", **{**TINY, "backbone": "mobilenetv2"})
    network = build_network(spec).eval()
    result = export_network(network, tmp_path / "mb.bin", 64, to="safetensors",
                            backbone_only=True, spec=spec)
    assert result.max_abs_diff == 0.0 and result.metadata["format"] == "nasfpn-backbone"
    tensors = load_file(str(result.path))
    assert "features.0.0.weight" in tensors
    build_backbone("mobilenetv2").load_state_dict(tensors, strict=True)


def test_shared_and_strided_tensors_are_written(tmp_path):
    """safetensors refuses tensors sharing memory; the writer gives each its own."""
    weight = torch.randn(4, 6)
    tensors = file_tensors({"a": weight, "tied": weight, "view": weight.t()})
    from safetensors.torch import load

    loaded = load(to_bytes(tensors, {"format": "test"}))
    assert same_bits(loaded["tied"], weight) and same_bits(loaded["view"], weight.t())


@pytest.mark.parametrize("path,to,backbone_only,expected", [
    ("m.safetensors", None, False, "safetensors"),
    ("m.SAFETENSORS", None, True, "safetensors"),
    ("m", "safetensors", True, "safetensors"),
    ("m.bin", "onnx", False, "onnx"),
    ("m.pt", "torchscript", False, "torchscript"),
    ("m.onnx", None, False, "onnx"),
])
def test_export_format_from_to_or_suffix(path, to, backbone_only, expected):
    assert export_format(path, to, backbone_only=backbone_only) == expected


@pytest.mark.parametrize("path,to,backbone_only,message", [
    ("m.onnx", "safetensors", False,
     r"--to safetensors contradicts the output's suffix \.onnx \(onnx\)"),
    ("m.safetensors", "torchscript", False, r"--to torchscript contradicts .*\.safetensors"),
    ("m.onnx", None, True, "--backbone-only writes weights only; onnx"),
    ("m.pt", "torchscript", True, "--backbone-only writes weights only; torchscript"),
    ("m", None, False, "cannot tell the export format from no suffix"),
])
def test_export_format_usage_errors(path, to, backbone_only, message):
    with pytest.raises(UsageError, match=message) as caught:
        export_format(path, to, backbone_only=backbone_only)
    assert caught.value.exit_code == 2


def test_format_names_match_the_registry():
    assert FORMAT_NAMES == tuple(FORMATS)


def test_cli_usage_errors_exit_2_without_a_traceback(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cases = [
        (["-o", tmp_path / "m.onnx", "--to", "safetensors"], 2, "contradicts"),
        (["-o", tmp_path / "m.onnx", "--backbone-only"], 2, "--backbone-only"),
        (["-o", tmp_path / "m"], 2, "cannot tell the export format"),
        (["-o", blocker / "m.safetensors", "--backbone", "resnet10", "--channels", "16",
          "--stack", "1", "--no-verify"], 1, "cannot write"),
    ]
    for args, code, message in cases:
        result = cli("export", "fpn", *map(str, args), env={"OMP_NUM_THREADS": "1"})
        assert result.returncode == code and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
