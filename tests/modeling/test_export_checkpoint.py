"""Rebuilding detectors from checkpoints, and ``nasfpn export --checkpoint`` end to end."""
from __future__ import annotations

import re

import pytest
import torch
from click.testing import CliRunner

from nasfpn_cli.cli import cli as nasfpn_group
from nasfpn_cli.errors import CheckpointError, UsageError
from nasfpn_cli.genotype import load_genotype
from nasfpn_cli.modeling.detector import build_detector
from nasfpn_cli.engine.checkpoint import load_detector

TINY = dict(num_classes=3, backbone="resnet10", channels=64, stack=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A detector and its checkpoint, laid out as the training engine writes them."""
    torch.manual_seed(0)
    detector = build_detector("fpn", **TINY, score_threshold=0.0).eval()
    with torch.no_grad():  # make the weights differ from a fresh build
        detector.network.head.cls_score.bias.fill_(0.5)
    path = tmp_path_factory.mktemp("run") / "last.pt"
    state = {"model": detector.state_dict(),
             "config": {"genotype_text": load_genotype("fpn").source, "model": detector.config,
                        "train": {"epochs": 1}}, "epoch": 1}
    torch.save(state, path)
    return detector, path, state


def test_load_detector_from_checkpoint_gives_the_same_detections(trained):
    detector, path, _ = trained
    loaded = load_detector(path)
    assert not loaded.training and loaded.config == detector.config
    images = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        expected, got = detector(images)[0], loaded(images)[0]
    assert len(got["scores"]) == 100
    torch.testing.assert_close(got["scores"], expected["scores"])
    torch.testing.assert_close(got["boxes"], expected["boxes"])


def test_checkpoint_errors_say_what_is_wrong(trained, tmp_path):
    _, _, state = trained

    def saved(name: str, content) -> str:
        target = tmp_path / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            torch.save(content, target)
        return str(target)

    cases = [
        (str(tmp_path / "absent.pt"), "no such checkpoint file"),
        (saved("corrupt.pt", b"\x00 not a checkpoint"), "cannot read checkpoint"),
        (saved("list.pt", [1, 2]), "top level is a list"),
        (saved("bare.pt", {"model": state["model"]}), "missing config"),
        (saved("noconf.pt", {**state, "config": {"train": {}}}), "lacks 'genotype_text' or 'model'"),
        (saved("option.pt", {**state, "config": {**state["config"],
                                                 "model": {**state["config"]["model"], "colour": "red"}}}),
         "cannot rebuild the detector: .*colour"),
    ]
    weights = dict(state["model"])
    weights.pop("network.head.cls_score.bias")
    weights["network.extra.weight"] = torch.zeros(1)
    weights["network.head.box_pred.bias"] = torch.zeros(5)
    cases.append((saved("weights.pt", {**state, "model": weights}),
                  "missing keys: network.head.cls_score.bias; unexpected keys: network.extra.weight; "
                  "wrong-shape keys: network.head.box_pred.bias"))
    for path, message in cases:
        with pytest.raises(CheckpointError, match=message):
            load_detector(path)


def test_export_cli_from_a_checkpoint(trained, tmp_path, cli):
    _, path, _ = trained
    output = tmp_path / "model.onnx"
    result = cli("export", "fpn", "-o", str(output), "--checkpoint", str(path), "--image-size", "128",
                 env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    print(result.stdout)
    assert "opset" in result.stdout and "17" in result.stdout
    assert "cls_p3 1x27x16x16" in result.stdout and "box_p7 1x36x1x1" in result.stdout
    diff = float(result.stdout.split("max abs diff")[1].split()[0])
    assert diff < 1e-4 and output.is_file()


@pytest.mark.parametrize("args,error,message", [
    (["nasfpn"], UsageError, "differs from the genotype stored"),
    (["fpn", "--backbone", "resnet18"], UsageError, r"--backbone resnet18 \(checkpoint: resnet10\)"),
    (["fpn", "--exit-at", "2"], UsageError, r"--exit-at 2: .* has 1 pyramid copy"),
])
def test_export_cli_refuses_disagreeing_options(trained, tmp_path, args, error, message):
    _, path, _ = trained
    runner = CliRunner()
    outcome = runner.invoke(nasfpn_group, ["export", *args, "-o", str(tmp_path / "m.pt"),
                                           "--checkpoint", str(path)], standalone_mode=False)
    assert isinstance(outcome.exception, error)
    assert re.search(message, str(outcome.exception))
    assert not (tmp_path / "m.pt").exists()
