"""GPU measurements for ``benchmarks/gpu_check.sh`` (CUDA only): training throughput and peak
memory of RetinaNet R-50 NAS-FPN 7@256 at 640 px with AMP, and AMP losses against fp32.

    python benchmarks/gpu_check.py --data DIR [--steps 100] [--batch-sizes 8,16] [--json OUT]

The model options (``--backbone --stack --channels --image-size``) and ``--device cpu`` exist so
the script can be smoke-tested on a CPU with a tiny model (bf16 autocast there, no loss scaling,
no peak memory); the figures are meant for CUDA.

Throughput: ``--steps`` optimizer steps per batch size after ``--warmup`` untimed ones, fp16
autocast with loss scaling (the trainer's ``--amp`` on CUDA), from a DataLoader over DIR's
synthetic images. AMP check: the same initial weights and the same first batches trained
``--compare-steps`` steps in fp32 and in AMP; the largest relative difference of the losses is
reported (fp16 rounding makes them drift apart slowly, they must not diverge).
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nasfpn_cli.data.coco import CocoDetection, TrainTransform, build_dataloader  # noqa: E402
from nasfpn_cli.engine.trainer import move_targets  # noqa: E402
from nasfpn_cli.modeling.detector import build_detector  # noqa: E402



@dataclass(frozen=True)
class Setup:
    """What is trained where: the model, the image size, the data and the device."""

    data: Path
    device: torch.device
    backbone: str = "resnet50"
    stack: int = 7
    channels: int = 256
    image_size: int = 640
    num_classes: int = 3
    workers: int = 4

    @property
    def amp_dtype(self) -> torch.dtype:
        return torch.float16 if self.device.type == "cuda" else torch.bfloat16

    def scaler(self, amp: bool):
        """Loss scaling for fp16 on CUDA; bf16 needs none."""
        return torch.amp.GradScaler(self.device.type, enabled=amp and self.device.type == "cuda")

    def model(self):
        torch.manual_seed(0)
        return build_detector("nasfpn", self.num_classes, self.backbone, self.channels,
                              self.stack).to(self.device).train()

    def batches(self, batch_size: int):
        dataset = CocoDetection(self.data / "annotations" / "instances_train2017.json",
                                self.data / "train2017",
                                TrainTransform(self.image_size, (0.8, 1.2), 0.5), seed=0)
        loader = build_dataloader(dataset, batch_size, shuffle=True, workers=self.workers,
                                  seed=0, pin_memory=self.device.type == "cuda")
        while True:
            yield from loader

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def _step(setup: Setup, model, optimizer, scaler, images, targets, amp: bool) -> float:
    images = images.to(setup.device, non_blocking=True)
    targets = move_targets(targets, setup.device)
    with torch.autocast(setup.device.type, dtype=setup.amp_dtype, enabled=amp):
        losses = model(images, targets)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(losses["loss"]).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
    scaler.step(optimizer)
    scaler.update()
    return float(losses["loss"].detach())


def _optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)


def throughput(setup: Setup, batch_size: int, steps: int, warmup: int) -> dict:
    """Images/s and peak CUDA memory (None elsewhere) of AMP training at ``batch_size``."""
    model = setup.model()
    optimizer = _optimizer(model)
    scaler = setup.scaler(amp=True)
    batches = setup.batches(batch_size)
    if setup.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(setup.device)
    losses = []
    start = time.perf_counter()
    for index in range(warmup + steps):
        if index == warmup:
            setup.synchronize()
            start = time.perf_counter()
        images, targets = next(batches)
        losses.append(_step(setup, model, optimizer, scaler, images, targets, amp=True))
    setup.synchronize()
    seconds = time.perf_counter() - start
    peak = (torch.cuda.max_memory_allocated(setup.device) / 2 ** 30
            if setup.device.type == "cuda" else None)
    return {"batch_size": batch_size, "steps": steps, "images_per_s": steps * batch_size / seconds,
            "peak_memory_gib": peak, "first_loss": losses[0], "last_loss": losses[-1]}


def amp_tracks_fp32(setup: Setup, batch_size: int, steps: int) -> dict:
    """Losses of the same first ``steps`` steps in fp32 and in AMP from the same weights."""
    base = setup.model()
    batches = setup.batches(batch_size)
    fixed = [next(batches) for _ in range(steps)]
    curves = {}
    for amp in (False, True):
        model = copy.deepcopy(base)
        optimizer = _optimizer(model)
        scaler = setup.scaler(amp)
        curves[amp] = [_step(setup, model, optimizer, scaler, images, targets, amp)
                       for images, targets in fixed]
    worst = max(abs(a - f) / max(abs(f), 1e-8) for f, a in zip(curves[False], curves[True]))
    return {"steps": steps, "fp32": curves[False], "amp": curves[True],
            "max_relative_difference": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch-sizes", default="8,16")
    parser.add_argument("--compare-steps", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--num-classes", type=int, default=3)
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--stack", type=int, default=7)
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--image-size", type=int, default=640)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: nothing measured")
        return
    device = torch.device("cuda", 0) if args.device == "cuda" else torch.device("cpu")
    torch.backends.cudnn.benchmark = True
    setup = Setup(args.data, device, args.backbone, args.stack, args.channels, args.image_size,
                  args.num_classes, args.workers)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    results = {"device": name, "torch": torch.__version__, "throughput": [], "amp_check": None}
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        row = throughput(setup, batch_size, args.steps, args.warmup)
        results["throughput"].append(row)
        peak = "-" if row["peak_memory_gib"] is None else f"{row['peak_memory_gib']:.2f}"
        print(f"train amp batch {batch_size}: {row['images_per_s']:.1f} images/s, "
              f"peak {peak} GiB, loss {row['first_loss']:.3f} -> {row['last_loss']:.3f}",
              flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    check = amp_tracks_fp32(setup, min(8, *(int(b) for b in args.batch_sizes.split(","))),
                            args.compare_steps)
    results["amp_check"] = check
    print(f"amp vs fp32, first {check['steps']} steps: max relative loss difference "
          f"{check['max_relative_difference']:.4f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
