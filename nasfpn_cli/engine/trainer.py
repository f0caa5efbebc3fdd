"""The training loop: epochs of optimizer steps, with hooks for everything else.

The loop itself only moves data, runs the model, checks the loss and steps the optimizer and
schedule. Logging, evaluation and checkpoints are hooks (:mod:`nasfpn_cli.engine.hooks`), called
in the order given, in the style of detectron2's ``TrainerBase`` but smaller.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import torch
from torch import nn

from ..errors import CheckpointError, TrainingError
from . import distributed, precision
from .ema import ModelEma
from .optim import load_optimizer_state


class Hook:
    """Override the moments you need; ``trainer`` gives access to the whole training state."""

    def before_train(self, trainer: "Trainer") -> None: ...

    def before_epoch(self, trainer: "Trainer") -> None: ...

    def after_step(self, trainer: "Trainer") -> None: ...

    def after_epoch(self, trainer: "Trainer") -> None: ...

    def after_train(self, trainer: "Trainer") -> None: ...


class NonFiniteLossError(TrainingError):
    """The loss became NaN or infinite; training stops before the weights are touched."""


def move_targets(targets: Sequence[dict[str, Any]], device: torch.device) -> list[dict[str, Any]]:
    return [{k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
             for k, v in target.items()} for target in targets]


class Trainer:
    """Runs ``epochs`` epochs over ``loader`` from ``start_epoch``/``start_step``.

    ``model(images, targets)`` must return a dict of scalar losses with the total under "loss".
    State the hooks read or write: ``epoch`` (epochs completed), ``step`` (optimizer steps),
    ``last_losses``, ``last_batch_size``, ``metrics_history``, ``best_ap``; a hook
    sets ``stop_training`` to end the run after the current epoch (the schedule stays planned
    for ``epochs``: a truncated run, e.g. the reference stopped early as a proxy).
    With ``ema`` (a :class:`~nasfpn_cli.engine.ema.ModelEma`) the average follows every step,
    is saved and restored with the state, and :attr:`eval_module` is the averaged model.
    ``amp`` is a mode of ``--amp`` (or a bool: on/off), resolved for ``device`` by
    :func:`~nasfpn_cli.engine.precision.autocast_dtype`; ``channels_last`` (a mode of
    ``--channels-last`` or a bool, resolved for ``device`` alike) puts every batch in NHWC layout
    (the caller converts the model, before wrapping it for distributed training).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler, loader: Iterable, *,
                 epochs: int, device: torch.device, amp: bool | str = False,
                 channels_last: bool | str = False, grad_clip: float | None = None, hooks: Sequence[Hook] = (),
                 start_epoch: int = 0, start_step: int = 0, ema: ModelEma | None = None):
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.loader = loader
        self.epochs = epochs
        self.device = device
        self.grad_clip = grad_clip
        self.hooks = list(hooks)
        self.ema = ema
        self.epoch = start_epoch
        self.step = start_step
        self.autocast_dtype = precision.autocast_dtype(amp, device)
        self.amp = self.autocast_dtype is not None
        self.memory_format = precision.memory_format(channels_last, device)
        # bf16 autocast needs no loss scaling; fp16 does
        self.scaler = torch.amp.GradScaler(device.type,
                                           enabled=self.autocast_dtype == torch.float16)
        self.last_losses: dict[str, float] = {}
        self.last_batch_size = 0
        self.metrics_history: list[dict[str, Any]] = []
        self.best_ap = -1.0
        self.stop_training = False

    @property
    def module(self) -> nn.Module:
        """The bare model (unwrapped from DistributedDataParallel)."""
        return getattr(self.model, "module", self.model)

    @property
    def eval_module(self) -> nn.Module:
        """The model to evaluate and export: the weight average when there is one."""
        return self.ema.module if self.ema is not None else self.module

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def steps_per_epoch(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]

    def train(self) -> None:
        self.model.train()
        self._call("before_train")
        try:
            while self.epoch < self.epochs and not self.stop_training:
                self._set_data_epoch()
                self._call("before_epoch")
                for images, targets in self.loader:
                    self.run_step(images, targets)
                    self.step += 1
                    self._call("after_step")
                self.epoch += 1
                self._call("after_epoch")
        finally:
            self._call("after_train")

    def _set_data_epoch(self) -> None:
        """Data order and augmentation depend on (seed, epoch) only, so a resumed run sees the
        same batches as an uninterrupted one."""
        for part in (self.loader, getattr(self.loader, "sampler", None)):
            if hasattr(part, "set_epoch"):
                part.set_epoch(self.epoch)
                return

    def _autocast(self):
        return precision.autocast_context(self.autocast_dtype, self.device)

    def run_step(self, images: torch.Tensor, targets: Sequence[dict[str, Any]]) -> None:
        """One optimizer step; raises :class:`NonFiniteLossError` before any weight changes."""
        images = images.to(self.device, non_blocking=True, memory_format=self.memory_format)
        targets = move_targets(targets, self.device)
        with self._autocast():
            losses = self.model(images, targets)
        loss = losses["loss"]
        values = {name: float(value.detach()) for name, value in losses.items()}
        # every rank must agree to stop, or the others would wait forever in backward
        checked = distributed.all_reduce_mean(values)
        if not all(math.isfinite(v) for v in checked.values()):
            shown = ", ".join(f"{k}={v:.4g}" for k, v in values.items())
            raise NonFiniteLossError(
                f"non-finite loss at step {self.step + 1} (epoch {self.epoch + 1}): {shown}; "
                "training stopped, checkpoints written before are intact",
                hint="lower --lr, raise --warmup or lower --grad-clip; last.pt still holds the "
                     "last good epoch (--init-from it in a new --output-dir)")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.module)
        self.last_losses = checked
        self.last_batch_size = int(images.shape[0])

    def state_dict(self) -> dict[str, Any]:
        """The resumable part of a checkpoint (the caller adds rng and config)."""
        state = {
            "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "metrics_history": list(self.metrics_history),
            "best_ap": self.best_ap,
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint written by :meth:`state_dict`."""
        self.module.load_state_dict(state["model"])
        load_optimizer_state(self.optimizer, state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.epoch = int(state["epoch"])
        self.step = int(state["step"])
        self.metrics_history = list(state.get("metrics_history", []))
        self.best_ap = float(state.get("best_ap", -1.0))
        if self.ema is not None:
            if "ema" not in state:
                raise CheckpointError("the checkpoint holds no EMA weights to continue",
                                      hint="it was written without --ema")
            self.ema.load_state_dict(state["ema"])

    def _call(self, moment: str) -> None:
        for hook in self.hooks:
            getattr(hook, moment)(self)
