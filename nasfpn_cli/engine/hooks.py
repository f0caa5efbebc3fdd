"""The standard hooks of a training run: progress and metrics logging, periodic evaluation,
and checkpoints. Hooks that write files act on rank 0 only, through the run's
:class:`~.run_store.RunStore`; what one hook tells another goes through a shared
:class:`RunEvents` (as detectron2's hooks share an ``EventStorage``), not through the trainer."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from rich.progress import Progress, TaskID

from . import distributed
from .checkpoint import capture_rng_state
from .metrics_log import MetricsLog
from .run_store import RunStore
from ..utils import make_progress
from .progress import RunEndColumn
from .trainer import Hook, Trainer


class LoggingHook(Hook):
    """Every ``log_every`` steps (and at each epoch end): a ``"train"`` record in metrics.jsonl
    with the mean losses since the last record, lr and images/s, and the progress bar status."""

    def __init__(self, log: MetricsLog | None, *, log_every: int, world_size: int = 1,
                 progress: bool = True):
        self.log = log
        self.log_every = log_every
        self.world_size = world_size
        self.show_progress = progress
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._sums: dict[str, float] = {}
        self._count = 0
        self._images = 0
        self._since = time.perf_counter()
        self._epoch = 1

    def before_train(self, trainer: Trainer) -> None:
        total = trainer.epochs * trainer.steps_per_epoch()
        self._bar = make_progress(enabled=self.show_progress, eta_column=RunEndColumn())
        self._bar.start()
        self._task = self._bar.add_task(self._description(trainer), total=total,
                                        completed=trainer.step, first=trainer.step, status="")
        self._since = time.perf_counter()

    def before_epoch(self, trainer: Trainer) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=self._description(trainer))

    def after_step(self, trainer: Trainer) -> None:
        for name, value in trainer.last_losses.items():
            self._sums[name] = self._sums.get(name, 0.0) + value
        self._count += 1
        self._images += trainer.last_batch_size * self.world_size
        self._epoch = trainer.epoch + 1  # the epoch this step belongs to (at its end, the
        # trainer has already counted the epoch as done)
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task)
        if trainer.step % self.log_every == 0:
            self._flush(trainer)

    def after_epoch(self, trainer: Trainer) -> None:
        if self._count:
            self._flush(trainer)

    def after_train(self, trainer: Trainer) -> None:
        if self._bar is not None:
            self._bar.stop()
        if self.log is not None:
            self.log.close()

    def _description(self, trainer: Trainer) -> str:
        return f"epoch {min(trainer.epoch + 1, trainer.epochs)}/{trainer.epochs}"

    def _flush(self, trainer: Trainer) -> None:
        elapsed = max(time.perf_counter() - self._since, 1e-9)
        means = {name: total / self._count for name, total in self._sums.items()}
        record: dict[str, Any] = {"kind": "train", "epoch": self._epoch, "step": trainer.step,
                                  "lr": trainer.lr, **means,
                                  "images_per_s": self._images / elapsed, "time": time.time()}
        if self.log is not None:
            self.log.write(record)
        if self._bar is not None and self._task is not None:
            shown = "  ".join(f"{k} {v:.3f}" for k, v in means.items())
            self._bar.update(self._task, status=f"{shown}  lr {trainer.lr:.2e}  "
                                                f"{record['images_per_s']:.1f} img/s")
        self._sums, self._count, self._images = {}, 0, 0
        self._since = time.perf_counter()


@dataclass
class RunEvents:
    """What the hooks of one run tell each other about the epoch just ended: its evaluation
    record (None when it had none) and whether that was the best AP so far."""

    evaluation: dict[str, Any] | None = None
    improved: bool = False

    def new_epoch(self) -> None:
        """Forget the last epoch's news."""
        self.evaluation, self.improved = None, False


class EvalHook(Hook):
    """Evaluates every ``every`` epochs and after the last; appends to ``metrics_history``,
    tracks ``best_ap`` and tells ``events`` (for the checkpoint hook) whether AP improved."""

    def __init__(self, evaluate_fn: Callable[[Trainer], dict[str, Any]], *, every: int,
                 log: MetricsLog | None, events: RunEvents):
        self.evaluate_fn = evaluate_fn
        self.every = every
        self.log = log
        self.events = events

    def after_epoch(self, trainer: Trainer) -> None:
        self.events.new_epoch()
        if trainer.epoch % self.every != 0 and trainer.epoch != trainer.epochs:
            return
        metrics = self.evaluate_fn(trainer)
        record = {"kind": "eval", "epoch": trainer.epoch, "step": trainer.step, **metrics}
        trainer.metrics_history.append(record)
        self.events.evaluation = record
        if metrics["AP"] > trainer.best_ap:
            trainer.best_ap = float(metrics["AP"])
            self.events.improved = True
        if self.log is not None:
            self.log.write(record)


class CheckpointHook(Hook):
    """After every epoch: ``last.pt`` (and ``best.pt`` when ``events`` says AP improved),
    written atomically by rank 0 into ``store``. RNG states of all ranks are stored so a
    resumed job draws the same numbers."""

    def __init__(self, store: RunStore, config: dict[str, Any], *, is_main: bool,
                 events: RunEvents):
        self.store = store
        self.config = config
        self.is_main = is_main
        self.events = events

    def after_epoch(self, trainer: Trainer) -> None:
        rng_states = distributed.all_gather_objects(capture_rng_state())
        if not self.is_main:
            return
        state = {**trainer.state_dict(), "rng": rng_states[0], "rng_all_ranks": rng_states,
                 "config": self.config}
        self.store.write_checkpoint(state, best=self.events.improved)


class DropBlockHook(Hook):
    """Moves DropBlock's keep probability along its schedule: a function of the step, so a
    resumed run continues where it stopped."""

    def __init__(self, total_steps: int):
        self.total_steps = max(1, total_steps)

    def before_train(self, trainer: Trainer) -> None:
        self._update(trainer)

    def after_step(self, trainer: Trainer) -> None:
        self._update(trainer)

    def _update(self, trainer: Trainer) -> None:
        from ..modeling.dropblock import set_dropblock_progress

        set_dropblock_progress(trainer.module, trainer.step / self.total_steps)
