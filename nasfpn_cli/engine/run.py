"""``train(config)``: the whole training run, top to bottom, in two steps.

:func:`prepare` checks the data and resolves device, datasets, detector, optimizer and
schedule once (the stored settings and state when resuming); :func:`fit` lets the
:class:`Trainer` run them with logging, evaluation and checkpoint hooks, writing the run's
files through a :class:`~.run_store.RunStore` (or none). Used by ``nasfpn train`` and by the
architecture search's proxy task (``write_files=False``: no store).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import random
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..console import err_console, print_warning
from ..errors import CheckpointError, DatasetError, NasfpnError
from ..utils import file_sha256
from . import distributed, precision
from .checkpoint import Checkpoint, restore_rng_state, transfer_weights
from .config import SECTIONS, TrainConfig
from .distributed import DistContext, resolve_device
from .ema import ModelEma
from .evaluation import evaluate
from .hooks import CheckpointHook, DropBlockHook, EvalHook, LoggingHook, RunEvents
from .optim import build_optimizer
from .run_store import RunStore
from .schedule import LrSchedule, build_scheduler
from .summary import start_lines
from .trainer import Trainer


@dataclass
class TrainResult:
    """What a finished run reached: best validation AP (-1 without validation data), the last
    evaluation's metrics (empty without), where its files are, and the whole history."""

    best_ap: float
    last_metrics: dict[str, Any]
    output_dir: Path
    metrics_history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    epochs: int = 0
    steps: int = 0
    model: nn.Module | None = None  # the trained detector (unwrapped), e.g. to score it further


@dataclass
class DataBundle:
    """The datasets of a run and what a checkpoint must remember about their labels."""

    train: Any
    val: Any | None
    label_to_category: list[int]
    category_names: list[str]


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch so model initialisation is reproducible."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _check_split(ann: Path, images: Path, config: TrainConfig, split: str) -> dict | None:
    """Run the dataset checks; refuse bad data (the report on stderr, then DatasetError) unless
    ``skip_bad``, where the cleaned annotations are returned instead."""
    from ..data.checks import require_clean

    return require_clean(ann, images, split, skip_bad=config.skip_bad)


def build_data(config: TrainConfig, ctx: DistContext) -> DataBundle:
    """Resolve, check (on rank 0) and open the train and validation datasets."""
    from ..data.coco import CocoDetection, EvalTransform, TrainTransform, resolve_data_paths

    train_ann, train_images, val_ann, val_images = resolve_data_paths(
        config.data_dir, config.train_ann, config.train_images, config.val_ann, config.val_images)
    splits = [("train", train_ann, train_images)]
    if val_ann is not None:
        splits.append(("val", val_ann, val_images))
    cleaned: dict[str, dict | None] = {}
    failure: str | None = None
    if ctx.is_main:
        try:
            for split, ann, images in splits:
                cleaned[split] = _check_split(ann, images, config, split)
        except DatasetError as exc:
            failure = exc.render()
            if not ctx.is_distributed:
                raise
    cleaned, failure = distributed.broadcast_object((cleaned, failure))
    if failure is not None:
        raise DatasetError(failure if ctx.is_main else "the data checks failed on rank 0")
    transform = TrainTransform(config.image_size, tuple(config.scale_range), config.flip_prob)
    train = CocoDetection(train_ann, train_images, transform, annotations=cleaned.get("train"),
                          seed=config.seed)
    val = None
    if val_ann is not None:
        val = CocoDetection(val_ann, val_images, EvalTransform(config.image_size),
                            annotations=cleaned.get("val"))
        if val.label_to_category != train.label_to_category:
            raise DatasetError(f"{val_ann}: its categories {val.label_to_category} differ from "
                               f"the training categories {train.label_to_category} ({train_ann})")
    if len(train) < config.batch_size * ctx.world_size:
        raise DatasetError(f"{train_ann}: {len(train)} training images are fewer than one batch "
                           f"({config.batch_size} x {ctx.world_size} processes)",
                           hint="lower --batch-size")
    return DataBundle(train, val, list(train.label_to_category), list(train.category_names))


def build_model(config: TrainConfig, genotype, num_classes: int,
                backbone_weights: str | Path | None = None) -> nn.Module:
    """The detector the config describes (:meth:`TrainConfig.model_spec`), its backbone started
    from ``backbone_weights`` (a local file: :func:`fetch_backbone_weights`) when given."""
    from ..modeling.detector import build_detector

    return build_detector(config.model_spec(genotype, num_classes),
                          backbone_weights=backbone_weights)


def fetch_backbone_weights(config: TrainConfig, ctx: DistContext, progress: bool = True
                           ) -> Path | None:
    """The local file of ``config.backbone_weights`` (None: from scratch). A name or URL is
    downloaded into the torch hub cache by rank 0 alone while the others wait; then every rank
    uses (and checks) the cached file. An error on rank 0 stops every rank."""
    from ..modeling.pretrained import resolve_weights

    if config.backbone_weights is None:
        return None
    path: Path | None = None
    error: NasfpnError | None = None
    if ctx.is_main:
        try:
            path = resolve_weights(config.backbone_weights, config.model.backbone,
                                   progress=progress)
        except NasfpnError as exc:
            error = exc
    failed = distributed.broadcast_object(error is not None)  # the others wait for the download
    if error is not None:
        raise error
    if failed:
        raise NasfpnError("fetching the backbone weights failed on rank 0")
    return path or resolve_weights(config.backbone_weights, config.model.backbone, progress=False)


# where a resumed run runs (not what it trains): these may change on --resume without a word
RUN_PLACE = ("resume", "workers", "device", "output_dir", "init_from")


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


def _resumed_config(config: TrainConfig, checkpoint: Checkpoint,
                    given: Collection[str] | None = None) -> TrainConfig:
    """The run's stored configuration; only where it runs (workers, device) may change. Every
    other setting asked for (``given``: the names set explicitly; None: those that differ from
    the defaults) that differs from the stored one is named in one warning with both values,
    the genotype included (also when its file changed since the run started)."""
    from .run_store import genotype_file_change

    stored = TrainConfig.from_dict(checkpoint.train_config)
    defaults = TrainConfig()

    def asked(name: str) -> bool:
        return name in given if given is not None else \
            config.value(name) != defaults.value(name)

    names = [name for names in SECTIONS.values() for name in names]
    ignored = [f"--{name.replace('_', '-')} {_shown(config.value(name))} (the run's: "
               f"{_shown(stored.value(name))})" for name in names
               if name not in (*RUN_PLACE, "genotype") and asked(name)
               and config.value(name) != stored.value(name)]
    if asked("genotype"):
        if config.genotype != stored.genotype:
            ignored.insert(0, f"GENOTYPE {config.genotype} (the run's: {stored.genotype})")
        else:
            change = genotype_file_change(config.genotype, checkpoint.config["genotype_text"])
            if change is not None:
                ignored.insert(0, f"GENOTYPE {config.genotype} as it is now (it {change}; the "
                                  "run's stored genotype text)")
    if ignored:
        print_warning("--resume continues with the run's stored settings; ignoring "
                      + ", ".join(ignored))
    return dataclasses.replace(stored, resume=True, workers=config.workers, device=config.device,
                               output_dir=config.output_dir)


def train(config: TrainConfig, *, progress: bool = True, genotype=None,
          data: DataBundle | None = None, write_files: bool = True,
          extra_hooks: tuple = (), given: Collection[str] | None = None,
          advice: bool = False) -> TrainResult:
    """Train a detector as ``config`` says; see the module docstring. Under ``torchrun`` every
    process calls this and rank 0 writes the files.

    For many short runs (the search's proxy task): ``genotype`` is a Genotype to build instead of
    loading ``config.genotype``; ``data`` datasets opened (and checked) once by
    :func:`build_data`; ``write_files=False`` leaves nothing on disk (no checkpoints, metrics or
    config.json); ``extra_hooks`` run after the built-in ones (e.g. to stop a diverging run).
    ``given``: the settings the caller set explicitly (a command line), so that ``--resume``
    names each one the stored settings override, even one equal to its default.
    ``advice``: warn once about settings that train badly (:mod:`.advice`; ``nasfpn train``).
    """
    config = dataclasses.replace(config).validated()
    started_here = not distributed.is_initialized()
    ctx = distributed.init_distributed(resolve_device(config.device))
    try:
        store = RunStore(config.output_dir) if write_files else None
        with _run_folder(store, ctx):
            prepared = prepare(config, ctx, store=store, genotype=genotype, data=data,
                               given=given, advice=advice, progress=progress)
            return fit(prepared, store=store, progress=progress, extra_hooks=tuple(extra_hooks))
    finally:
        if started_here:
            distributed.shutdown_distributed()


@contextlib.contextmanager
def _run_folder(store: RunStore | None, ctx: DistContext) -> Iterator[None]:
    """Rank 0 holds the run folder's lock (:meth:`RunStore.lock`) for the whole run, taken before
    anything there is read, so two commands never write one run; when another process holds it,
    every rank stops. Without a store (nothing written) there is nothing to lock."""
    if store is None:
        yield
        return
    with contextlib.ExitStack() as stack:
        error: NasfpnError | None = None
        if ctx.is_main:
            try:
                stack.enter_context(store.lock())
            except NasfpnError as exc:
                error = exc
        message = distributed.broadcast_object(None if error is None else str(error))
        if error is not None:
            raise error
        if message is not None:
            raise NasfpnError(message)
        yield


def _advise(config: TrainConfig, model: nn.Module, train_images: int, total_steps: int) -> None:
    """Warn once about settings that train badly (:mod:`.advice`)."""
    from .advice import from_scratch_warning, warmup_warning

    backbone_params = sum(p.numel() for p in model.network.backbone.parameters())
    for warning in (from_scratch_warning(config.model.backbone, backbone_params,
                                         config.backbone_weights, train_images),
                    warmup_warning(config.warmup, total_steps)):
        if warning is not None:
            print_warning(warning)


@dataclass
class Prepared:
    """Everything a run needs, resolved once by :func:`prepare`: the settings it trains with
    (the stored ones on a resume), where it runs, its data, model, optimizer and schedule."""

    config: TrainConfig
    ctx: DistContext
    device: torch.device
    genotype: Any
    data: DataBundle
    model: nn.Module  # the bare detector, on its device
    wrapped: nn.Module  # what the trainer steps: the model, or DistributedDataParallel of it
    loader: Any
    optimizer: torch.optim.Optimizer
    schedule: LrSchedule
    scheduler: Any
    resume_state: dict[str, Any] | None = None  # the checkpoint to continue from
    advice: bool = False  # warn once, after the start lines, about settings that train badly
    weights: dict[str, str] | None = None  # the weights file loaded: source, file, sha256


def prepare(config: TrainConfig, ctx: DistContext, *, store: RunStore | None = None,
            genotype=None, data: DataBundle | None = None,
            given: Collection[str] | None = None, advice: bool = False,
            progress: bool = True) -> Prepared:
    """Resolve device, data, model, optimizer and schedule for ``config``, once. ``store``: the
    run folder the run will write (None: nothing is written), refused when a run already lives
    there; with ``config.resume`` the stored settings, genotype and state of
    ``config.output_dir`` win (:func:`_resumed_config`). ``genotype``, ``data``, ``advice`` and
    ``progress`` (here: the download bar of the backbone weights) as for :func:`train`."""
    from ..genotype import load_genotype

    resume_state: dict[str, Any] | None = None
    if config.resume:
        resumed_store = store or RunStore(config.output_dir)
        if not resumed_store.last.is_file():
            raise CheckpointError(f"{resumed_store.last}: nothing to resume",
                                  hint="start without --resume, or check --output-dir")
        resumed = resumed_store.read_last()
        resume_state = resumed.state
        config = _resumed_config(config, resumed, given)
        genotype = resumed.spec.genotype
    else:
        if store is not None and store.last.exists():
            raise CheckpointError(f"{store.last}: a run already lives in {store.path}",
                                  hint="pass --resume to continue it, or choose another "
                                       "--output-dir")
        genotype = genotype if genotype is not None else load_genotype(config.genotype)
    device = resolve_device(config.device, ctx)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    seed_everything(config.seed)

    data = data if data is not None else build_data(config, ctx)
    # a resumed run loads every weight from its checkpoint: no ImageNet file is needed then
    weights = used = None
    if resume_state is None:
        weights = fetch_backbone_weights(config, ctx, progress=progress)
    if weights is not None:
        used = {"source": str(config.backbone_weights), "file": os.path.abspath(weights),
                "sha256": file_sha256(weights)}
    model = build_model(config, genotype, len(data.label_to_category), weights)
    if config.init_from:
        source = Checkpoint.read(config.init_from)
        loaded, skipped = transfer_weights(model, source.state["model"], config.init_from)
        if ctx.is_main:
            err_console.print(f"--init-from: loaded {loaded} tensors from {config.init_from}"
                              + (f", kept {len(skipped)} of this model as built" if skipped else ""),
                              markup=False)
    if config.sync_bn and ctx.is_distributed:
        if device.type == "cuda":
            from ..modeling.layers import convert_sync_batchnorm

            model = convert_sync_batchnorm(model)
        elif ctx.is_main:
            print_warning("--sync-bn needs CUDA (torch has no CPU SyncBatchNorm); batch norm "
                          "statistics stay per process")
    model.to(device, memory_format=precision.memory_format(config.channels_last, device))
    wrapped: nn.Module = model
    if ctx.is_distributed:
        wrapped = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=config.model.deep_supervision)

    from ..data.coco import build_dataloader

    loader = build_dataloader(data.train, config.batch_size, shuffle=True,
                              workers=config.workers, seed=config.seed,
                              distributed=ctx.is_distributed, pin_memory=device.type == "cuda")
    steps_per_epoch = len(loader)
    optimizer = build_optimizer(model, config)
    schedule = LrSchedule(config.schedule, total_steps=config.epochs * steps_per_epoch,
                          warmup=config.warmup, warmup_factor=config.warmup_factor,
                          milestones=tuple(m * steps_per_epoch
                                           for m in config.resolved_milestones()),
                          gamma=config.gamma)
    scheduler = build_scheduler(optimizer, schedule)
    return Prepared(config, ctx, device, genotype, data, model, wrapped, loader, optimizer,
                    schedule, scheduler, resume_state, advice=advice and resume_state is None,
                    weights=used)


def fit(prepared: Prepared, *, store: RunStore | None = None, progress: bool = True,
        extra_hooks: tuple = ()) -> TrainResult:
    """Train what :func:`prepare` resolved, with the logging, evaluation and checkpoint hooks
    (sharing :class:`~.hooks.RunEvents`), then ``extra_hooks``. With a ``store`` rank 0 writes
    the run's files there (config.json, metrics.jsonl, last.pt, best.pt); without, nothing."""
    from ..genotype import format_genotype

    p = prepared
    config, ctx, device, data = p.config, p.ctx, p.device, p.data
    show = progress and ctx.is_main
    log = store.metrics_log() if ctx.is_main and store is not None else None
    writer = None
    if config.tensorboard and ctx.is_main:
        from .tensorboard import TensorBoardLog, summary_writer

        writer = summary_writer(Path(config.output_dir))
        log = TensorBoardLog(log, writer)
    checkpoint_config = {
        "genotype_text": format_genotype(p.genotype),
        "model": p.model.config,
        "train": config.to_dict(),
        "data": {"label_to_category": data.label_to_category,
                 "category_names": data.category_names},
        # what --amp and --channels-last (train's modes) meant on this run's device
        "numerics": precision.resolved(config.amp, config.channels_last, device),
    }
    if p.weights is not None:  # the file the backbone started from, by content
        checkpoint_config["backbone_weights"] = p.weights
    hooks = []
    events = RunEvents()  # what the evaluation tells the checkpoint hook
    if config.model.dropblock is not None:
        hooks.append(DropBlockHook(total_steps=p.schedule.total_steps))
    hooks.append(LoggingHook(log, log_every=config.log_every, world_size=ctx.world_size,
                             progress=show))
    if data.val is not None:
        val = data.val

        def evaluate_run(trainer: Trainer) -> dict[str, Any]:
            return evaluate(trainer.eval_module, val,
                            batch_size=config.eval_batch_size or config.batch_size,
                            workers=config.workers, device=device, progress=show,
                            channels_last=config.channels_last)

        hooks.append(EvalHook(evaluate_run, every=config.eval_every, log=log, events=events))
        if config.tensorboard:
            from .tensorboard import tensorboard_hook

            hooks.append(tensorboard_hook(writer, val, data, evaluate_run))
    if store is not None:
        hooks.append(CheckpointHook(store, checkpoint_config, is_main=ctx.is_main, events=events))
    ema = ModelEma(p.model, config.ema_decay) if config.ema else None
    trainer = Trainer(p.wrapped, p.optimizer, p.scheduler, p.loader, epochs=config.epochs,
                      device=device, amp=config.amp, channels_last=config.channels_last,
                      grad_clip=config.grad_clip, hooks=[*hooks, *extra_hooks], ema=ema)

    if p.resume_state is not None:
        trainer.load_state_dict(p.resume_state)
        states = p.resume_state.get("rng_all_ranks") or [p.resume_state["rng"]]
        restore_rng_state(states[ctx.rank] if len(states) == ctx.world_size else states[0])
        if log is not None:
            log.truncate_after(trainer.step)
    elif ctx.is_main and store is not None:
        store.write_config(checkpoint_config)
        if log is not None:
            log.clear()  # a fresh run starts a fresh log
    if show and trainer.step == 0:
        for line in start_lines(p.model, config, data.train, p.schedule.total_steps, device):
            err_console.print(line, markup=False, highlight=False)
    if store is not None and ctx.is_main:  # a run (not a proxy trial) says its numerics
        err_console.print(precision.start_line(config.amp, config.channels_last, device),
                          markup=False, highlight=False)
    if p.advice and ctx.is_main:
        _advise(config, p.model, len(data.train), p.schedule.total_steps)
    distributed.barrier()
    trainer.train()
    history = trainer.metrics_history
    return TrainResult(best_ap=trainer.best_ap, last_metrics=dict(history[-1]) if history else {},
                       output_dir=Path(config.output_dir), metrics_history=list(history),
                       epochs=trainer.epoch, steps=trainer.step, model=p.model)
