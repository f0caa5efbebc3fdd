"""Shared test helpers: the tiny training setup every end-to-end test uses, and small
stand-ins for the detector and data loader for fast tests of the training loop."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from cli_runner import ROOT, train_single_threaded  # noqa: F401 - re-exported for the engine tests
from torch import nn

# small enough for seconds per epoch on one core, large enough to learn from
TINY = dict(num_images=60, image_size=64, seed=0, val_fraction=0.2, num_classes=1, max_objects=3)
# the model and schedule every training test uses, as `nasfpn train` options and as TrainConfig
TINY_MODEL = ["--backbone", "resnet10", "--stack", "1", "--channels", "64", "--image-size", "64",
              "--batch-size", "8", "--lr", "0.01", "--warmup", "10", "--workers", "0"]
TINY_CONFIG = dict(genotype="fpn", backbone="resnet10", stack=1, channels=64, image_size=64,
                   batch_size=8, lr=0.01, warmup=10, workers=0)
# shared CI machines: two threads fighting over busy cores run many times slower than one
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class ToyDetector(nn.Module):
    """Regresses the mean box of each image from a pooled conv feature; the loss dict has the
    shape the real detector returns (total under "loss")."""

    def __init__(self, nan_at_call: int | None = None):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)
        self.head = nn.Linear(4, 4)
        self.nan_at_call = nan_at_call
        self.calls = 0

    def forward(self, images, targets):
        self.calls += 1
        features = torch.relu(self.norm(self.conv(images))).mean((2, 3))
        predicted = self.head(features)
        wanted = torch.stack([t["boxes"].mean(0) for t in targets]) / 16.0
        box = (predicted - wanted).abs().mean()
        scale = predicted.pow(2).mean() * 0.01
        if self.nan_at_call is not None and self.calls >= self.nan_at_call:
            box = box * float("nan")
        return {"loss": box + scale, "box": box, "scale": scale}


def toy_batches(num_batches: int = 4, batch_size: int = 2, seed: int = 0):
    """A fixed list of (images, targets) batches usable as a loader."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(num_batches):
        images = torch.randn(batch_size, 3, 8, 8, generator=generator)
        targets = []
        for _ in range(batch_size):
            xy = torch.rand(2, 2, generator=generator) * 8
            boxes = torch.cat([xy.min(0).values, xy.max(0).values + 1]).view(1, 4)
            targets.append({"boxes": boxes, "labels": torch.zeros(1, dtype=torch.long),
                            "image_id": 0})
        batches.append((images, targets))
    return batches


def kill_in_epoch_2(args: list[str], out: Path) -> None:
    """Run ``nasfpn ARGS -o OUT`` (one thread) and kill -9 it in the middle of epoch 2, once
    step 8 is in its metrics.jsonl (the tiny runs have 6 steps an epoch)."""
    from nasfpn_cli.utils import read_jsonl

    process = subprocess.Popen([sys.executable, "-m", "nasfpn_cli", *args, "-o", str(out)],
                               cwd=ROOT, env={**os.environ, **ONE_THREAD},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not any(r.get("kind") == "train" and r["epoch"] == 2 and r["step"] >= 8
                      for r in read_jsonl(out / "metrics.jsonl")):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the run never reached epoch 2"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
