"""Learning-rate schedules stepped once per optimizer step: linear warmup, then cosine or steps.

The multiplier is a pure function of the step, so a resumed run lands on exactly the same lr.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.optim.lr_scheduler import LambdaLR


@dataclass(frozen=True)
class LrSchedule:
    """``factor(step)`` scales the base lr: warmup from ``warmup_factor`` to 1 over ``warmup``
    steps, then a cosine decay to 0 at ``total_steps`` or x``gamma`` at each milestone step."""

    kind: str
    total_steps: int
    warmup: int = 0
    warmup_factor: float = 0.001
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1

    def factor(self, step: int) -> float:
        if self.kind == "cosine":
            progress = min(step, self.total_steps) / max(1, self.total_steps)
            decay = 0.5 * (1.0 + math.cos(math.pi * progress))
        elif self.kind == "step":
            decay = self.gamma ** sum(1 for m in self.milestones if step >= m)
        else:
            raise ValueError(f"unknown schedule {self.kind!r}")
        if step < self.warmup:
            alpha = step / self.warmup
            decay *= self.warmup_factor * (1.0 - alpha) + alpha
        return decay


def build_scheduler(optimizer: torch.optim.Optimizer, schedule: LrSchedule) -> LambdaLR:
    """A LambdaLR whose state (the step count) goes into checkpoints."""
    return LambdaLR(optimizer, lr_lambda=schedule.factor)
