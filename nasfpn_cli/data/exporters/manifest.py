"""The manifest an export leaves in its folder (``OUT/export.json``): the one proof that nasfpn
wrote the folder, and the list of what it wrote there.

The rule for what an export may write over (docs/robustness.md):

* an empty or new folder: anything;
* a folder whose manifest says nasfpn exported it: the files the manifest lists (a re-export
  of a split replaces that split whole, removing its old files; other splits are kept), and
  nothing it does not list, unless ``--overwrite``;
* any other non-empty folder (a user's YOLO dataset with its own ``data.yaml``, a damaged
  manifest, a ``data.yaml`` edited since the export): refused, exit 1, unless ``--overwrite``.

A manifest's paths are checked before anything is removed: only relative paths under
``images/`` and ``labels/`` of the folder are ever deleted.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ...errors import DatasetError
from ...utils import atomic_write_json, file_sha256

MANIFEST = "export.json"
WRITER = "nasfpn data export"
# the only folders a manifest may name files in
OWNED_FOLDERS = ("images", "labels")
OVERWRITE_HINT = "choose an empty folder, or pass --overwrite to write into it anyway"


@dataclass
class SplitFiles:
    """One exported split: the annotation file it came from and every file written for it."""

    ann: str
    files: list[str] = field(default_factory=list)  # relative POSIX paths under OUT


@dataclass
class ExportManifest:
    """What an earlier ``data export`` wrote into a folder."""

    format: str
    names: list[str]
    splits: dict[str, SplitFiles] = field(default_factory=dict)
    data_yaml_sha256: str | None = None
    complete: bool = True

    def to_dict(self) -> dict:
        return {"written_by": WRITER, "format": self.format, "complete": self.complete,
                "names": self.names, "data_yaml_sha256": self.data_yaml_sha256,
                "splits": {name: {"ann": split.ann, "files": split.files}
                           for name, split in self.splits.items()}}


def owned_path(text: object) -> PurePosixPath | None:
    """``text`` as a path a manifest may name (relative, no ``..``, under images/ or labels/),
    else None."""
    if not isinstance(text, str) or not text or "\\" in text or "\x00" in text:
        return None
    path = PurePosixPath(text)
    if path.is_absolute() or any(part in ("", ".", "..") for part in path.parts):
        return None
    return path if len(path.parts) >= 2 and path.parts[0] in OWNED_FOLDERS else None


def _damaged(path: Path, field_name: str, expected: str) -> DatasetError:
    return DatasetError(f"{path}: field {field_name!r}: expected {expected}; not a manifest "
                        f"nasfpn wrote", hint=OVERWRITE_HINT)


def _parse(path: Path, data: object) -> ExportManifest:
    if not isinstance(data, dict) or data.get("written_by") != WRITER:
        raise _damaged(path, "written_by", repr(WRITER))
    fmt, names, splits = data.get("format"), data.get("names"), data.get("splits")
    if not isinstance(fmt, str):
        raise _damaged(path, "format", "a format name")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _damaged(path, "names", "a list of class names")
    if not isinstance(splits, dict):
        raise _damaged(path, "splits", "an object of splits")
    digest = data.get("data_yaml_sha256")
    if digest is not None and not isinstance(digest, str):
        raise _damaged(path, "data_yaml_sha256", "a sha256 hex digest or null")
    manifest = ExportManifest(fmt, names, data_yaml_sha256=digest,
                              complete=data.get("complete") is True)
    for name, split in splits.items():
        where = f"splits.{name}"
        if not isinstance(split, dict) or not isinstance(split.get("ann"), str):
            raise _damaged(path, f"{where}.ann", "the annotation file's name")
        files = split.get("files")
        if not isinstance(files, list) or any(owned_path(f) is None for f in files):
            raise _damaged(path, f"{where}.files",
                           "a list of relative paths under images/ or labels/")
        manifest.splits[name] = SplitFiles(split["ann"], list(files))
    return manifest


def read_manifest(out: Path) -> ExportManifest | None:
    """The manifest in ``out``, None when there is none; DatasetError when it is damaged."""
    path = out / MANIFEST
    if not path.exists() and not path.is_symlink():
        return None
    if not path.is_file():
        raise DatasetError(f"{path}: not a regular file; not a manifest nasfpn wrote",
                           hint=OVERWRITE_HINT)
    try:
        with open(path, "rb") as handle:
            text = handle.read(64 << 20)
        data = json.loads(text)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, RecursionError):
        raise DatasetError(f"{path}: not JSON; not a manifest nasfpn wrote",
                           hint=OVERWRITE_HINT) from None
    return _parse(path, data)


def earlier_export(out: Path, yaml_name: str, overwrite: bool) -> ExportManifest | None:
    """The earlier export in ``out`` that this one may replace, or None (a new or empty folder,
    or ``overwrite``). Refuses (DatasetError, exit 1) a file, and a non-empty folder nasfpn did
    not export into or whose ``yaml_name`` was changed since, unless ``overwrite``."""
    if (out.exists() or out.is_symlink()) and not out.is_dir():
        raise DatasetError(f"{out}: exists and is not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return None
    try:
        manifest = read_manifest(out)
    except DatasetError:
        if overwrite:
            return None
        raise
    if manifest is None:
        if overwrite:
            return None
        raise DatasetError(f"{out}: the folder is not empty and holds no export of nasfpn "
                           f"(no {MANIFEST}); refusing to write over files it did not write",
                           hint=OVERWRITE_HINT)
    config = out / yaml_name
    if manifest.data_yaml_sha256 is not None and config.is_file() and not overwrite \
            and file_sha256(config) != manifest.data_yaml_sha256:
        raise DatasetError(f"{config}: changed since nasfpn exported it; refusing to "
                           f"replace it", hint=OVERWRITE_HINT)
    return manifest


def foreign_files(out: Path, targets: list[str], manifest: ExportManifest | None) -> list[str]:
    """The ``targets`` (relative paths) that exist in ``out`` but no earlier export wrote."""
    owned = {f for split in (manifest.splits.values() if manifest else ()) for f in split.files}
    return [t for t in targets if t not in owned and os.path.lexists(out / t)]


def remove_stale(out: Path, manifest: ExportManifest | None, splits: list[str],
                 written: set[str]) -> None:
    """Remove the files the earlier export wrote for ``splits`` that this one did not write
    again (only regular files and links, only under images/ and labels/)."""
    if manifest is None:
        return
    root = os.path.realpath(out) + os.sep
    for name in splits:
        split = manifest.splits.get(name)
        for relative in (split.files if split else ()):
            if relative in written or owned_path(relative) is None:
                continue
            path = out / relative
            if not os.path.realpath(path.parent).startswith(root):
                continue  # images/ or labels/ made a link to elsewhere: not ours to touch
            if path.is_symlink() or path.is_file():
                path.unlink()


def write_manifest(out: Path, manifest: ExportManifest) -> None:
    atomic_write_json(out / MANIFEST, manifest.to_dict())


__all__ = ["ExportManifest", "MANIFEST", "SplitFiles", "earlier_export", "foreign_files",
           "owned_path", "read_manifest", "remove_stale", "write_manifest"]
