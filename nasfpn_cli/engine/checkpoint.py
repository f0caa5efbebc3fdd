"""Checkpoints: atomic writes, loading with clear errors, RNG state capture, weight transfer.

A checkpoint is a dict ``{"model", "optimizer", "scheduler", "scaler", "epoch", "step", "rng",
"metrics_history", "best_ap", "config": {"genotype_text", "model", "train", "data"}}``. Only plain
containers, numbers, strings and tensors go in, so it loads with ``weights_only=True``.
"""
from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError
from .files import atomic_write_bytes

REQUIRED_KEYS = ("model", "config")


def serialize(state: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def save_checkpoint(state: dict[str, Any], *paths: str | Path) -> None:
    """Serialise once, then write atomically to every path (e.g. last.pt and best.pt)."""
    data = serialize(state)
    for path in paths:
        atomic_write_bytes(data, path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a nasfpn checkpoint (tensors on the CPU); raises :class:`CheckpointError` saying
    what is wrong."""
    from ..modeling.restore import read_checkpoint

    state = read_checkpoint(path)
    missing = [key for key in REQUIRED_KEYS if key not in state]
    if missing:
        raise CheckpointError(f"{path}: not a nasfpn checkpoint (missing {', '.join(missing)})")
    return state


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.cpu().numpy().tobytes()


def _bytes_tensor(data: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).clone()


def capture_rng_state() -> dict[str, Any]:
    """Python, numpy and torch (CPU and CUDA) generator states as plain containers (bytes and
    numbers, no tensors: they also travel through ``all_gather_object``)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [kind, np.asarray(keys, dtype=np.uint32).tobytes(), int(pos), int(has_gauss),
                  float(cached)],
        "torch": _tensor_bytes(torch.get_rng_state()),
    }
    if torch.cuda.is_available():
        state["cuda"] = [_tensor_bytes(s) for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.frombuffer(keys, dtype=np.uint32).copy(), pos, has_gauss,
                         cached))
    torch.set_rng_state(_bytes_tensor(state["torch"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_bytes_tensor(s) for s in state["cuda"]])


def transfer_weights(model: nn.Module, state_dict: dict[str, torch.Tensor],
                     source: str = "checkpoint") -> tuple[int, list[str]]:
    """Copy every tensor whose name and shape match (``--init-from``); returns how many were
    loaded and the names that were skipped. Raises when nothing matches at all."""
    own = model.state_dict()
    usable = {k: v for k, v in state_dict.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise CheckpointError(f"{source}: no weights match this model",
                              hint="was it trained with a different backbone or genotype?")
    model.load_state_dict(usable, strict=False)
    skipped = sorted(set(own) - set(usable))
    return len(usable), skipped

