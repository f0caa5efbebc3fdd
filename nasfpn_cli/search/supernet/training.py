"""Training the supernet once: single-path one-shot (SPOS), one sampled path per step (uniform
over the space; in the anchored space by default half uniform, half anchors and their edits).

The recipe is the proxy's (its data, model size, optimizer and warmup; a cosine schedule over
the supernet's steps), driven by the engine's :class:`~nasfpn_cli.engine.trainer.Trainer`
step by step. The path of step ``s`` and the batches of every data epoch are functions of the
seed alone, so a training killed at any moment (``kill -9``) and resumed from its last
checkpoint reaches the very weights of an uninterrupted one.

The checkpoint (``OUT/supernet.pt`` by default) is written atomically every
``checkpoint_every`` steps and at the end, with an identity: the file format, the search space,
the data (a hash of both annotation files), the model and the training settings. A later search
reuses a finished file whose identity matches and resumes an unfinished one; a file from another
space, data, model or version is refused with a message naming the difference. Progress shows
on a rich bar; the losses go to ``<stem>-training/metrics.jsonl`` and ``losses.png`` beside it.
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ...engine.checkpoint import write_checkpoint
from ...errors import SearchError
from ...utils import file_sha256
from .model import build_supernet, sample_path, supernet_neck

FORMAT_VERSION = 1  # of supernet checkpoints (their identity's "format_version")
LOG_EVERY = 10  # steps per line of metrics.jsonl


def data_identity(paths: Mapping[str, str]) -> dict[str, str]:
    """The data a supernet was trained and is scored on: its annotation files' contents (not
    their paths, so a search in another folder on the same data reuses the supernet)."""
    return {"train_ann_sha256": file_sha256(paths["train_ann"]),
            "val_ann_sha256": file_sha256(paths["val_ann"])}


def differences(stored: Any, expected: Any, where: str = "") -> list[str]:
    """``key: stored vs expected`` for every leaf where two identities differ."""
    if isinstance(stored, Mapping) and isinstance(expected, Mapping):
        found: list[str] = []
        for key in sorted(set(stored) | set(expected)):
            found += differences(stored.get(key), expected.get(key),
                                 f"{where}.{key}" if where else str(key))
        return found
    if stored != expected and not (isinstance(stored, (list, tuple))
                                   and isinstance(expected, (list, tuple))
                                   and list(stored) == list(expected)):
        return [f"{where}: {stored!r} in the file, {expected!r} here"]
    return []


def read_supernet(path: Path) -> dict[str, Any]:
    """A supernet checkpoint as written by :func:`write_supernet`; SearchError otherwise."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, foreign or pickled-code files raise many kinds
        raise SearchError(f"{path}: cannot read this supernet checkpoint "
                          f"({type(exc).__name__})",
                          hint="give a file written by 'nasfpn search --reward supernet'") from None
    if not isinstance(state, dict) or not isinstance(state.get("identity"), dict) \
            or not isinstance(state.get("trainer"), dict):
        raise SearchError(f"{path}: not a supernet checkpoint (no identity or trainer state)",
                          hint="give a file written by 'nasfpn search --reward supernet'")
    return state


def check_identity(path: Path, stored: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """SearchError naming every difference between a file's identity and this search's."""
    version = stored.get("format_version")
    if version != expected["format_version"]:
        raise SearchError(f"{path}: supernet format version {version!r}; this nasfpn reads "
                          f"version {expected['format_version']}",
                          hint="train a new supernet (another --output-dir, or delete the file)")
    found = differences(stored, expected)
    if found:
        shown = "; ".join(found[:4]) + (f" (+{len(found) - 4} more)" if len(found) > 4 else "")
        raise SearchError(f"{path}: the supernet was trained for another setting: {shown}",
                          hint="train a new supernet (another --output-dir, or delete the "
                               "file), or search with the settings it was trained with")


@dataclass
class TrainingRun:
    """What a supernet training needs; ``config`` is the TrainConfig of its solver and model
    (the proxy's, with the supernet's batch size, learning rate and seed)."""

    space: Any  # a SearchSpace or an AnchoredSpace
    config: Any
    steps: int
    checkpoint_every: int
    norm_scope: str
    identity: dict[str, Any]
    path: Path
    sampling: str = "uniform"  # of the training paths (sample_path)
    split: str = "none"  # the anchored neck's sub-supernets (supernet.SPLITS)

    @property
    def log_dir(self) -> Path:
        return self.path.with_name(self.path.stem + "-training")


def batches_from(loader, step: int) -> Iterator[tuple[torch.Tensor, list[dict]]]:
    """The training batches from optimizer step ``step`` on, epoch after epoch; each epoch's
    order and augmentation are those of (seed, epoch), so a resumed run sees the same ones."""
    epoch, offset = divmod(step, len(loader))
    while True:
        loader.set_epoch(epoch)
        yield from itertools.islice(iter(loader), offset, None)
        epoch, offset = epoch + 1, 0


def step_path(run: TrainingRun, step: int):
    """The path of training step ``step`` (:func:`sample_path`, given the run's sampling where
    it is not uniform)."""
    extra = () if run.sampling == "uniform" else (run.sampling,)
    return sample_path(run.space, run.config.seed, step, *extra)


def write_supernet(run: TrainingRun, trainer) -> None:
    write_checkpoint({"identity": run.identity, "trainer": trainer.state_dict(),
                      "steps": run.steps}, run.path)


def train_supernet(run: TrainingRun, data, *, resume_from: Mapping[str, Any] | None = None,
                   progress: bool = True):
    """Train (or continue, from a checkpoint's state) the supernet; returns the detector."""
    from ...data.coco import build_dataloader
    from ...engine.metrics_log import MetricsLog
    from ...engine.optim import build_optimizer
    from ...engine.plotting import plot_run
    from ...engine.distributed import resolve_device
    from ...engine.run import seed_everything
    from ...engine.schedule import LrSchedule, build_scheduler
    from ...engine.trainer import Trainer
    from ...utils import ProgressTask

    config = run.config
    device = resolve_device(config.device)
    seed_everything(config.seed)
    detector = build_supernet(config, run.space, len(data.label_to_category), run.norm_scope, run.split)
    detector.to(device)
    loader = build_dataloader(data.train, config.batch_size, shuffle=True, seed=config.seed)
    optimizer = build_optimizer(detector, config)
    scheduler = build_scheduler(optimizer, LrSchedule(
        "cosine", total_steps=run.steps, warmup=config.warmup,
        warmup_factor=config.warmup_factor))
    trainer = Trainer(detector, optimizer, scheduler, loader, epochs=1, device=device,
                      amp=config.amp, grad_clip=config.grad_clip)
    if resume_from is not None:
        trainer.load_state_dict(resume_from["trainer"])
    supernet = supernet_neck(detector)
    log = MetricsLog(run.log_dir / "metrics.jsonl")
    log.truncate_after(trainer.step)
    sums: dict[str, float] = {}
    since, count = time.perf_counter(), 0
    detector.train()
    with ProgressTask("supernet", total=run.steps, enabled=progress,
                      completed=trainer.step) as bar:
        for images, targets in batches_from(loader, trainer.step):
            if trainer.step >= run.steps:
                break
            supernet.use(step_path(run, trainer.step))
            trainer.run_step(images, targets)
            trainer.step += 1
            count += 1
            for name, value in trainer.last_losses.items():
                sums[name] = sums.get(name, 0.0) + value
            if trainer.step % LOG_EVERY == 0 or trainer.step == run.steps:
                means = {name: total / count for name, total in sums.items()}
                elapsed = time.perf_counter() - since
                log.write({"kind": "train", "step": trainer.step, "lr": trainer.lr,
                           "epoch": trainer.step // max(1, len(loader)),  # passes over the data
                           **means,
                           "images_per_s": count * config.batch_size / max(elapsed, 1e-9),
                           "time": time.time()})
                bar.update(status=f"loss {means['loss']:.3f}  lr {trainer.lr:.2e}")
                sums, count, since = {}, 0, time.perf_counter()
            bar.update(completed=trainer.step)
            if trainer.step % run.checkpoint_every == 0 or trainer.step == run.steps:
                write_supernet(run, trainer)
    log.close()
    plot_run(run.log_dir)
    return detector


def load_trained(run: TrainingRun, state: Mapping[str, Any], num_classes: int):
    """The finished supernet of a checkpoint's state, on the run's device, in eval mode."""
    from ...engine.distributed import resolve_device

    detector = build_supernet(run.config, run.space, num_classes, run.norm_scope, run.split)
    detector.load_state_dict(state["trainer"]["model"])
    return detector.to(resolve_device(run.config.device)).eval()

