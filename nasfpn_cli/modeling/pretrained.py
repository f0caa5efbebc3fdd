"""Published backbone weights by name, and downloads into the torch hub cache, checked.

``--backbone-weights`` takes a weights *name* (``imagenet``, ``imagenet-v1``, ``imagenet-v2``),
an ``http(s)://`` or ``file://`` URL, or a local file (``.pth`` or ``.safetensors``).
:func:`resolve_weights` turns each into a local file:

- a name is looked up in :data:`PUBLISHED` (torchvision's published ImageNet weights of the
  backbone; ``imagenet`` is an alias, :data:`ALIASES`), then fetched like a URL;
- a URL whose file name carries a sha256 prefix (``resnet18-f37072fd.pth``, torch hub's
  convention) is downloaded once into ``torch.hub.get_dir()/checkpoints/<file name>`` (where
  torch and torchvision keep the same files, so a file either of them fetched is reused): the
  content is checked against that prefix every time, so the cache is keyed by content;
- another ``http(s)://`` URL is downloaded once into ``checkpoints/by-url/<sha256 of the whole
  URL, 16 digits>/<file name>``: two URLs ending in the same file name never share a file;
- another ``file://`` URL is read in place, like a path (never copied: an edited file is read
  as it is now); its host must be empty or ``localhost``;
- a path is returned as it is (read and checked by
  :func:`~nasfpn_cli.modeling.backbones.read_state_dict`); a file that happens to be called
  like a name (``imagenet``) needs a path spelling: ``./imagenet``.

Local sources must be regular files: a FIFO would block forever and a device (``/dev/zero``)
never end, so both are refused before anything is read. The run records the sha256 of the file
it actually loaded (``config.json``'s ``backbone_weights``).

Checksums: torch hub file names carry the first hex digits of the file's sha256
(``resnet18-f37072fd.pth``). A download goes to a temporary file in the cache folder, is hashed
while it is written, and is renamed into place only when it is complete and its hash starts
with that prefix. A file already in the cache is used without any network, and its hash is
checked again each time (0.15 s for ResNet-101's 171 MB on our CPU), so a file copied there by hand
is verified as well. Files whose name carries no such prefix (an arbitrary URL) are used as they
are. :func:`store` is the offline way in (``nasfpn weights add``): a file fetched elsewhere,
checked against the published prefix and copied into the cache atomically.

Torch-free (:func:`cache_dir` follows ``torch.hub.get_dir``'s rules without importing torch),
so the training configuration can check a weights name, and ``nasfpn weights list`` and
``fetch`` can run, without importing torch.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from ..untrusted import shown_path
from ..utils import file_sha256, process_alive

TORCHVISION_MODELS = "https://download.pytorch.org/models/"
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60.0
# torch hub's convention: NAME-<hex digits of the sha256>.EXT (torch.hub.HASH_REGEX)
HASH_PREFIX = re.compile(r"-([a-f0-9]{6,64})\.")


@dataclass(frozen=True)
class PublishedWeights:
    """One published set of ImageNet weights: where it lives and what torchvision reports."""

    backbone: str
    name: str  # imagenet-v1, imagenet-v2
    url: str
    top1: float  # ImageNet-1k top-1 accuracy torchvision publishes for it
    recipe: str  # torchvision's name of the set
    size_mb: float | None = None  # the file's size, about (MiB), None when not known

    @property
    def file_name(self) -> str:
        return url_file_name(self.url)

    @property
    def sha256_prefix(self) -> str | None:
        return hash_prefix(self.file_name)


def _tv(backbone: str, name: str, file_name: str, top1: float, recipe: str,
        size_mb: float) -> PublishedWeights:
    return PublishedWeights(backbone, name, TORCHVISION_MODELS + file_name, top1, recipe,
                            size_mb)


# torchvision's published weights of our backbones (their state-dict keys match ours); ResNet-10
# has none. Names, accuracies and file sizes (MiB) as torchvision's resnet.py / mobilenetv2.py
# publish them.
PUBLISHED: dict[str, dict[str, PublishedWeights]] = {
    "resnet18": {"imagenet-v1": _tv("resnet18", "imagenet-v1", "resnet18-f37072fd.pth",
                                    69.758, "IMAGENET1K_V1", 44.7)},
    "resnet34": {"imagenet-v1": _tv("resnet34", "imagenet-v1", "resnet34-b627a593.pth",
                                    73.314, "IMAGENET1K_V1", 83.3)},
    "resnet50": {"imagenet-v1": _tv("resnet50", "imagenet-v1", "resnet50-0676ba61.pth",
                                    76.130, "IMAGENET1K_V1", 97.8),
                 "imagenet-v2": _tv("resnet50", "imagenet-v2", "resnet50-11ad3fa6.pth",
                                    80.858, "IMAGENET1K_V2", 97.8)},
    "resnet101": {"imagenet-v1": _tv("resnet101", "imagenet-v1", "resnet101-63fe2227.pth",
                                     77.374, "IMAGENET1K_V1", 170.5),
                  "imagenet-v2": _tv("resnet101", "imagenet-v2", "resnet101-cd907fc2.pth",
                                     81.886, "IMAGENET1K_V2", 170.5)},
    "mobilenetv2": {"imagenet-v1": _tv("mobilenetv2", "imagenet-v1", "mobilenet_v2-b0353104.pth",
                                       71.878, "IMAGENET1K_V1", 13.6),
                    "imagenet-v2": _tv("mobilenetv2", "imagenet-v2", "mobilenet_v2-7ebf99e0.pth",
                                       72.154, "IMAGENET1K_V2", 13.6)},
}
# ``imagenet`` is V1 for every backbone: the set torchvision's own detection models start from
# (their V2 sets come from a long, heavily regularised classification recipe)
ALIASES: dict[str, str] = {"imagenet": "imagenet-v1"}
WEIGHT_NAMES: tuple[str, ...] = (*ALIASES, *sorted({name for sets in PUBLISHED.values()
                                                    for name in sets}))
URL_SCHEMES = ("http://", "https://", "file://")
# downloads of URLs whose file name carries no sha256 prefix: under a folder per whole URL
URL_FOLDER = "by-url"
URL_KEY_DIGITS = 16


def is_weights_name(source: object) -> bool:
    """Whether ``source`` is a published-weights name (not a file or URL)."""
    return isinstance(source, str) and source in WEIGHT_NAMES


def is_url(source: object) -> bool:
    return isinstance(source, str) and source.lower().startswith(URL_SCHEMES)


def _unsupported_scheme(source: str) -> str | None:
    """The scheme of ``source`` when it is a URL of a scheme not in URL_SCHEMES."""
    scheme, found, _ = source.partition("://")
    return scheme if found and scheme.isidentifier() and not is_url(source) else None


def regular_file(path: Path, what: str = "backbone weights") -> Path:
    """``path`` when it is a regular file (through links); ModelError saying what it is
    otherwise: missing, a folder, or a FIFO/device/socket (refused before it is opened: a FIFO
    blocks and a device never ends)."""
    import stat

    shown = shown_path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ModelError(f"{what} {shown}: no such file") from None
    except OSError as exc:
        raise ModelError(f"{what} {shown}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise ModelError(f"{what} {shown}: is a folder", hint="give the weights file in it")
    if not stat.S_ISREG(mode):
        raise ModelError(f"{what} {shown}: not a regular file (a FIFO, device or socket): "
                         f"refused", hint="give a weights file (.pth or .safetensors)")
    return path


def file_url_path(url: str) -> Path:
    """The local path of a ``file://`` URL; ModelError for a URL naming another host."""
    parsed = urllib.parse.urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise ModelError(f"backbone weights URL {url}: names the host {parsed.netloc!r}; a "
                         f"file:// URL reads this machine's files",
                         hint="write file:///absolute/path (three slashes), or give the path")
    return Path(urllib.request.url2pathname(parsed.path))


def published_weights(backbone: str, name: str) -> PublishedWeights:
    """The published set ``name`` of ``backbone``; ModelError naming what exists otherwise."""
    sets = PUBLISHED.get(backbone)
    if not sets:
        having = ", ".join(PUBLISHED)
        raise ModelError(f"--backbone-weights {name}: no published weights for {backbone}",
                         hint=f"backbones with published weights: {having}; or train {backbone} "
                              "from scratch (no --backbone-weights), or pass a weights FILE")
    wanted = ALIASES.get(name, name)
    if wanted not in sets:
        raise ModelError(f"--backbone-weights {name}: {backbone} has no such published weights",
                         hint="choose one of: " + ", ".join(
                             [alias for alias, target in ALIASES.items() if target in sets]
                             + list(sets)))
    return sets[wanted]


def url_file_name(url: str) -> str:
    """The last path component of ``url`` (the cache file's name); ModelError if it has none."""
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    if name in ("", ".", ".."):
        raise ModelError(f"backbone weights URL {url}: it names no file",
                         hint="the URL must end in a file name, e.g. .../resnet18-f37072fd.pth")
    return name


def hash_prefix(file_name: str) -> str | None:
    """The sha256 prefix a torch-hub-style file name carries (``resnet18-f37072fd.pth``)."""
    found = HASH_PREFIX.search(file_name)
    return found.group(1) if found else None


def cache_dir() -> Path:
    """Where downloaded weights live: ``torch.hub.get_dir()/checkpoints``, i.e.
    ``$TORCH_HOME/hub/checkpoints`` (``$XDG_CACHE_HOME/torch``, ``~/.cache/torch`` by default).
    Computed by torch.hub's own rules without importing torch; asked of torch.hub when it is
    imported already (``torch.hub.set_dir`` may have moved it)."""
    hub = sys.modules.get("torch.hub")
    if hub is not None:
        return Path(hub.get_dir()) / "checkpoints"
    home = os.getenv("TORCH_HOME",
                     os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch"))
    return Path(os.path.expanduser(home)) / "hub" / "checkpoints"


def cache_target(url: str) -> Path:
    """Where the download of ``url`` is cached: by its file name when that carries a sha256
    prefix (checked against the content), else in a folder of its own for the whole URL."""
    name = url_file_name(url)
    if hash_prefix(name) is not None:
        return cache_dir() / name
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:URL_KEY_DIGITS]
    return cache_dir() / URL_FOLDER / key / name


def cache_path(source: str, backbone: str) -> Path:
    """The cache file a weights name or URL needs (nothing is downloaded)."""
    url = published_weights(backbone, source).url if is_weights_name(source) else source
    return cache_target(url)


def resolve_weights(source: str | Path, backbone: str, *, progress: bool = True,
                    timeout: float = TIMEOUT_S) -> Path:
    """A local weights file for ``source`` (a name, a URL or a path), downloading a name or URL
    into the cache first when it is not there (see the module docstring)."""
    if isinstance(source, str) and is_weights_name(source):
        entry = published_weights(backbone, source)
        return fetch(entry.url, entry.sha256_prefix, progress=progress, timeout=timeout,
                     add_command=f"nasfpn weights add {backbone} {source} FILE")
    if isinstance(source, str) and is_url(source):
        prefix = hash_prefix(url_file_name(source))
        if source.lower().startswith("file://"):
            local = regular_file(file_url_path(source))
            if prefix is None:
                return local  # read in place: never a stale copy
        return fetch(source, prefix, progress=progress, timeout=timeout)
    if isinstance(source, str):
        scheme = _unsupported_scheme(source)
        if scheme is not None:
            raise ModelError(f"backbone weights {source}: URLs of scheme {scheme!r} are not "
                             f"supported", hint="use http://, https://, file:// or a path")
        if not source.strip():
            raise ModelError("backbone weights: an empty name",
                             hint="give a weights name (imagenet), a URL or a file")
    return regular_file(Path(source))  # a device path was read (and hashed) forever


def fetch(url: str, sha256_prefix: str | None = None, *, progress: bool = True,
          timeout: float = TIMEOUT_S, add_command: str | None = None) -> Path:
    """The cached file of ``url``, downloaded (and checked) unless it is in the cache already;
    a cached file is checked against ``sha256_prefix`` again. ModelError when offline, when the
    download is cut short or when the hash differs. ``timeout``: seconds each connection or read
    may wait; ``add_command``: the ``nasfpn weights add ...`` line the offline hint offers."""
    target = cache_target(url)
    if target.is_file():
        if sha256_prefix is not None:
            got = file_sha256(target)
            if not got.startswith(sha256_prefix):
                raise ModelError(f"backbone weights {target}: sha256 {got[:len(sha256_prefix)]}..."
                                 f" does not start with {sha256_prefix} (from its name); the file "
                                 "is damaged or another file",
                                 hint=f"delete it and run again to download {url}")
        return target
    _make_cache(target.parent)
    _download(url, target, sha256_prefix, progress, timeout, add_command)
    return target


def _make_cache(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create the weights cache {folder}: {exc.strerror or exc}",
                         hint="set TORCH_HOME to a writable folder") from None
    sweep_partials(folder)


# a download's or copy's temporary file: .NAME.PID.RANDOM.partial (the writer's pid, so one
# killed midway is known to be stale); older ones carry no pid and are swept after a day
PARTIAL = re.compile(r"^\..*\.(\d+)\.[^.]+\.partial$")
PARTIAL_MAX_AGE_S = 24 * 3600


def _partial_file(target: Path) -> tuple[int, str]:
    """A new temporary file beside ``target`` (fd, path), named by :data:`PARTIAL`."""
    return tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.",
                            suffix=".partial")


def sweep_partials(folder: Path) -> None:
    """Remove the temporary files of downloads and copies that were killed midway in
    ``folder``: their writer's pid is gone (or, without a pid, they are a day old)."""
    import time

    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(".partial")):
            continue
        found = PARTIAL.match(entry.name)
        try:
            stale = (not process_alive(int(found.group(1))) if found
                     else time.time() - entry.stat().st_mtime > PARTIAL_MAX_AGE_S)
            if stale:
                os.unlink(entry.path)
        except OSError:
            continue


def store(source: Path, file_name: str, sha256_prefix: str | None) -> Path:
    """Copy ``source`` into the cache as ``file_name``: through a temporary file there, hashed
    while it is written, renamed into place only when complete and its hash starts with
    ``sha256_prefix`` (the caller checked ``source`` already; this guards against a file that
    changed meanwhile). Nothing is left behind otherwise. Returns the cache path."""
    target = cache_dir() / file_name
    _make_cache(target.parent)
    handle, partial = _partial_file(target)
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, open(source, "rb") as data:
            for chunk in iter(lambda: data.read(CHUNK_BYTES), b""):
                out.write(chunk)
                digest.update(chunk)
        got = digest.hexdigest()
        if sha256_prefix is not None and not got.startswith(sha256_prefix):
            raise ModelError(f"{source}: its sha256 changed while it was copied ({got[:16]}... "
                             f"does not start with {sha256_prefix}); nothing was stored in "
                             f"{target.parent}", hint="run again once the file is complete")
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return target


def _offline_error(url: str, target: Path, reason: object,
                   add_command: str | None = None) -> ModelError:
    url, target = shown_path(url), shown_path(target)  # one line each, whatever they hold
    if add_command:
        manual = (f"download {url} on another machine, then run `{add_command}` here (it checks "
                  f"the file and copies it to {target})")
    else:
        manual = (f"download {url} on another machine and copy it to {target} (that name "
                  "exactly)")
    return ModelError(f"cannot download backbone weights {url} ({reason})",
                      hint=f"this run needs {target}; without internet here, {manual}, or pass "
                           "the file to nasfpn train --backbone-weights FILE")


def _download(url: str, target: Path, sha256_prefix: str | None, progress: bool,
              timeout: float = TIMEOUT_S, add_command: str | None = None) -> None:
    """``url`` into ``target`` through a temporary file renamed only when complete and checked;
    nothing is left behind otherwise."""
    handle, partial = _partial_file(target)
    try:
        with os.fdopen(handle, "wb") as out:
            digest, size, expected = _copy(url, out, target, progress, timeout, add_command)
        if expected is not None and size != expected:
            raise ModelError(f"download of {url} was cut short: {size} of {expected} bytes",
                             hint="run again; nothing was stored in the cache")
        got = digest.hexdigest()
        if sha256_prefix is not None and not got.startswith(sha256_prefix):
            raise ModelError(f"download of {url}: sha256 {got[:len(sha256_prefix)]}... does not "
                             f"start with {sha256_prefix} (from the file name); nothing was "
                             f"stored in {target.parent}",
                             hint="run again; if it persists the file on the server is not the "
                                  "published one")
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _copy(url: str, out, target: Path, progress: bool, timeout: float = TIMEOUT_S,
          add_command: str | None = None):
    """Stream ``url`` into ``out``, hashing it; (digest, bytes, Content-Length or None)."""
    digest = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length") if response.headers else None
            expected = int(length) if length and length.isdigit() else None
            with _progress_bar(target.name, expected, progress) as advance:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    advance(len(chunk))
    except http.client.IncompleteRead as exc:
        raise ModelError(f"download of {url} was cut short after {size + len(exc.partial)} "
                         "bytes", hint="run again; nothing was stored in the cache") from None
    except (urllib.error.URLError, socket.timeout, ConnectionError, http.client.HTTPException,
            ValueError) as exc:
        raise _offline_error(url, target, getattr(exc, "reason", None) or exc,
                             add_command) from None
    except OSError as exc:  # a socket error, or the cache folder's disk
        raise _offline_error(url, target, exc.strerror or exc, add_command) from None
    return digest, size, expected


class _progress_bar:
    """A rich download bar on stderr (bytes, speed, time left); ``advance(n)`` inside."""

    def __init__(self, name: str, total: int | None, enabled: bool) -> None:
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                   TimeRemainingColumn, TransferSpeedColumn)

        from rich.markup import escape

        from ..console import err_console, safe_text

        self.progress = Progress(TextColumn("[bold]downloading[/] {task.description}"),
                                 BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                                 TimeRemainingColumn(), console=err_console,
                                 disable=not enabled, transient=False)
        self.task = self.progress.add_task(escape(safe_text(name)), total=total)

    def __enter__(self) -> Callable[[int], None]:
        self.progress.start()
        return lambda count: self.progress.advance(self.task, count)

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()
