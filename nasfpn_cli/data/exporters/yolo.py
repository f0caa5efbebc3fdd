"""COCO JSON to a YOLO (Ultralytics) dataset: ``OUT/images/<split>/``, ``OUT/labels/<split>/``
and ``OUT/data.yaml``.

YOLO finds labels by the image's path (``/images/`` -> ``/labels/``), so the images must sit
under ``OUT/images/<split>/``: they are hard-linked there (no extra space), or copied where
links cannot be made (another file system). Category ``k``-th by id becomes class ``k - 1``
(so ids 1..K, as ``data import --from yolo`` writes, round-trip exactly); crowd boxes have no
YOLO form and are left out (counted). Splits are named after the files:
``instances_val.json`` -> ``val``, under the data.yaml key (train, val, test) it starts with.
"""
from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from ...errors import DatasetError
from ...utils import atomic_write
from ..annotations import CHECK_HINT
from ..checks import check_dataset
from ..importers.yolo import label_path

MARKER = "data.yaml"
YAML_KEYS = ("train", "val", "test")


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
    """Image id -> its file name under images/<split>/: the base name, or the whole relative
    path joined with '__' when two images of the split share a base name."""
    base = {i["id"]: PurePosixPath(i["file_name"]).name for i in images}
    twice = {n for n, count in Counter(base.values()).items() if count > 1}
    return {image_id: "__".join(PurePosixPath(image["file_name"]).parts) if base[image_id] in twice
            else base[image_id] for image_id, image in zip(base, images)}


def _line(index: int, bbox: list[float], width: int, height: int) -> str:
    x, y, w, h = bbox
    values = ((x + w / 2) / width, (y + h / 2) / height, w / width, h / height)
    return " ".join([str(index)] + [f"{v:.6f}" for v in values])


def export_yolo(ann_files: list[Path], image_dir: Path, out: Path,
                progress: Callable[[int], None] | None = None) -> dict:
    """Write the splits ``ann_files`` (images under ``image_dir``) as a YOLO dataset in ``out``;
    returns a summary (splits, counts, names). Refuses data `data check` finds problems in,
    and splits whose categories differ."""
    import yaml

    splits: dict[str, dict] = {}
    categories: list | None = None
    for ann in ann_files:
        report = check_dataset(ann, image_dir)
        if not report.ok:
            raise DatasetError(f"{ann}: {report.total} problem(s) in the data; not exported",
                               hint=CHECK_HINT)
        data = report.data
        assert isinstance(data, dict)
        found = sorted(((c["id"], c["name"]) for c in data["categories"]))
        if categories is not None and found != categories:
            raise DatasetError(f"{ann}: its categories differ from {ann_files[0]}'s",
                               hint="export splits of one dataset together")
        categories = found
        name = split_name(ann)
        if name in splits:
            raise DatasetError(f"{ann}: a second file for split {name!r}")
        splits[name] = data
    assert categories is not None
    classes = {category_id: index for index, (category_id, _) in enumerate(categories)}
    summary: dict = {"splits": {}, "names": [name for _, name in categories], "crowd_left_out": 0}
    for name, data in splits.items():
        boxes: dict[int, list[str]] = {}
        sizes = {i["id"]: (i["width"], i["height"]) for i in data["images"]}
        for ann in data["annotations"]:
            if ann.get("iscrowd", 0):
                summary["crowd_left_out"] += 1
                continue
            boxes.setdefault(ann["image_id"], []).append(
                _line(classes[ann["category_id"]], ann["bbox"], *sizes[ann["image_id"]]))
        targets = _target_names(data["images"])
        for image in data["images"]:
            target = out / "images" / name / targets[image["id"]]
            _place(image_dir / image["file_name"], target)
            lines = boxes.get(image["id"])
            if lines:
                atomic_write(label_path(target), "\n".join(lines) + "\n")
            else:  # no objects: no label file (an earlier export's would be wrong now)
                label_path(target).unlink(missing_ok=True)
            if progress is not None:
                progress(1)
        summary["splits"][name] = {"images": len(data["images"]),
                                   "boxes": sum(len(v) for v in boxes.values())}
    folders: dict[str, list[str]] = {}
    for name in splits:  # Ultralytics reads the keys train, val and test
        key = next((k for k in YAML_KEYS if name.startswith(k)), name)
        folders.setdefault(key, []).append(f"images/{name}")
    config = {**{k: v[0] if len(v) == 1 else v for k, v in folders.items()},
              "nc": len(categories), "names": summary["names"]}
    atomic_write(out / MARKER, "# written by nasfpn data export; no 'path': this folder\n"
                 + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return summary
