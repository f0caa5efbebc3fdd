"""DropBlock (Ghiasi et al., 2018): drop contiguous square regions of a feature map in training.

NAS-FPN applies it after the batch norm of every merging cell. The keep probability usually starts
at 1 and decreases linearly to its final value over training: :func:`set_dropblock_progress`
moves every DropBlock in a model along that schedule.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .spec import DropBlockSpec


class DropBlock2d(nn.Module):
    """Zero square blocks of ``block_size`` at random and rescale the rest; identity in eval mode.

    ``keep_prob`` is the current keep probability (changed by the schedule), ``final_keep_prob`` the
    value the linear schedule reaches at the end of training.
    """

    def __init__(self, block_size: int = 3, keep_prob: float = 0.9, schedule: str = "linear"):
        super().__init__()
        DropBlockSpec(block_size, keep_prob, schedule)  # checks the values
        self.block_size = block_size
        self.final_keep_prob = keep_prob
        self.schedule = schedule
        self.keep_prob = 1.0 if schedule == "linear" else keep_prob

    def set_progress(self, progress: float) -> None:
        """Move along the schedule; ``progress`` is the fraction of training done (0..1)."""
        if self.schedule == "linear":
            progress = min(max(progress, 0.0), 1.0)
            self.keep_prob = 1.0 - progress * (1.0 - self.final_keep_prob)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.keep_prob >= 1.0:
            return x
        height, width = x.shape[-2], x.shape[-1]
        block = min(self.block_size, height, width)
        if block % 2 == 0:
            block -= 1
        valid = (height - block + 1) * (width - block + 1)
        # seed rate so that about (1 - keep_prob) of all positions end up dropped
        gamma = (1.0 - self.keep_prob) / (block * block) * (height * width) / valid
        seeds = (torch.rand_like(x) < gamma).to(x.dtype)
        dropped = F.max_pool2d(seeds, kernel_size=block, stride=1, padding=block // 2)
        keep = 1.0 - dropped
        scale = keep.numel() / keep.sum().clamp(min=1.0)
        return x * keep * scale

    def extra_repr(self) -> str:
        return (f"block_size={self.block_size}, keep_prob={self.keep_prob:.3f}, "
                f"final_keep_prob={self.final_keep_prob}, schedule={self.schedule}")


def make_dropblock(config: DropBlockSpec | None) -> nn.Module:
    """A DropBlock2d for ``config``, or an identity when DropBlock is off (``None``)."""
    if config is None:
        return nn.Identity()
    return DropBlock2d(config.block_size, config.keep_prob, config.schedule)


def set_dropblock_progress(model: nn.Module, progress: float) -> int:
    """Set the schedule of every DropBlock2d in ``model``; returns how many were updated."""
    count = 0
    for module in model.modules():
        if isinstance(module, DropBlock2d):
            module.set_progress(progress)
            count += 1
    return count
