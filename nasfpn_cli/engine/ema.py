"""An exponential moving average (EMA) of a model's weights, for evaluation and checkpoints.

After every optimizer step the average moves towards the live weights:
``ema = d * ema + (1 - d) * live`` with ``d = min(decay, (1 + n) / (10 + n))`` after ``n``
earlier updates, so the first steps (when the average would still hold the random
initialisation) follow the live weights closely and the average only settles to ``decay`` later.
Float buffers (batch-norm statistics) are averaged too, integer ones copied. A short, noisy
training run ends at weights that jitter around a better point; the average sits near that point.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class ModelEma:
    """The averaged copy of ``model`` (``module``, kept in eval mode, no gradients)."""

    def __init__(self, model: nn.Module, decay: float = 0.999):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must lie in (0, 1), got {decay}")
        self.module = copy.deepcopy(model).eval()
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)
        self.decay = float(decay)
        self.updates = 0

    def current_decay(self) -> float:
        """The decay the next update uses (ramps up from 0.1 towards ``decay``)."""
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average one step towards ``model``'s current weights."""
        decay = self.current_decay()
        live = model.state_dict()
        floats_ema, floats_live = [], []
        for name, value in self.module.state_dict().items():
            if value.dtype.is_floating_point:
                floats_ema.append(value)
                floats_live.append(live[name].detach())
            else:
                value.copy_(live[name])
        torch._foreach_lerp_(floats_ema, floats_live, 1.0 - decay)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint stores: the averaged weights, the update count and the decay."""
        return {"model": self.module.state_dict(), "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the average exactly where :meth:`state_dict` left it."""
        self.module.load_state_dict(state["model"])
        self.updates = int(state["updates"])
        self.decay = float(state["decay"])
