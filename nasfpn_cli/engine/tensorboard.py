"""TensorBoard logging of a training run (``nasfpn train --tensorboard``), next to metrics.jsonl.

:class:`TensorBoardLog` stands in for the run's :class:`~.metrics_log.MetricsLog`: every record
still goes to metrics.jsonl (so ``nasfpn plot`` keeps working) and its numbers also become
scalars (``train/loss``, ``train/lr``, ``eval/AP``, ``eval/AP_class/<name>`` ...).
:class:`TensorBoardHook` adds what the records lack: after each evaluation, drawings of the
detections on the first validation images and, with deep supervision, the AP of every earlier
exit (``eval/AP/exitK``; the last exit is ``eval/AP``).

The ``tensorboard`` package is an optional extra (``pip install nasfpn[tensorboard]``).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from ..utils import write_error
from .metrics_log import MetricsLog
from .trainer import Hook, Trainer

NOT_SCALARS = {"kind", "epoch", "step", "time", "per_class", "num_images", "num_detections"}
PREVIEW_IMAGES = 3
PREVIEW_SCORE_THRESHOLD = 0.3


def summary_writer(log_dir: str | Path):
    """A ``torch.utils.tensorboard.SummaryWriter``; UsageError naming the extra when the
    tensorboard package is missing. Its background writer thread fails silently: the failure
    comes back to the training's thread at the next write (:class:`TensorBoardLog`), as one
    clear error instead of a thread traceback."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UsageError("--tensorboard needs the tensorboard package",
                         hint="pip install 'nasfpn[tensorboard]' (or pip install tensorboard)") from None
    _install_quiet_excepthook()  # before the writer: its thread may fail at once
    try:
        return SummaryWriter(log_dir=str(log_dir))
    except OSError as exc:
        raise write_error(log_dir, exc) from None


def _is_event_writer(thread: threading.Thread | None) -> bool:
    """Whether ``thread`` is one of TensorBoard's event-file writer threads (whose failure the
    writer raises again in the training's thread at its next write)."""
    try:
        from tensorboard.summary.writer.event_file_writer import _AsyncWriterThread
    except ImportError:  # another tensorboard layout: its tracebacks are printed as before
        return False
    return isinstance(thread, _AsyncWriterThread)


def _install_quiet_excepthook() -> None:
    """Once per process: an uncaught exception of an event-writer thread is not printed; every
    other thread's goes to the hook that was there before."""
    previous = threading.excepthook
    if getattr(previous, "quiet_tensorboard", False):
        return

    def hook(args: threading.ExceptHookArgs) -> None:
        if not _is_event_writer(args.thread):
            previous(args)

    hook.quiet_tensorboard = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def record_scalars(record: dict[str, Any]) -> dict[str, float]:
    """The TensorBoard scalars of one metrics.jsonl record, tag -> value."""
    prefix = record.get("kind", "metrics")
    scalars = {f"{prefix}/{key}": float(value) for key, value in record.items()
               if key not in NOT_SCALARS and isinstance(value, (int, float))
               and not isinstance(value, bool)}
    for name, value in (record.get("per_class") or {}).items():
        if value is not None:
            scalars[f"{prefix}/AP_class/{name}"] = float(value)
    return scalars


class TensorBoardLog:
    """A MetricsLog that also writes every record's numbers as TensorBoard scalars."""

    def __init__(self, log: MetricsLog, writer):
        self.log = log
        self.writer = writer
        self.failed = False  # the event file could not be written: closing it would fail again

    def write(self, record: dict[str, Any]) -> None:
        self.log.write(record)
        step = int(record.get("step", 0))
        try:
            for tag, value in record_scalars(record).items():
                self.writer.add_scalar(tag, value, step)
            self.writer.flush()
        except OSError as exc:  # raised by the writer thread (full disk...), named here
            self.failed = True
            raise write_error(Path(self.writer.log_dir) / "events.out.tfevents.*", exc) from None

    def truncate_after(self, step: int) -> None:
        self.log.truncate_after(step)

    def clear(self) -> None:
        self.log.clear()

    def close(self) -> None:
        self.log.close()
        try:
            self.writer.close()
        except OSError as exc:
            if not self.failed:
                raise write_error(Path(self.writer.log_dir), exc) from None


class TensorBoardHook(Hook):
    """After each evaluation: prediction drawings of the first validation images and, with deep
    supervision, the AP of every earlier exit (all ranks evaluate, rank 0 writes)."""

    def __init__(self, writer, val_dataset, labels, *,
                 evaluate_at_exit: Callable[[Trainer, int], dict[str, Any]] | None = None,
                 num_images: int = PREVIEW_IMAGES):
        self.writer = writer  # None on ranks other than 0
        self.val = val_dataset
        self.labels = labels
        self.evaluate_at_exit = evaluate_at_exit
        self.num_images = num_images
        self._seen_steps: set[int] = set()

    def after_epoch(self, trainer: Trainer) -> None:
        history = trainer.metrics_history
        if not history or history[-1].get("epoch") != trainer.epoch:
            return  # no evaluation this epoch
        step = int(history[-1]["step"])
        if step in self._seen_steps:
            return
        self._seen_steps.add(step)
        network = trainer.module.network
        if self.evaluate_at_exit is not None and network.deep_supervision:
            for stack in range(1, network.num_stacks):
                metrics = self.evaluate_at_exit(trainer, stack)
                if self.writer is not None:
                    self.writer.add_scalar(f"eval/AP/exit{stack}", float(metrics["AP"]), step)
                    self.writer.add_scalar(f"eval/AP50/exit{stack}", float(metrics["AP50"]),
                                           step)
        if self.writer is not None:
            self._previews(trainer, step)
            self.writer.flush()

    def _previews(self, trainer: Trainer, step: int) -> None:
        from .prediction import draw_detections, predict_image

        detector = trainer.eval_module
        was_training = detector.training
        size = int(self.val.transform.size) if hasattr(self.val.transform, "size") else None
        try:
            for index in range(min(self.num_images, len(self.val))):
                image = self.val.load_image(index)
                detections = predict_image(detector, image, size or max(image.size), self.labels,
                                           PREVIEW_SCORE_THRESHOLD)
                drawing = np.asarray(draw_detections(image, detections), dtype=np.uint8)
                self.writer.add_image(f"predictions/{index}", drawing, step, dataformats="HWC")
        finally:
            detector.train(was_training)


def at_exit(evaluate_run: Callable[[Trainer], dict[str, Any]]
            ) -> Callable[[Trainer, int], dict[str, Any]]:
    """``evaluate_run`` made to score the model at stack ``exit_at`` (restored afterwards)."""

    def evaluate_exit(trainer: Trainer, exit_at: int) -> dict[str, Any]:
        detector = trainer.eval_module
        previous = detector.exit_at
        detector.exit_at = exit_at
        try:
            return evaluate_run(trainer)
        finally:
            detector.exit_at = previous

    return evaluate_exit


def tensorboard_hook(writer, val_dataset, data,
                     evaluate_run: Callable[[Trainer], dict[str, Any]]) -> TensorBoardHook:
    """The hook a run with ``--tensorboard`` and validation data gets (``data``: the run's
    :class:`~.training.DataBundle`, for the label names)."""
    from .prediction import LabelInfo

    labels = LabelInfo(data.label_to_category, data.category_names)
    return TensorBoardHook(writer, val_dataset, labels, evaluate_at_exit=at_exit(evaluate_run))
