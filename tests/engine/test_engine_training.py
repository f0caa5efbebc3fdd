"""End-to-end training on a tiny synthetic dataset with the real detector: learning, checkpoint
contents, non-finite losses, kill -9 and resume, data checks, distributed training."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from engine_helpers import ONE_THREAD, TINY_CONFIG, TINY_MODEL, kill_in_epoch_2

from nasfpn_cli.engine import TrainConfig, train
from nasfpn_cli.engine import run as engine_run
from nasfpn_cli.engine.checkpoint import read_checkpoint
from nasfpn_cli.utils import read_jsonl
from nasfpn_cli.engine.trainer import NonFiniteLossError

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT_KEYS = {"model", "optimizer", "scheduler", "scaler", "epoch", "step", "rng",
                   "rng_all_ranks", "metrics_history", "best_ap", "config", "format_version"}


def test_a_short_run_learns_and_checkpoints_everything(trained_run):
    config, result = trained_run
    out = result.output_dir
    losses = [r["loss"] for r in read_jsonl(out / "metrics.jsonl") if r["kind"] == "train"]
    assert len(losses) == 16  # 48 images / batch 8 = 6 steps per epoch, a record every 3
    assert sum(losses[-3:]) / 3 < 0.5 * losses[0]
    # chance is ~0: random boxes almost never reach IoU 0.5 with 1-3 objects per image
    assert [r["epoch"] for r in result.metrics_history] == [4, 8]
    assert result.last_metrics["AP50"] > 0.05
    assert result.best_ap == max(r["AP"] for r in result.metrics_history)
    assert (result.epochs, result.steps) == (8, 48)

    state = read_checkpoint(out / "last.pt").state
    assert set(state) == CHECKPOINT_KEYS
    assert (state["epoch"], state["step"], state["best_ap"]) == (8, 48, result.best_ap)
    assert state["metrics_history"] == result.metrics_history
    assert set(state["rng"]) == {"python", "numpy", "torch"}
    assert state["config"]["train"] == config.to_dict()
    assert state["config"]["data"] == {"label_to_category": [1], "category_names": ["square"]}
    assert state["config"]["model"]["backbone"] == "resnet10"
    assert "p3 = sum(p4, P3) @ P3 -> out" in state["config"]["genotype_text"]
    best = read_checkpoint(out / "best.pt").state
    assert best["best_ap"] == result.best_ap
    assert json.loads((out / "config.json").read_text())["train"]["solver"]["epochs"] == 8
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "config.json", "last.pt",
                                                     "metrics.jsonl"]


def test_absurd_lr_stops_with_the_step_losses_and_a_hint(tiny_data, tmp_path, cli):
    out = tmp_path / "run"
    result = cli("train", "fpn", "--data", str(tiny_data), "-o", str(out), *TINY_MODEL,
                     "--lr", "1e30", "--epochs", "2", "--no-progress", env=ONE_THREAD)
    assert result.returncode == 1, result.stderr
    assert "error: non-finite loss at step 2 (epoch 1): cls=nan, box=nan, loss=nan" in result.stderr
    assert "hint: lower --lr" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "metrics.jsonl"]


def test_non_finite_loss_leaves_the_last_good_checkpoint_intact(tiny_data, tmp_path,
                                                                  monkeypatch, one_thread):
    real_build = engine_run.build_model

    def exploding_model(config, genotype, num_classes, *weights):
        """The real detector whose losses turn NaN from the 8th training step on."""
        detector = real_build(config, genotype, num_classes, *weights)
        forward, calls = detector.forward, [0]

        def patched(images, targets=None, **kwargs):
            output = forward(images, targets, **kwargs)
            if detector.training:
                calls[0] += 1
                if calls[0] >= 8:
                    output = {k: v * float("nan") for k, v in output.items()}
            return output

        detector.forward = patched
        return detector

    monkeypatch.setattr(engine_run, "build_model", exploding_model)
    out = tmp_path / "run"
    config = TrainConfig.of(**TINY_CONFIG, data_dir=str(tiny_data), output_dir=str(out), epochs=2,
                         eval_every=5)
    with pytest.raises(NonFiniteLossError, match="step 8 \\(epoch 2\\)"):
        train(config, progress=False)
    state = read_checkpoint(out / "last.pt").state
    assert (state["epoch"], state["step"]) == (1, 6)
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "last.pt", "metrics.jsonl"]


def _train_records(out: Path) -> list[tuple]:
    return [(r["epoch"], r["step"], r["lr"], r["loss"]) for r in read_jsonl(out / "metrics.jsonl")
            if r["kind"] == "train"]


def test_kill_9_mid_epoch_then_resume_matches_an_uninterrupted_run(tiny_data, tmp_path, cli):
    args = ["train", "fpn", "--data", str(tiny_data), *TINY_MODEL, "--epochs", "3",
            "--log-every", "1", "--no-progress"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    kill_in_epoch_2(args, killed)
    assert read_checkpoint(killed / "last.pt").state["epoch"] == 1

    # --resume alone: the genotype, data and options come from the checkpoint
    resumed = cli("train", "--resume", "-o", str(killed), "--workers", "0", "--no-progress",
                      env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr
    finished = cli(*args, "-o", str(straight), env=ONE_THREAD)
    assert finished.returncode == 0, finished.stderr

    a, b = read_checkpoint(straight / "last.pt").state, read_checkpoint(killed / "last.pt").state
    assert (b["epoch"], b["step"]) == (a["epoch"], a["step"]) == (3, 18)
    assert [r["epoch"] for r in b["metrics_history"]] == [1, 2, 3]
    # same data order, augmentation and RNG after the restart: the very same numbers
    assert b["metrics_history"] == a["metrics_history"]
    assert _train_records(killed) == _train_records(straight)
    assert b["scheduler"]["last_epoch"] == a["scheduler"]["last_epoch"] == 18
    for name, value in a["model"].items():
        assert torch.equal(value, b["model"][name]), name


def test_resume_refuses_without_a_checkpoint_and_fresh_runs_refuse_to_overwrite(tiny_data,
                                                                                tmp_path, cli):
    missing = cli("train", "--resume", "-o", str(tmp_path / "none"))
    assert missing.returncode == 1 and "nothing to resume" in missing.stderr
    out = tmp_path / "run"
    out.mkdir()
    (out / "last.pt").write_bytes(b"")
    again = cli("train", "fpn", "--data", str(tiny_data), "-o", str(out))
    assert again.returncode == 1 and "a run already lives in" in again.stderr
    no_genotype = cli("train", "--data", str(tiny_data), "-o", str(tmp_path / "x"))
    assert no_genotype.returncode == 2 and "missing argument GENOTYPE" in no_genotype.stderr


def test_bad_data_is_refused_with_the_report_unless_skip_bad(tiny_data, tmp_path, one_thread,
                                                             cli):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    ann_file = data / "annotations" / "instances_train2017.json"
    ann = json.loads(ann_file.read_text())
    ann["annotations"][0]["bbox"] = [5, 5, -3, 4]
    ann["annotations"][1]["category_id"] = 99
    ann_file.write_text(json.dumps(ann))
    refused = cli("train", "fpn", "--data", str(data), "-o", str(tmp_path / "run"))
    assert refused.returncode == 1
    assert "the train data has 2 problem(s)" in refused.stderr and "--skip-bad" in refused.stderr
    assert "unknown" in refused.stderr.lower()  # the report's table names the kinds
    config = TrainConfig.of(**TINY_CONFIG, data_dir=str(data), output_dir=str(tmp_path / "r"),
                         skip_bad=True).validated()
    bundle = engine_run.build_data(config, engine_run.DistContext())
    assert len(bundle.train.coco.anns) == len(ann["annotations"]) - 2


def test_two_process_distributed_training(tiny_data, tmp_path):
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
               "2", "-m", "nasfpn_cli", "train",
               "fpn", "--data", str(tiny_data), "-o", str(out), *TINY_MODEL, "--batch-size", "4",
               "--epochs", "1", "--log-every", "1", "--no-progress", "--sync-bn"]
    result = subprocess.run(command, cwd=ROOT, env={**os.environ, **ONE_THREAD},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--sync-bn needs CUDA" in result.stderr
    records = read_jsonl(out / "metrics.jsonl")
    train_steps = [r["step"] for r in records if r["kind"] == "train"]
    assert train_steps == [1, 2, 3, 4, 5, 6]  # 48 images / (2 processes x 4): rank 0 logs once
    evaluation = [r for r in records if r["kind"] == "eval"]
    assert len(evaluation) == 1 and evaluation[0]["num_images"] == 12  # both halves gathered
    state = read_checkpoint(out / "last.pt").state
    assert len(state["rng_all_ranks"]) == 2 and state["step"] == 6
    assert result.stdout.count("checkpoints:") == 1
