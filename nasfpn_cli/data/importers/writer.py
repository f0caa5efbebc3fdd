"""Writing an :class:`~.result.ImportResult` as COCO JSON files, and the training command that
uses them.

Layout: ``OUT/annotations/instances_<split>.json`` (one per split with images) and
``OUT/import.json`` (what was imported from where, every problem, the command). The images stay in the source: all
``file_name``s are relative to one folder, the result's ``image_root``, so every split pairs its
annotation file with that same folder (``--train-images ROOT --val-images ROOT``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ...untrusted import shell_word
from ...utils import atomic_write_json
from .result import ImportResult

MARKER = "import.json"
# the split trained on, then the one evaluated on: the first of each list that was imported
TRAIN_SPLITS = ("train", "trainval")
VAL_SPLITS = ("val", "test")


def annotation_file(out: Path, split: str) -> Path:
    return out / "annotations" / f"instances_{split}.json"


def train_val_splits(splits: list[str]) -> tuple[str, str | None]:
    """(training split, validation split or None) among ``splits``: train (else trainval, else
    the first) and val (else test), never the same one twice."""
    train = next((s for s in TRAIN_SPLITS if s in splits), splits[0])
    val = next((s for s in VAL_SPLITS if s in splits and s != train), None)
    return train, val


def train_command(result: ImportResult, out: Path) -> str:
    """The ``nasfpn train`` command line that trains on the written files."""
    train, val = train_val_splits(list(result.splits))
    root = str(result.image_root)
    words = ["nasfpn", "train", "nasfpn", "--train-ann", str(annotation_file(out, train)),
             "--train-images", root]
    if val is not None:
        words += ["--val-ann", str(annotation_file(out, val)), "--val-images", root]
    words += ["-o", str(Path("runs") / (out.name or "imported"))]
    return " ".join(shell_word(word) for word in words)


def _earlier_files(out: Path) -> list[Path]:
    """Annotation files an earlier import into ``out`` wrote (from its marker)."""
    try:
        earlier = json.loads((out / MARKER).read_text(encoding="utf-8"))
        files = [out / s["ann"] for s in earlier["splits"].values()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
    folder = os.path.abspath(out / "annotations")
    return [f for f in files if os.path.dirname(os.path.abspath(f)) == folder]


def write_import(result: ImportResult, out: Path, command: str) -> dict:
    """Write every split and the marker; returns the marker's content. Each file is written
    atomically; annotation files of an earlier import into ``out`` whose split is gone are
    removed (nothing else is)."""
    stale = _earlier_files(out)
    description = f"imported by nasfpn from {result.format} {result.source}"
    splits = {}
    for name, part in result.splits.items():
        path = annotation_file(out, name)
        atomic_write_json(path, result.coco(name, description), indent=None)
        splits[name] = {"ann": path.relative_to(out).as_posix(), "images": len(part.images),
                        "annotations": len(part.annotations)}
    written = {os.path.abspath(out / s["ann"]) for s in splits.values()}
    for path in stale:
        if os.path.abspath(path) not in written and path.is_file():
            path.unlink()
    summary = {"format": result.format, "source": str(result.source),
               "image_root": os.path.abspath(result.image_root), "splits": splits,
               "categories": result.categories, "notes": result.notes,
               "train_command": command,
               "problems": [p.to_dict() for p in result.problems]}
    atomic_write_json(out / MARKER, summary)
    return summary
