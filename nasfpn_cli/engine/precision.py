"""Mixed precision and memory layout: what ``--amp`` and ``--channels-last`` mean on this machine.

``--amp auto`` picks the fastest numerics the hardware computes natively: fp16 with loss scaling
on CUDA, bf16 on a CPU whose vector or matrix units do bf16 arithmetic (AVX-512 BF16, AMX, Arm
BF16), and fp32 elsewhere, where bf16 would be emulated and slower than fp32. ``on`` forces
mixed precision (bf16 on any CPU), ``off`` is fp32. The detection reads the CPU's flags once;
``NASFPN_NO_NATIVE_BF16=1`` makes it answer "no" (tests of the fp32 fallback, or a user who
wants fp32 under ``auto``).
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

import torch

from .config import amp_mode

NO_NATIVE_BF16_ENV = "NASFPN_NO_NATIVE_BF16"
# /proc/cpuinfo flags of CPUs that compute bf16 dot products in hardware: x86 (AVX-512 BF16,
# AMX) and Arm ("bf16" in its Features line)
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
CPUINFO = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` ("flags" on x86, "Features" on Arm);
    empty where there is no such file (macOS, Windows)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return frozenset(value.split())
    return frozenset()


@functools.cache
def _cpu_has_native_bf16() -> bool:
    """bf16 in the CPU's flags and in torch's oneDNN build (cached: the CPU does not change)."""
    if not NATIVE_BF16_FLAGS & cpu_flags():
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch without oneDNN
        return False


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (False when ``NASFPN_NO_NATIVE_BF16`` is set)."""
    if os.environ.get(NO_NATIVE_BF16_ENV, "") not in ("", "0"):
        return False
    return _cpu_has_native_bf16()


def _mixed(device: torch.device) -> torch.dtype:
    """The autocast type of each device: fp16 on CUDA (with loss scaling), bf16 on the CPU."""
    return torch.float16 if device.type == "cuda" else torch.bfloat16


def _auto(device: torch.device) -> torch.dtype | None:
    """Mixed precision only where the hardware does it natively."""
    if device.type == "cuda" or (device.type == "cpu" and native_bf16()):
        return _mixed(device)
    return None


# --amp MODE -> the autocast type on a device (None: fp32)
AMP_DTYPES: dict[str, Callable[[torch.device], torch.dtype | None]] = {
    "off": lambda device: None,
    "on": _mixed,
    "auto": _auto,
}


def autocast_dtype(amp: str | bool, device: torch.device | str) -> torch.dtype | None:
    """The autocast type ``--amp`` (a mode, or the bool older configs stored) means on
    ``device``; None means fp32."""
    return AMP_DTYPES[amp_mode(amp)](torch.device(device))


def memory_format(channels_last: bool) -> torch.memory_format:
    """The layout of the model's 4-d weights and of the image batches."""
    return torch.channels_last if channels_last else torch.contiguous_format


def describe(dtype: torch.dtype | None, channels_last: bool) -> str:
    """A short label of the numerics: ``fp32``, ``bf16 autocast, channels_last``..."""
    parts = [f"{str(dtype).replace('torch.', '')} autocast" if dtype is not None else "fp32"]
    if channels_last:
        parts.append("channels_last")
    return ", ".join(parts)
