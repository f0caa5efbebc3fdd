"""What does the training pipeline cost on top of the network itself?

Times, interleaved in one process so both see the same machine load:

* full step: the trainer's step as ``nasfpn train`` runs it: the next batch from the DataLoader
  (decoding and augmentation in a worker), anchor assignment, focal and box losses, backward,
  gradient clipping, optimizer and schedule step;
* bare step: the raw network's forward on a batch already in memory, a trivial loss over its
  outputs, backward and the optimizer step.

Both use the demo's model (ResNet-10, NAS-FPN 3@64, 256 px, batch 8) on synthetic data. The
last line is ``train step overhead X.XX``: total full-step time over total bare-step time (the
aim is at most 1.15).

    python benchmarks/train_step.py [--steps 30] [--workers 1] [--threads 2] [--profile]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nasfpn_cli.data.coco import CocoDetection, TrainTransform, build_dataloader  # noqa: E402
from nasfpn_cli.data.loader import endless_batches  # noqa: E402
from nasfpn_cli.data.synth import make_synthetic_dataset  # noqa: E402
from nasfpn_cli.engine.config import TrainConfig  # noqa: E402
from nasfpn_cli.engine.optim import build_optimizer  # noqa: E402
from nasfpn_cli.engine.schedule import LrSchedule, build_scheduler  # noqa: E402
from nasfpn_cli.engine.trainer import Trainer  # noqa: E402
from nasfpn_cli.engine.run import build_model  # noqa: E402
from nasfpn_cli.genotype import load_genotype  # noqa: E402

TARGET = 1.15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps of each kind")
    parser.add_argument("--workers", type=int, default=1, help="DataLoader workers")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch threads of the main process")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--profile", action="store_true",
                        help="print torch.profiler tables of one step of each kind")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    config = TrainConfig.of(genotype="nasfpn", backbone="resnet10", stack=3, channels=64,
                         image_size=256, batch_size=args.batch_size, workers=args.workers,
                         lr=0.01, warmup=0).validated()
    with tempfile.TemporaryDirectory() as tmp:
        make_synthetic_dataset(tmp, num_images=160, image_size=256, seed=0, val_fraction=0.0)
        dataset = CocoDetection(Path(tmp) / "annotations/instances_train2017.json",
                                Path(tmp) / "train2017",
                                TrainTransform(config.image_size, config.scale_range), seed=0)
        loader = build_dataloader(dataset, config.batch_size, shuffle=True,
                                  workers=config.workers, seed=0)
        model = build_model(config, load_genotype(config.genotype), dataset.num_classes)
        model.train()
        optimizer = build_optimizer(model, config)
        scheduler = build_scheduler(optimizer, LrSchedule("cosine", total_steps=10**6))
        trainer = Trainer(model, optimizer, scheduler, loader, epochs=1,
                          device=torch.device("cpu"), grad_clip=config.grad_clip)
        batches = endless_batches(loader)
        fixed_images, _ = next(batches)

        def full_step() -> None:
            images, targets = next(batches)
            trainer.run_step(images, targets)

        def bare_step() -> None:
            cls_outputs, box_outputs = model.network(fixed_images)
            loss = sum(t.float().mean() for t in [*cls_outputs, *box_outputs])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        for _ in range(3):  # warm up allocator, kernels and the worker pipeline
            full_step()
            bare_step()
        if args.profile:
            from torch.profiler import profile

            for name, step in (("full", full_step), ("bare", bare_step)):
                with profile() as prof:
                    step()
                print(f"--- {name} step")
                print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
        full, bare = [], []
        for _ in range(args.steps):
            for step, times in ((full_step, full), (bare_step, bare)):
                start = time.perf_counter()
                step()
                times.append(time.perf_counter() - start)
    print(f"model: ResNet-10 + NAS-FPN 3@64, {config.image_size} px, batch {config.batch_size}; "
          f"{args.workers} loader worker(s), {args.threads} torch thread(s), {args.steps} steps each")
    print(f"full step: median {statistics.median(full):.3f} s, mean {statistics.mean(full):.3f} s, "
          f"{config.batch_size / statistics.mean(full):.1f} images/s")
    print(f"bare step: median {statistics.median(bare):.3f} s, mean {statistics.mean(bare):.3f} s")
    print(f"median ratio {statistics.median(full) / statistics.median(bare):.2f} "
          f"(aim <= {TARGET})")
    print(f"train step overhead {sum(full) / sum(bare):.2f}")


if __name__ == "__main__":
    main()
