"""Process-group helpers: one place that knows whether we run under ``torchrun``.

Everything degrades to the single-process case, so the trainer calls these unconditionally.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from ..errors import UsageError


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def _whole_number(name: str, default: int, low: int, high: int | None = None) -> int:
    """Environment variable ``name`` as a whole number in [low, high); UsageError naming it."""
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value >= high):
        bounds = f"from {low}" + (f" to {high - 1}" if high is not None else "")
        raise UsageError(f"environment variable {name}={text!r}: expected a whole number "
                         f"{bounds}", hint=f"unset {name}, or start distributed runs with "
                                           "torchrun")
    return value


def torchrun_environment() -> tuple[int, int, int]:
    """(world size, rank, local rank) from torchrun's variables; (1, 0, 0) without them. A value
    that is no whole number in range, or WORLD_SIZE > 1 without RANK, MASTER_ADDR and
    MASTER_PORT (a variable left over in a shell), is a UsageError naming the variable instead
    of a crash inside torch."""
    world = _whole_number("WORLD_SIZE", 1, 1)
    if world == 1:
        return 1, 0, 0
    missing = [name for name in ("RANK", "MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
    if missing:
        raise UsageError(f"environment variable WORLD_SIZE={world} without "
                         f"{', '.join(missing)}: not a torchrun process",
                         hint="unset WORLD_SIZE, or start distributed runs with torchrun")
    return world, _whole_number("RANK", 0, 0, world), _whole_number("LOCAL_RANK", 0, 0)


def launched_by_torchrun() -> bool:
    return torchrun_environment()[0] > 1


def init_distributed(device: torch.device) -> DistContext:
    """Join the process group torchrun describes (gloo on CPU, nccl on GPU); no-op otherwise."""
    if not launched_by_torchrun():
        return DistContext()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(),
                       local_rank=torchrun_environment()[2])


def shutdown_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` in rank order (``[obj]`` when not distributed)."""
    if not is_initialized():
        return [obj]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    if not is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def barrier() -> None:
    if is_initialized():
        dist.barrier()


def all_reduce_mean(values: dict[str, float]) -> dict[str, float]:
    """Average scalar values over ranks (for logging losses of the whole job)."""
    if not is_initialized() or not values:
        return values
    keys = sorted(values)
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    tensor /= dist.get_world_size()
    return dict(zip(keys, tensor.tolist()))


def resolve_device(name: str, ctx: DistContext | None = None) -> torch.device:
    """``auto`` is CUDA when available; under torchrun each process takes its local GPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    local_rank = ctx.local_rank if ctx is not None else 0
    return torch.device("cuda", local_rank)
