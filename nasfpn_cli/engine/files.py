"""Writing files a user keeps (checkpoints, logs, plots) so a crash never leaves a torn one.

Torch-free, so light commands (``plot``) can use it.
"""
from __future__ import annotations

import os
from pathlib import Path


def atomic_write_bytes(data: bytes, path: str | Path) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a torn one:
    temporary file in the same folder, fsync, ``os.replace``, fsync of the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is still atomic there
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
