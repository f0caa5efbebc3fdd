"""One writer per output folder: an exclusive lock held for the life of a command.

``train``, ``search`` and ``search calibrate`` (and their Python functions) take
:func:`folder_lock` on their output folder before they look at what is there, so a second
command on the same folder (a second run, a ``--resume`` while the first still runs) stops at
once with ``DIR: in use by process N (started ...)`` instead of silently mixing two runs' files.

The lock is ``flock`` on ``DIR/.lock``, which holds the owner's pid and start time for that
message. The kernel drops a ``flock`` when the last descriptor of it closes, so a lock left by a
killed process never blocks; the file is removed when the command ends. A ``flock`` belongs to
the open file, which a forked child (a data-loader or search worker) shares: each forked child
closes its copy at once (``os.register_at_fork``), and ``O_CLOEXEC`` closes it in programs a
command starts, so the lock dies with its owner and never outlives it in orphaned workers. The
message names the process the lock file names only while that process is alive. Torch-free.
"""
from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import NasfpnError

try:
    import fcntl
except ImportError:  # not POSIX (Windows): no lock, as before
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"
# descriptors of the locks this process holds: closed in every child it forks
_HELD: set[int] = set()


def _close_in_child() -> None:
    """In a forked child: close the copies of the parent's lock descriptors (the lock stays
    the parent's, and ends when the parent ends, whatever its children do)."""
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_in_child)


def missing_folders(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first."""
    return [p for p in (path, *path.parents) if not p.exists()]


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) while they are empty: a refused command leaves none
    of the folders it created behind."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


def remove_paths(paths: list[Path]) -> None:
    """Remove the files and folders (with what is in them) that a refused command created
    itself, so it leaves none of them behind."""
    import shutil

    for path in paths:
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()


def in_use(folder: str | Path) -> bool:
    """Whether another process holds ``folder``'s lock now: a probe that takes nothing (the
    lock file is opened if it exists, never created) for checks made before a command's own
    lock, which then refuses the folder naming its holder."""
    path = Path(folder) / LOCK_FILE
    if fcntl is None or any(_same_file(held, path) for held in _HELD):  # this process's own
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # and with it the probe's shared lock
    return False


def _holder(fd: int) -> str:
    """Who holds the lock, as its file says: ``process N (started ...)``."""
    try:
        text = os.pread(fd, 200, 0).decode("ascii", "replace").split()
    except OSError:
        text = []
    if len(text) >= 2 and text[0].isdigit() and text[1].replace(".", "", 1).isdigit() \
            and _alive(int(text[0])):
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(text[1])))
        return f"process {text[0]} (started {started})"
    return "another process"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a zombie counts as ended)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # another user's process
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (its owner may have removed it meanwhile)."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _acquire(folder: Path) -> int:
    """Create ``folder`` if needed and lock its lock file; the open descriptor holds the lock."""
    path = folder / LOCK_FILE
    while True:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise NasfpnError(f"{folder}: cannot lock the folder "
                              f"({exc.strerror or exc})") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise NasfpnError(f"{folder}: in use by {holder}",
                              hint="wait until it finishes, or choose another output folder")
        except OSError as exc:  # a file system without locks (some network mounts)
            os.close(fd)
            raise NasfpnError(f"{folder}: cannot lock the folder ({exc.strerror or exc})") from exc
        if _same_file(fd, path):
            _HELD.add(fd)
            return fd
        os.close(fd)  # its owner finished and removed the file: lock the new one


@contextlib.contextmanager
def folder_lock(folder: str | Path) -> Iterator[Path]:
    """Hold the exclusive lock on ``folder`` (created if missing) for the block.

    Raises :class:`NasfpnError` (exit 1) ``FOLDER: in use by process N (started ...)`` when
    another process holds it. On leaving, the lock file is removed, and so are the folders this
    call created when nothing else was written into them.
    """
    folder = Path(folder)
    if fcntl is None:
        yield folder
        return
    created = missing_folders(folder)
    fd = _acquire(folder)
    try:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {time.time():.0f}\n".encode("ascii"), 0)
        yield folder
    finally:
        if _same_file(fd, folder / LOCK_FILE):
            with contextlib.suppress(OSError):
                os.unlink(folder / LOCK_FILE)  # before the unlock: a waiter sees it gone
        _HELD.discard(fd)
        os.close(fd)
        remove_empty_folders(created)
