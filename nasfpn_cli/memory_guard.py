"""Turn "killed by the kernel" into an out-of-memory error the tool can report.

Linux lets a process reserve more memory than the machine has and kills it (SIGKILL, no message)
when it touches too much of it: `bench --batch-size 1024` at 640 px vanished that way. Within
:func:`memory_headroom` the process's address space is capped at what it uses now plus the memory
the machine has available, so an allocation past that fails at once, as torch's "can't allocate
memory" RuntimeError, which the CLI reports as "out of memory" (exit 1) with the sizes to lower.
Linux only; elsewhere (or when the numbers cannot be read) it does nothing.
"""
from __future__ import annotations

import contextlib
import resource
from collections.abc import Iterator
from pathlib import Path

# of the available memory, the part a command may take (the rest: page cache, other processes)
AVAILABLE_SHARE = 0.9


def _meminfo_bytes(field: str, path: str = "/proc/meminfo") -> int | None:
    """A ``/proc/meminfo`` value such as ``MemAvailable`` in bytes (None where unknown)."""
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(":")
            if name == field:
                return int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def available_bytes() -> int | None:
    """Memory the machine can give without swapping (``MemAvailable``)."""
    return _meminfo_bytes("MemAvailable")


def address_space_bytes() -> int | None:
    """This process's virtual size now (``VmSize``)."""
    return _meminfo_bytes("VmSize", "/proc/self/status")


@contextlib.contextmanager
def memory_headroom(available: int | None = None) -> Iterator[int | None]:
    """Cap the address space at its size now plus :data:`AVAILABLE_SHARE` of ``available``
    bytes (default: what the machine has available) for the ``with`` block; yields the cap
    (None: not capped). A tighter limit already set stays."""
    available = available_bytes() if available is None else available
    used = address_space_bytes()
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (AttributeError, OSError, ValueError):
        soft = hard = None
    if available is None or used is None or soft is None:
        yield None
        return
    cap = used + int(AVAILABLE_SHARE * available)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY and soft <= cap:
        yield soft
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield cap
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
