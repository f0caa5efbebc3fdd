"""The weight average (``--ema``): its arithmetic, its place in checkpoints, a bit-identical
continuation after kill -9, and that evaluation and export use the averaged weights."""
from __future__ import annotations

import json

import pytest
import torch
from engine_helpers import ONE_THREAD, TINY_MODEL, kill_in_epoch_2
from torch import nn

from nasfpn_cli.engine.checkpoint import Checkpoint, read_checkpoint
from nasfpn_cli.engine.ema import ModelEma
from nasfpn_cli.engine.trainer import Trainer
from nasfpn_cli.errors import CheckpointError



def _toy() -> nn.Module:
    model = nn.Sequential(nn.Linear(2, 1, bias=False), nn.BatchNorm1d(1))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
    return model


def test_the_average_ramps_its_decay_and_copies_integer_buffers():
    model = _toy()
    ema = ModelEma(model, decay=0.5)
    assert ema.current_decay() == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    with torch.no_grad():
        model[0].weight.fill_(11.0)
    model[1].num_batches_tracked.fill_(7)
    ema.update(model)
    # 0.1 * 1 + 0.9 * 11
    assert torch.allclose(ema.module[0].weight, torch.full((1, 2), 10.0))
    assert int(ema.module[1].num_batches_tracked) == 7 and ema.updates == 1
    assert ema.current_decay() == pytest.approx(2 / 11)
    for _ in range(20):
        ema.update(model)
    assert ema.current_decay() == 0.5  # capped at decay
    assert not any(p.requires_grad for p in ema.module.parameters())
    assert model[0].weight.requires_grad, "the live model is untouched"


def test_state_round_trip_and_bad_decay():
    model = _toy()
    first = ModelEma(model, decay=0.9)
    first.update(model)
    second = ModelEma(_toy(), decay=0.3)
    second.load_state_dict(first.state_dict())
    assert (second.updates, second.decay) == (1, 0.9)
    with pytest.raises(ValueError, match="decay"):
        ModelEma(model, decay=1.0)


def test_trainer_saves_the_average_and_refuses_a_checkpoint_without_one():
    model = _toy()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    trainer = Trainer(model, optimizer, scheduler, [], epochs=1, device=torch.device("cpu"),
                      ema=ModelEma(model))
    assert trainer.eval_module is trainer.ema.module
    state = trainer.state_dict()
    assert set(state["ema"]) == {"model", "updates", "decay"}
    del state["ema"]
    with pytest.raises(CheckpointError, match="no EMA weights"):
        trainer.load_state_dict(state)


def test_restored_detector_uses_the_averaged_weights():
    from nasfpn_cli.genotype import format_genotype, load_genotype
    from nasfpn_cli.modeling.detector import build_detector

    genotype = load_genotype("fpn")
    detector = build_detector(genotype, num_classes=1, backbone="resnet10", channels=16,
                              stack=1)
    live = detector.state_dict()
    averaged = {k: v + 1 if v.is_floating_point() else v for k, v in live.items()}
    config = {"genotype_text": format_genotype(genotype), "model": detector.config}
    plain = Checkpoint("plain.pt", {"model": live, "config": config}).detector()
    with_ema = Checkpoint("ema.pt", {"model": live, "config": config,
                                     "ema": {"model": averaged, "updates": 3,
                                             "decay": 0.9}}).detector()
    name = "network.head.cls_subnet.0.conv.weight"
    assert torch.equal(plain.state_dict()[name], live[name])
    assert torch.equal(with_ema.state_dict()[name], averaged[name])


def test_kill_9_then_resume_continues_the_average_bit_identically(tiny_data, tmp_path, cli):
    args = ["train", "fpn", "--data", str(tiny_data), *TINY_MODEL, "--epochs", "3",
            "--ema", "--ema-decay", "0.9", "--log-every", "1", "--no-progress"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    kill_in_epoch_2(args, killed)
    saved = read_checkpoint(killed / "last.pt").state
    assert saved["epoch"] == 1 and saved["ema"]["updates"] == 6 and saved["ema"]["decay"] == 0.9
    resumed = cli("train", "--resume", "-o", str(killed), "--workers", "0", "--no-progress",
                  env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr
    finished = cli(*args, "-o", str(straight), env=ONE_THREAD)
    assert finished.returncode == 0, finished.stderr

    a, b = read_checkpoint(straight / "last.pt").state, read_checkpoint(killed / "last.pt").state
    assert a["ema"]["updates"] == b["ema"]["updates"] == 18
    for name, value in a["ema"]["model"].items():
        assert torch.equal(value, b["ema"]["model"][name]), name
    differs = [n for n, v in a["model"].items()
               if v.is_floating_point() and not torch.equal(v, a["ema"]["model"][n])]
    assert differs, "the average is not a copy of the live weights"
    assert b["metrics_history"] == a["metrics_history"]

    # `nasfpn eval` of the checkpoint scores the averaged weights: the training run's last
    # evaluation (which used them) is reproduced exactly
    evaluated = cli("eval", str(killed / "last.pt"), "--ann",
                    str(tiny_data / "annotations/instances_val2017.json"), "--images",
                    str(tiny_data / "val2017"), "--json", env=ONE_THREAD)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["AP"] == pytest.approx(b["metrics_history"][-1]["AP"],
                                                               abs=1e-9)
