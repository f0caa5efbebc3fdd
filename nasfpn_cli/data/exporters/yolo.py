"""COCO JSON to a YOLO (Ultralytics) dataset: ``OUT/images/<split>/``, ``OUT/labels/<split>/``
and ``OUT/data.yaml``.

YOLO finds labels by the image's path (``/images/`` -> ``/labels/``), so the images must sit
under ``OUT/images/<split>/``: they are hard-linked there (no extra space), or copied where
links cannot be made (another file system). Category ``k``-th by id becomes class ``k - 1``
(so ids 1..K, as ``data import --from yolo`` writes, round-trip exactly); crowd boxes have no
YOLO form and are left out (counted). Splits are named after the files:
``instances_val.json`` -> ``val``, under the data.yaml key (train, val, test) it starts with; a
name that starts with none of them is refused (no YOLO reader would find it).

What the export may write over, and how a re-export replaces an earlier one, is the rule of
:mod:`.manifest`. Exporting splits one call at a time into one folder (the COCO 2017 layout,
one images folder per split) keeps every split in ``data.yaml``.
"""
from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ...errors import DatasetError
from ...utils import atomic_write, file_sha256, listed
from ..annotations import CHECK_HINT
from ..checks import check_dataset
from .manifest import (ExportManifest, SplitFiles, earlier_export, foreign_files,
                       remove_stale, write_manifest)

MARKER = "data.yaml"
YAML_KEYS = ("train", "val", "test")
SPLIT_NAME = re.compile(r"(train|val|test)[A-Za-z0-9_.-]*")
SHOWN_PROBLEM_LINES = 12


@dataclass
class _Split:
    """One split to write: its annotations and, per image, the source and target files."""

    name: str
    ann: Path
    data: dict
    images: list[tuple[Path, str, list[str]]] = field(default_factory=list)  # src, rel, lines
    crowd: int = 0

    @property
    def boxes(self) -> int:
        return sum(len(lines) for _, _, lines in self.images)


def split_name(ann_file: Path) -> str:
    """``instances_train.json`` -> ``train``; another name -> its stem."""
    stem = ann_file.stem
    return stem[len("instances_"):] if stem.startswith("instances_") and stem != "instances_" \
        else stem


def _place(source: Path, target: Path) -> None:
    """``target`` becomes the same file as ``source``: a hard link, else a copy."""
    if target.exists() and source.exists() and os.path.samefile(source, target):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        os.link(source, temporary)
    except OSError:
        shutil.copy2(source, temporary)
    os.replace(temporary, target)


def _target_names(images: list[dict]) -> dict[int, str]:
    """Image id -> its file name under images/<split>/, distinct per split also once the
    suffix becomes the label file's ``.txt``: the base name, or the whole relative path joined
    with '__' when two images share a base name; ``~2``, ``~3``... where names still meet.
    Images keeping their own base name are served first."""
    base = {i["id"]: PurePosixPath(i["file_name"]).name for i in images}
    twice = {n for n, count in Counter(base.values()).items() if count > 1}
    wanted = {i["id"]: "__".join(PurePosixPath(i["file_name"]).parts) if base[i["id"]] in twice
              else base[i["id"]] for i in images}
    stems: set[str] = set()
    names: dict[int, str] = {}
    for image_id in sorted(wanted, key=lambda i: base[i] in twice):
        name = PurePosixPath(wanted[image_id])
        stem, number = name.stem, 1
        while stem in stems:
            number += 1
            stem = f"{name.stem}~{number}"
        stems.add(stem)
        names[image_id] = stem + name.suffix
    return names


def _line(index: int, bbox: list[float], width: int, height: int) -> str:
    x, y, w, h = bbox
    values = ((x + w / 2) / width, (y + h / 2) / height, w / width, h / height)
    return " ".join([str(index)] + [f"{v:.6f}" for v in values])


def _read_splits(ann_files: list[Path], image_dir: Path) -> tuple[list[_Split], list]:
    """Every split, checked, and the categories they share (id, name) sorted by id."""
    splits: dict[str, _Split] = {}
    categories: list | None = None
    for ann in ann_files:
        name = split_name(ann)
        if not SPLIT_NAME.fullmatch(name):
            raise DatasetError(f"{ann}: split {name!r}: YOLO reads only splits named train, val "
                               f"or test (and names starting so)",
                               hint="rename the file, e.g. instances_train.json")
        if name in splits:
            raise DatasetError(f"{ann}: a second file for split {name!r}")
        report = check_dataset(ann, image_dir)
        if not report.ok:
            lines = str(report.render()).splitlines()
            shown = lines[:SHOWN_PROBLEM_LINES] + (["..."] * (len(lines) > SHOWN_PROBLEM_LINES))
            raise DatasetError(f"{ann}: {report.total} problem(s) in the data (images in "
                               f"{image_dir}); not exported\n" + "\n".join(shown),
                               hint=CHECK_HINT)
        data = report.data
        assert isinstance(data, dict)
        found = sorted(((c["id"], c["name"]) for c in data["categories"]))
        if categories is not None and found != categories:
            raise DatasetError(f"{ann}: its categories differ from {ann_files[0]}'s",
                               hint="export splits of one dataset together")
        categories = found
        splits[name] = _Split(name, ann, data)
    assert categories is not None
    return list(splits.values()), categories


def _plan(split: _Split, image_dir: Path, classes: dict[int, int]) -> None:
    """Fill ``split.images``: each image's source, target (relative to OUT) and label lines."""
    boxes: dict[int, list[str]] = {}
    sizes = {i["id"]: (i["width"], i["height"]) for i in split.data["images"]}
    for ann in split.data["annotations"]:
        if ann.get("iscrowd", 0):
            split.crowd += 1
            continue
        boxes.setdefault(ann["image_id"], []).append(
            _line(classes[ann["category_id"]], ann["bbox"], *sizes[ann["image_id"]]))
    targets = _target_names(split.data["images"])
    for image in split.data["images"]:
        relative = f"images/{split.name}/{targets[image['id']]}"
        split.images.append((image_dir / image["file_name"], relative,
                             boxes.get(image["id"], [])))


def _label(relative: str) -> str:
    return "labels/" + str(PurePosixPath(relative).relative_to("images").with_suffix(".txt"))


def _kept_splits(earlier: ExportManifest | None, names: list[str], new: list[str],
                 out: Path, overwrite: bool) -> dict[str, SplitFiles]:
    """The earlier export's splits that stay beside the new ones (same classes); with other
    classes the earlier export is refused, or with ``overwrite`` replaced whole."""
    if earlier is None:
        return {}
    others = {n: s for n, s in earlier.splits.items() if n not in new}
    if others and earlier.names != names:
        if not overwrite:
            raise DatasetError(f"{out}: holds an export of other classes "
                               f"({listed(earlier.names, 5)}; splits {', '.join(others)}); "
                               f"refusing to mix them with {listed(names, 5)}",
                               hint="export into another folder, or pass --overwrite to "
                                    "replace the earlier export whole")
        return {}
    return others


def _refuse_foreign(out: Path, splits: list[_Split], earlier: ExportManifest | None) -> None:
    """Refuse before writing when a target is in the way: a file no export wrote, or a file
    where a folder must go."""
    for folder in {f"{top}/{s.name}" for s in splits for top in ("images", "labels")} | \
            {"images", "labels"}:
        if (out / folder).exists() and not (out / folder).is_dir():
            raise DatasetError(f"{out / folder}: exists and is not a folder; nothing exported",
                               hint="move it away, or export into another folder")
    targets = [t for s in splits for _, image, _ in s.images for t in (image, _label(image))]
    foreign = foreign_files(out, targets, earlier)
    if foreign:
        raise DatasetError(f"{out}: {len(foreign)} file(s) in the way that no export wrote: "
                           f"{listed(foreign, 5)}; nothing exported",
                           hint="export into another folder, or pass --overwrite to replace "
                                "them")


def _data_yaml(splits: list[str], names: list[str]) -> str:
    import yaml

    folders: dict[str, list[str]] = {}
    for name in sorted(splits, key=lambda n: (YAML_KEYS.index(SPLIT_NAME.match(n)[1]), n)):
        key = SPLIT_NAME.match(name)[1]  # type: ignore[index]
        folders.setdefault(key, []).append(f"images/{name}")
    config = {**{k: v[0] if len(v) == 1 else v for k, v in folders.items()},
              "nc": len(names), "names": names}
    return ("# written by nasfpn data export; no 'path': this folder\n"
            + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def export_yolo(ann_files: list[Path], image_dir: Path, out: Path,
                progress: Callable[[int], None] | None = None, overwrite: bool = False) -> dict:
    """Write the splits ``ann_files`` (images under ``image_dir``) as a YOLO dataset in ``out``;
    returns a summary (splits, counts, names). Refuses data `data check` finds problems in,
    splits whose categories differ, and a folder it may not write into (:mod:`.manifest`)."""
    splits, categories = _read_splits(ann_files, image_dir)
    names = [name for _, name in categories]
    earlier = earlier_export(out, MARKER, overwrite)
    classes = {category_id: index for index, (category_id, _) in enumerate(categories)}
    for split in splits:
        _plan(split, image_dir, classes)
    if not overwrite:
        _refuse_foreign(out, splits, earlier)
    kept = _kept_splits(earlier, names, [s.name for s in splits], out, overwrite)
    manifest = ExportManifest("yolo", names, dict(kept), complete=False)
    for split in splits:  # owned from the start: an interrupted export can be redone
        before = earlier.splits.get(split.name) if earlier else None
        planned = [image for _, image, _ in split.images]
        planned += [_label(image) for _, image, lines in split.images if lines]
        files = (before.files if before else []) + planned
        manifest.splits[split.name] = SplitFiles(str(split.ann), list(dict.fromkeys(files)))
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(out, manifest)
    written: set[str] = set()
    summary: dict = {"splits": {}, "names": names, "crowd_left_out": 0}
    for split in splits:
        for source, image, lines in split.images:
            _place(source, out / image)
            written.add(image)
            label = out / _label(image)
            if lines:
                atomic_write(label, "\n".join(lines) + "\n")
                written.add(_label(image))
            elif label.is_file() or label.is_symlink():  # no objects: no label file
                label.unlink()
            if progress is not None:
                progress(1)
        summary["splits"][split.name] = {"images": len(split.images), "boxes": split.boxes}
        summary["crowd_left_out"] += split.crowd
        manifest.splits[split.name].files = [f for f in manifest.splits[split.name].files
                                             if f in written]
    dropped = [n for n in (earlier.splits if earlier else {}) if n not in manifest.splits]
    remove_stale(out, earlier, [s.name for s in splits] + dropped, written)
    atomic_write(out / MARKER, _data_yaml(list(manifest.splits), names))
    manifest.data_yaml_sha256 = file_sha256(out / MARKER)
    manifest.complete = True
    write_manifest(out, manifest)
    summary["kept"] = list(kept)
    return summary
