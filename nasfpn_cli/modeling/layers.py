"""Small building blocks shared by the neck, backbones and head: norms, conv+norm(+act) blocks.

Normalisation layers are looked up by name in :data:`NORM_LAYERS` (``bn``, ``syncbn``, ``gn``,
``frozenbn``, ``none``) so every builder accepts the same ``norm=`` strings.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor, nn

from ..errors import ModelError

GROUP_NORM_GROUPS = 32
MIN_CHANNELS_PER_GROUP = 4


class FrozenBatchNorm2d(nn.Module):
    """Batch norm with fixed statistics and affine parameters (buffers, never trained).

    Used for frozen backbones: the per-channel scale and shift are applied as one multiply-add.
    Its state dict has torchvision's BatchNorm2d keys except ``num_batches_tracked``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    @classmethod
    def from_batchnorm(cls, bn: nn.BatchNorm2d) -> FrozenBatchNorm2d:
        """A frozen copy of ``bn`` (its current affine parameters and running statistics)."""
        reference = bn.running_mean if bn.running_mean is not None else bn.weight
        frozen = cls(bn.num_features, bn.eps).to(reference.device if reference is not None else "cpu")
        with torch.no_grad():
            if bn.affine:
                frozen.weight.copy_(bn.weight)
                frozen.bias.copy_(bn.bias)
            if bn.running_mean is not None and bn.running_var is not None:
                frozen.running_mean.copy_(bn.running_mean)
                frozen.running_var.copy_(bn.running_var)
        return frozen

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # files written from a trainable BatchNorm2d carry this counter; it means nothing here
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"


def group_norm_groups(channels: int) -> int:
    """32 groups (the usual choice), fewer for narrow layers so each group has at least 4 channels.

    ``gcd(32, channels // 4)`` always divides ``channels``: 256 -> 32, 64 -> 16, 32 -> 8, 24 -> 2.
    """
    return math.gcd(GROUP_NORM_GROUPS, max(1, channels // MIN_CHANNELS_PER_GROUP))


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(group_norm_groups(channels), channels)


NORM_LAYERS: dict[str, Callable[[int], nn.Module]] = {
    "bn": nn.BatchNorm2d,
    # falls back to plain batch norm outside an initialised process group (CPU tests, one GPU)
    "syncbn": nn.SyncBatchNorm,
    "gn": _group_norm,
    "frozenbn": FrozenBatchNorm2d,
    "none": lambda channels: nn.Identity(),
}


def make_norm(name: str, channels: int) -> nn.Module:
    """The normalisation layer called ``name`` for ``channels`` channels; ModelError if unknown."""
    try:
        factory = NORM_LAYERS[name]
    except KeyError:
        raise ModelError(f"unknown norm {name!r}; choose one of: {', '.join(NORM_LAYERS)}") from None
    return factory(channels)


class SeparableConv2d(nn.Module):
    """Depthwise k x k conv followed by a pointwise 1x1 conv (both without bias)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size,
                                   padding=kernel_size // 2, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


def make_conv3x3(in_channels: int, out_channels: int, *, separable: bool = False,
                 bias: bool = False) -> nn.Module:
    """A stride-1 3x3 conv that keeps the spatial size; separable when asked."""
    if separable:
        return SeparableConv2d(in_channels, out_channels, 3)
    return nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias)


class ConvNorm(nn.Sequential):
    """``conv`` then ``norm``; a conv followed by a norm has no bias."""

    def __init__(self, conv: nn.Module, norm: nn.Module):
        super().__init__()
        self.conv = conv
        self.norm = norm


class ConvNormAct(nn.Sequential):
    """``conv`` then ``norm`` then ``act`` (ReLU)."""

    def __init__(self, conv: nn.Module, norm: nn.Module, act: nn.Module | None = None):
        super().__init__()
        self.conv = conv
        self.norm = norm
        self.act = act if act is not None else nn.ReLU(inplace=True)


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm layer by SyncBatchNorm (call before wrapping in DDP)."""
    return nn.SyncBatchNorm.convert_sync_batchnorm(module)


def freeze_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d/SyncBatchNorm in ``module`` (recursively) by FrozenBatchNorm2d.

    Returns the converted module (a new one when ``module`` itself is a batch norm).
    """
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return FrozenBatchNorm2d.from_batchnorm(module)
    for name, child in module.named_children():
        converted = freeze_batchnorm(child)
        if converted is not child:
            setattr(module, name, converted)
    return module
