"""Mixed precision and memory layout: what ``--amp`` and ``--channels-last`` mean on this machine.

``--amp auto`` (the default) picks the fastest numerics the hardware computes natively: fp16
with loss scaling on CUDA, bf16 on a CPU whose vector or matrix units do bf16 arithmetic
(AVX-512 BF16, AMX, Arm BF16), and fp32 elsewhere, where bf16 would be emulated and slower than
fp32. ``on`` forces mixed precision (bf16 on any CPU), ``off`` is fp32. ``--channels-last auto``
(the default) lays weights and batches out NHWC where ``--amp auto`` means mixed precision (a
GPU, or a CPU with native bf16: there the two together measured 0.33-0.6x the fp32 step), and
contiguous elsewhere. The detection reads the CPU's flags once; ``NASFPN_NO_NATIVE_BF16=1``
makes it answer "no" (tests of the fp32 fallback, or a user who wants fp32 under ``auto``).
"""
from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .config import amp_mode, layout_mode

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


def _fast_hardware(device: torch.device) -> bool:
    """Where ``auto`` turns mixed precision and channels_last on: a GPU, or native bf16."""
    return device.type == "cuda" or (device.type == "cpu" and native_bf16())


def _auto(device: torch.device) -> torch.dtype | None:
    """Mixed precision only where the hardware does it natively."""
    return _mixed(device) if _fast_hardware(device) else None


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


def autocast(amp: str | bool, device: torch.device | str):
    """The autocast context ``--amp`` means on ``device`` (a no-op for fp32)."""
    return autocast_context(autocast_dtype(amp, device), device)


def autocast_context(dtype: torch.dtype | None, device: torch.device | str):
    """Autocast to an already resolved ``dtype`` on ``device`` (None: fp32, a no-op); the
    trainer resolves ``--amp`` once and enters this every step."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


# --channels-last MODE -> whether a device gets NHWC weights and batches
LAYOUTS: dict[str, Callable[[torch.device], bool]] = {
    "off": lambda device: False,
    "on": lambda device: True,
    "auto": _fast_hardware,
}


def uses_channels_last(channels_last: str | bool, device: torch.device | str = "cpu") -> bool:
    """Whether ``--channels-last`` (a mode, or the bool older configs stored) means NHWC on
    ``device``."""
    return LAYOUTS[layout_mode(channels_last)](torch.device(device))


def memory_format(channels_last: str | bool, device: torch.device | str = "cpu"
                  ) -> torch.memory_format:
    """The layout of the model's 4-d weights and of the image batches (``channels_last``: a
    mode of ``--channels-last`` resolved for ``device``, or a bool)."""
    return torch.channels_last if uses_channels_last(channels_last, device) \
        else torch.contiguous_format


def precision_name(dtype: torch.dtype | None) -> str:
    """``fp32`` (no autocast), ``bf16`` or ``fp16``."""
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(
        dtype, str(dtype).replace("torch.", ""))


def describe(dtype: torch.dtype | None, channels_last: bool) -> str:
    """A short label of the numerics: ``fp32``, ``bf16 autocast, channels_last``..."""
    parts = [f"{precision_name(dtype)} autocast" if dtype is not None else "fp32"]
    if channels_last:
        parts.append("channels_last")
    return ", ".join(parts)


def resolved(amp: str | bool, channels_last: str | bool, device: torch.device | str
             ) -> dict[str, Any]:
    """What ``--amp`` and ``--channels-last`` mean on ``device``, as a run records it beside
    the modes: ``{"precision": "bf16", "channels_last": True, "device": "cpu"}``."""
    device = torch.device(device)
    return {"precision": precision_name(autocast_dtype(amp, device)),
            "channels_last": uses_channels_last(channels_last, device), "device": device.type}


def resolved_modes(amp: str | bool, channels_last: str | bool, device: torch.device | str
                   ) -> tuple[str, str]:
    """``amp`` and ``channels_last`` with ``auto`` decided for ``device``: ("on" or "off",
    "on" or "off"), modes that mean the same on any machine (a calibration's plan stores them:
    its trainings then run alike wherever they run, and a reused training matches by them)."""
    device = torch.device(device)
    return ("on" if autocast_dtype(amp, device) is not None else "off",
            "on" if uses_channels_last(channels_last, device) else "off")


def start_line(amp: str | bool, channels_last: str | bool, device: torch.device | str) -> str:
    """The line a command prints at its start: the numerics it runs with and why."""
    device = torch.device(device)
    numerics = describe(autocast_dtype(amp, device), uses_channels_last(channels_last, device))
    return (f"numerics: {numerics} on {device.type} (--amp {amp_mode(amp)}, --channels-last "
            f"{layout_mode(channels_last)}; --no-amp --no-channels-last: fp32, contiguous)")
