"""Small torch-free helpers every layer shares: atomic writes, JSON-lines logs, lazy package
exports, the progress bar and an eval-mode context manager.

One implementation of each, so a fix (for example to what the atomic writer guarantees) reaches
every command at once. Nothing here imports torch.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib
import json
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import NasfpnError

STDOUT = "-"
TEMP_MARK = ".nasfpn-tmp-"

# ---------------------------------------------------------------------------------------------
# atomic writes


def _temp_name(target: Path, pid: int) -> Path:
    return target.with_name(f".{target.name}{TEMP_MARK}{pid}")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


_SWEPT_FOLDERS: set[str] = set()


def _sweep_stale_temps(target: Path) -> None:
    """Remove the temporary files that killed writers left in ``target``'s folder (their pid is
    gone), so they never accumulate. Each folder is listed once per process: writing many files
    into one folder (predict's drawings) stays linear."""
    folder = os.path.abspath(target.parent)
    if folder in _SWEPT_FOLDERS:
        return
    _SWEPT_FOLDERS.add(folder)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        _, mark, suffix = entry.name.rpartition(TEMP_MARK)
        if (mark and entry.name.startswith(".") and suffix.isdigit()
                and int(suffix) != os.getpid() and not process_alive(int(suffix))):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _fresh_temporary(target: Path, shown: Path) -> Path:
    """This process's temporary name beside ``target``, its folder created and the leftovers of
    killed writers swept away."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(shown, exc) from exc
    _sweep_stale_temps(target)
    return _temp_name(target, os.getpid())


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is atomic there anyway
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_error(path: Path | str, exc: OSError) -> NasfpnError:
    """``cannot write PATH: reason`` with the hint for a full disk or a forbidden place."""
    reason = exc.strerror or str(exc)
    hint = None
    if exc.errno == errno.ENOSPC:
        hint = "the disk is full: free some space and run again"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "choose a path you can write to"
    return NasfpnError(f"cannot write {path}: {reason}", hint=hint)


def file_sha256(path: str | Path) -> str:
    """The sha256 hex digest of a file's content, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def listed(items: list[str], most: int) -> str:
    """``a, b, c (+N more)``: at most ``most`` items of a long list, for an error message."""
    shown = ", ".join(items[:most])
    return shown + (f" (+{len(items) - most} more)" if len(items) > most else "")


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` both exist and are one file (through links, ``./``, hard links)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_inputs(path: str | Path, inputs: Iterable[str | Path]) -> None:
    """NasfpnError (exit 1) when the output ``path`` is one of the command's ``inputs``: a
    command never writes over what it reads (``compare RUN -o RUN/last.pt``). Commands call it
    before long work; :func:`atomic_write` checks again at the write."""
    for source in inputs:
        if str(source) != STDOUT and same_file(path, source):
            raise NasfpnError(f"refusing to write {path}: it is also an input of this command",
                              hint="write the output to another file")


def _resolve_target(path: str | Path, inputs: Iterable[str | Path]) -> tuple[Path, Path, Any]:
    """(the path as given, the file to replace, its stat or None): symlinks resolved, folders
    and the command's own inputs refused."""
    given = Path(path)
    if str(path) == "":
        raise NasfpnError("cannot write to an empty path")
    refuse_inputs(given, inputs)
    target = Path(os.path.realpath(given)) if given.is_symlink() else given
    try:
        info = target.stat() if target.exists() else None
    except OSError as exc:
        raise write_error(given, exc) from exc
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise NasfpnError(f"cannot write {given}: it is a folder")
    return given, target, info


def _is_special(info: Any) -> bool:
    """A device, FIFO or socket: written through, never renamed over."""
    return info is not None and not stat.S_ISREG(info.st_mode)


def _write_through(target: Path, payload: bytes, shown: Path) -> None:
    try:
        with open(target, "wb") as handle:
            handle.write(payload)
    except OSError as exc:
        raise write_error(shown, exc) from exc


def _install(temporary: Path, target: Path, info: Any, shown: Path) -> None:
    """Move a finished temporary file onto ``target``: fsynced, the old file's mode and owner
    kept, renamed in one step, the folder fsynced."""
    try:
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        if info is not None:
            os.chmod(temporary, stat.S_IMODE(info.st_mode))
            if (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
                with contextlib.suppress(OSError):
                    os.chown(temporary, info.st_uid, info.st_gid)
        os.replace(temporary, target)
    except OSError as exc:
        raise write_error(shown, exc) from exc
    _fsync_folder(target.parent)


def atomic_write(path: str | Path, data: str | bytes, *,
                 inputs: Iterable[str | Path] = ()) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a torn one.

    * a regular file (or a new one) is written to a temporary file in the same folder, fsynced
      and renamed over the target; an existing file keeps its mode and (where allowed) owner;
    * a symbolic link keeps being a link: its target file is replaced;
    * a device, FIFO or socket (``/dev/null``, ``/dev/stdout``) is written through, never
      replaced; ``-`` writes to standard output;
    * writing onto one of ``inputs`` (the files the data was read from) is refused;
    * temporary files of writers killed earlier are removed, so they never accumulate.

    Raises :class:`NasfpnError` (exit 1) naming the path on any OS error (full disk, read-only
    folder, a folder in the way).
    """
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if str(path) == STDOUT:
        try:
            sys.stdout.flush()
            sys.stdout.buffer.write(payload)
            sys.stdout.buffer.flush()
        except OSError as exc:
            raise write_error("standard output", exc) from exc
        return
    given, target, info = _resolve_target(path, inputs)
    if _is_special(info):
        _write_through(target, payload, given)
        return
    temporary = _fresh_temporary(target, given)
    try:
        try:
            temporary.write_bytes(payload)
        except OSError as exc:
            raise write_error(given, exc) from exc
        _install(temporary, target, info, given)
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def atomic_write_json(path: str | Path, value: Any, *, indent: int | None = 2) -> None:
    """``value`` as JSON (with a final newline), written with :func:`atomic_write`."""
    separators = None if indent is not None else (",", ":")
    atomic_write(path, json.dumps(value, indent=indent, separators=separators) + "\n")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for writers that need a file name (ONNX, TorchScript);
    put in place with :func:`atomic_write`'s guarantees when the block succeeds (renamed, not
    copied, so a large file is written once)."""
    given, target, info = _resolve_target(path, ())
    temporary = _fresh_temporary(target, given)
    try:
        yield temporary
        if _is_special(info):
            _write_through(target, temporary.read_bytes(), given)
        else:
            _install(temporary, target, info, given)
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


# ---------------------------------------------------------------------------------------------
# JSON lines


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every complete JSON object of a JSON-lines file (none when it does not exist). A torn or
    unreadable line (a crash in the middle of a write) is skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_json_lines(path: str | Path, repair: bool = False, what: str = "JSON line",
                    error: type[NasfpnError] = NasfpnError) -> list[tuple[int, Any]]:
    """``(line number, parsed JSON)`` for every complete line of ``path`` (none when it does not
    exist): the reader of the tool's own JSON-lines files, which names a damaged line.

    Every record is written with its newline in one append, so a last line without a newline was
    torn by a kill: it is ignored, and cut off the file when ``repair`` is set. A complete line
    that is not JSON raises ``error`` naming ``PATH:LINE``.
    """
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    complete = data[:data.rfind(b"\n") + 1]
    if len(complete) < len(data) and repair:  # a torn last line: cut it off
        with open(path, "r+b") as handle:
            handle.truncate(len(complete))
            os.fsync(handle.fileno())
    lines: list[tuple[int, Any]] = []
    for number, line in enumerate(complete.splitlines(), start=1):
        try:
            lines.append((number, json.loads(line)))
        except ValueError as exc:
            raise error(f"{path}:{number}: not a {what} ({exc})",
                        hint="the file was edited or damaged; fix or remove that line") from exc
    return lines


class JsonlWriter:
    """Appends one JSON object per line, flushed and fsynced, so a record is on disk when
    :meth:`write` returns and a kill can tear at most the last line."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._handle: Any = None

    def write(self, record: Mapping[str, Any] | str) -> None:
        line = record if isinstance(record, str) else json.dumps(record, separators=(",", ":"))
        try:
            if self._handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = open(self.path, "ab")
            self._handle.write(line.encode("utf-8") + b"\n")
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as exc:
            raise write_error(self.path, exc) from exc

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# lazy exports


def lazy_exports(package: str, modules: Mapping[str, Iterable[str]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``package.<module>`` on the first use of one of
    the names ``modules[module]`` lists: packages stay cheap to import (no torch for ``--help``
    and torch-free commands)."""
    exports = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = exports[name]
        target = module if module.startswith(package) else f"{package}.{module}"
        return getattr(importlib.import_module(target), name)

    return __getattr__


# ---------------------------------------------------------------------------------------------
# names


def unique_names(names: Iterable[str], separator: str = "#") -> list[str]:
    """``names`` with repeats numbered (``x``, ``x#2``, ``x#3``...), so table rows, plot
    points and output files stay distinguishable."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        result.append(name if count == 1 else f"{name}{separator}{count}")
    return result


# ---------------------------------------------------------------------------------------------
# progress and modes


def make_progress(enabled: bool = True, *, status: bool = True, eta: bool = True,
                  transient: bool = False, eta_column: Any = None) -> Any:
    """The tool's rich progress bar on stderr: description, bar, done/total, elapsed, the time
    to the end (rich's, or ``eta_column``) and (``status``) a free-text field. Disabled, a
    silent no-op with the same interface; ``transient`` bars vanish when done."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    from .console import err_console

    columns: list[Any] = [TextColumn("[bold]{task.description}"), BarColumn(),
                          MofNCompleteColumn(), TimeElapsedColumn()]
    if eta_column is not None:
        columns.append(eta_column)
    elif eta:
        columns += [TextColumn("eta"), TimeRemainingColumn()]
    if status:
        columns.append(TextColumn("{task.fields[status]}"))
    return Progress(*columns, console=err_console, disable=not enabled,
                    transient=transient)


class ProgressTask:
    """One task on the tool's progress bar (:func:`make_progress`), as a context manager that
    starts and stops the bar; ``update`` takes rich's ``advance``, ``completed``, ``status``."""

    def __init__(self, description: str, total: int, enabled: bool = True, **fields: Any):
        self.progress = make_progress(enabled)
        self.task = self.progress.add_task(description, total=total,
                                           **{"status": "", **fields})

    def update(self, **changes: Any) -> None:
        self.progress.update(self.task, **changes)

    def __enter__(self) -> "ProgressTask":
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()


@contextlib.contextmanager
def eval_mode(module: Any) -> Iterator[Any]:
    """Put a torch module in eval mode for the block and restore the mode it had (train or
    eval) afterwards, even when the block raises."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
