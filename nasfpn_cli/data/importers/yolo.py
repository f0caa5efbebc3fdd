"""YOLO (Ultralytics / darknet) labels: ``images/<split>/*.jpg`` beside ``labels/<split>/*.txt``.

Conventions (docs/data.md):

* the dataset: a ``data.yaml`` (the file, or a folder holding it) with ``path`` (the root;
  relative to the YAML file's folder, which is also the default), ``train``/``val``/``test``
  (a folder of images, searched recursively, or a ``.txt`` list of image paths, relative to the
  list's folder; or a list of those) and ``names`` (a list, or a ``{index: name}`` mapping;
  ``nc`` alone gives ``class0``, ``class1``...); or a folder with ``classes.txt`` or
  ``obj.names`` (one name a line) and ``images/<split>/`` (each subfolder a split, or
  ``images/*.jpg`` as the one split ``train``);
* an image's labels: the path with its last ``/images/`` replaced by ``/labels/`` and its
  suffix by ``.txt`` (Ultralytics' rule); no label file means an image without objects;
* a line ``class cx cy w h``, normalised to [0, 1] by the image size (read from the image
  header); a segmentation line (``class x1 y1 x2 y2 ...``, 3 points or more) becomes the
  bounding box of its points; class ``k`` becomes category id ``k + 1`` with its name.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import DatasetError
from ...limits import MAX_NUM_CLASSES
from ...untrusted import shown_path
from .result import (IMAGE_SUFFIXES, ImportedSplit, ImportOptions, ImportProblem, ImportResult,
                     clip_box, exists, image_size, is_dir, is_file, not_a_file, number,
                     relative_name)
from .safe_yaml import YamlError, parse_yaml_file

YAML_NAMES = ("data.yaml", "data.yml")
NAMES_FILES = ("classes.txt", "obj.names")
SPLIT_KEYS = ("train", "val", "test")
LAYOUT_HINT = ("give a data.yaml (keys path, train, val, names), or a folder with data.yaml, or "
               "with classes.txt/obj.names and images/<split>/ beside labels/<split>/")


def label_path(image: Path) -> Path:
    """Ultralytics' rule: the last ``/images/`` of the path becomes ``/labels/``, the suffix
    ``.txt`` (an image outside any images folder has its labels beside it)."""
    text = os.path.abspath(image)
    images, labels = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    head, found, tail = text.rpartition(images)
    if found:
        text = head + labels + tail
    return Path(text).with_suffix(".txt")


@dataclass
class _Layout:
    root: Path
    names: dict[int, str]
    splits: dict[str, list[Path]] = field(default_factory=dict)
    label_folders: list[Path] = field(default_factory=list)  # searched for orphan labels
    notes: list[str] = field(default_factory=list)


def _images_in(folder: Path, root: Path, problems: list[ImportProblem]) -> list[Path]:
    """The images under ``folder``, searched recursively (see :func:`_images_among`)."""
    return _images_among(folder.rglob("*"), root, problems)


def _images_among(entries, root: Path, problems: list[ImportProblem]) -> list[Path]:
    """The images among ``entries``; an entry named like an image that is a folder, FIFO,
    device or dangling link is reported (never skipped without a word)."""
    images = []
    for path in sorted(entries):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        what = not_a_file(path)
        if what is None:
            images.append(path)
        else:
            problems.append(ImportProblem("not-a-file", relative_name(path, root), None,
                                          f"named like an image but {what}: left out"))
    return images


def _shown(value: object, limit: int = 60) -> str:
    """A short ``repr`` of a value read from a file, for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _names_from_yaml(data: dict, shown: str) -> tuple[dict[int, str], list[str]]:
    names, count = data.get("names"), data.get("nc")
    if count is not None and (type(count) is not int or not 1 <= count <= MAX_NUM_CLASSES):
        raise DatasetError(f"{shown}: nc is {_shown(count)}, expected a whole number from 1 to "
                           f"{MAX_NUM_CLASSES}")
    if names is None:
        if count is None:
            raise DatasetError(f"{shown}: no 'names' (nor 'nc')", hint=LAYOUT_HINT)
        return {k: f"class{k}" for k in range(count)}, [f"{shown} has no names: "
                                                        f"class0..class{count - 1}"]
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict):
        raise DatasetError(f"{shown}: 'names' must be a list or an {{index: name}} mapping")
    if len(names) > MAX_NUM_CLASSES:
        raise DatasetError(f"{shown}: 'names' has {len(names)} classes, more than the "
                           f"{MAX_NUM_CLASSES} a model may have")
    result: dict[int, str] = {}
    for key, value in names.items():
        index = number(str(key)) if isinstance(key, (str, int)) else None
        if index is None or not index.is_integer() or not 0 <= index < MAX_NUM_CLASSES:
            raise DatasetError(f"{shown}: names key {_shown(key)} is not a class index (0 to "
                               f"{MAX_NUM_CLASSES - 1})")
        if not isinstance(value, (str, int, float)) or str(value).strip() == "":
            raise DatasetError(f"{shown}: the name of class {_shown(key)} is {_shown(value)}")
        if int(index) in result:
            raise DatasetError(f"{shown}: names gives class {int(index)} twice "
                               f"({result[int(index)]!r} and {str(value).strip()!r})")
        result[int(index)] = str(value).strip()
    if count is not None and count != len(result):
        raise DatasetError(f"{shown}: nc is {count} but names has {len(result)} entries")
    return dict(sorted(result.items())), []


def _read_yaml(path: Path) -> dict:
    try:
        data = parse_yaml_file(path)
    except YamlError as exc:
        raise DatasetError(f"{path}{'' if exc.line is None else f':{exc.line}'}: {exc}") \
            from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a mapping of keys (path, train, val, names)",
                           hint=LAYOUT_HINT)
    return data


def _list_file(path: Path, root: Path, problems: list[ImportProblem]) -> list[Path]:
    images = []
    for line_number, line in enumerate(path.read_text(encoding="utf-8",
                                                      errors="replace").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        image = Path(line) if os.path.isabs(line) else path.parent / line
        if not is_file(image):
            what = not_a_file(image)
            problems.append(ImportProblem("image-missing" if what is None else "not-a-file",
                                          relative_name(path, root), line_number,
                                          f"{line}: " + ("not found" if what is None
                                                         else f"{what}, not an image file")))
            continue
        images.append(image)
    return images


def _yaml_layout(path: Path, problems: list[ImportProblem]) -> _Layout:
    data = _read_yaml(path)
    shown = shown_path(path)  # the file as given: "data.yaml" alone named no dataset
    names, notes = _names_from_yaml(data, shown)
    root = path.parent
    if data.get("path") not in (None, ""):
        if not isinstance(data["path"], str):
            raise DatasetError(f"{shown}: path is {_shown(data['path'])}, expected the dataset's "
                               f"folder")
        root = Path(data["path"])
        root = root if root.is_absolute() else path.parent / root
        if not is_dir(root):
            raise DatasetError(f"{shown}: path {data['path']!r}: "
                               + ("not a folder" if exists(root) else "no such folder"))
    layout = _Layout(root, names, notes=notes)
    for key in SPLIT_KEYS:
        value = data.get(key)
        if value in (None, ""):
            continue
        entries = value if isinstance(value, list) else [value]
        images: list[Path] = []
        for entry in entries:
            if not isinstance(entry, str):
                problems.append(ImportProblem("image-missing", shown, None,
                                              f"{key}: {_shown(entry)} is not a folder or .txt "
                                              f"list name"))
                continue
            where = Path(entry)
            where = where if where.is_absolute() else root / where
            if is_dir(where):
                images += _images_in(where, root, problems)
                layout.label_folders.append(label_path(where / "x").parent)
            elif is_file(where) and where.suffix.lower() == ".txt":
                images += _list_file(where, root, problems)
            else:
                problems.append(ImportProblem("image-missing", shown, None,
                                              f"{key}: {entry} is neither a folder of images "
                                              f"nor a .txt list of them"))
        layout.splits[key] = list(dict.fromkeys(images))
    return layout


def _names_file(path: Path) -> dict[int, str]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    for line_number, line in enumerate(lines, 1):
        if not line.strip():
            raise DatasetError(f"{path}:{line_number}: empty class name",
                               hint="one class name a line, class 0 first")
    if not lines:
        raise DatasetError(f"{path}: no class names")
    return {index: line.strip() for index, line in enumerate(lines)}


def _folder_layout(root: Path, problems: list[ImportProblem]) -> _Layout:
    names_file = next((root / n for n in NAMES_FILES if is_file(root / n)), None)
    if names_file is None:
        raise DatasetError(f"{root}: no data.yaml, classes.txt or obj.names", hint=LAYOUT_HINT)
    layout = _Layout(root, _names_file(names_file))
    images = root / "images"
    if not is_dir(images):
        raise DatasetError(f"{root}: no images folder", hint=LAYOUT_HINT)
    for folder in sorted(p for p in images.iterdir() if is_dir(p)
                         and p.suffix.lower() not in IMAGE_SUFFIXES):
        layout.splits[folder.name] = _images_in(folder, root, problems)
        layout.label_folders.append(root / "labels" / folder.name)
    direct = _images_among(images.iterdir(), root, problems)
    if direct:
        if "train" in layout.splits:
            raise DatasetError(f"{images}: holds both images and a train folder",
                               hint="move the images into images/<split>/")
        layout.splits = {"train": direct, **layout.splits}
        layout.label_folders.append(root / "labels")
    return layout


def _layout(source: Path, problems: list[ImportProblem]) -> _Layout:
    if not exists(source):
        raise DatasetError(f"{source}: no such file or folder", hint=LAYOUT_HINT)
    if not is_dir(source):  # a data.yaml; the reader refuses FIFOs and devices
        return _yaml_layout(source, problems)
    found = next((source / n for n in YAML_NAMES if exists(source / n)), None)
    return _yaml_layout(found, problems) if found else _folder_layout(source, problems)


def _box(fields: list[str], width: int, height: int) -> tuple[list[float] | None, str, str]:
    """(bbox, kind, reason) of one label line's coordinates (bbox None when bad)."""
    values = [number(v) for v in fields]
    if any(v is None for v in values):
        bad = next(f for f, v in zip(fields, values) if v is None)
        return None, "non-numeric", f"{bad!r} is not a number"
    if len(values) == 4:
        cx, cy, w, h = values  # type: ignore[misc]
        corners = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    else:
        xs, ys = values[0::2], values[1::2]
        corners = (min(xs), min(ys), max(xs), max(ys))  # type: ignore[type-var]
    x1, y1, x2, y2 = corners  # type: ignore[misc]
    bbox, kind = clip_box(x1 * width, y1 * height, x2 * width, y2 * height, width, height)
    reason = ""
    if bbox is None:
        reason = (f"box {' '.join(fields)} (normalised) "
                  + ("has no area" if kind == "bbox-non-positive"
                     else f"lies outside its {width}x{height} image"))
    return bbox, kind or "", reason


def _read_labels(path: Path, shown: str, width: int, height: int, names: dict[int, str],
                 problems: list[ImportProblem]) -> tuple[list[tuple[int, list[float]]], int]:
    """(class, bbox) of every good line, and how many were polygons."""
    boxes, polygons = [], 0
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        problems.append(ImportProblem("image-unreadable", shown, None,
                                      f"label file unreadable: {exc.strerror or exc}"))
        return [], 0
    for line_number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5 and (len(fields) < 7 or len(fields) % 2 == 0):
            problems.append(ImportProblem("wrong-field-count", shown, line_number,
                                          f"{len(fields)} values, expected 'class cx cy w h' "
                                          f"or a polygon 'class x1 y1 x2 y2 x3 y3 ...'"))
            continue
        index = number(fields[0])
        if index is None or not index.is_integer() or int(index) not in names:
            kind = "non-numeric" if index is None else "unknown-class"
            problems.append(ImportProblem(kind, shown, line_number,
                                          f"class {fields[0]!r}: not one of the "
                                          f"{len(names)} class indices"))
            continue
        bbox, kind, reason = _box(fields[1:], width, height)
        if bbox is None:
            problems.append(ImportProblem(kind, shown, line_number, reason))
            continue
        polygons += len(fields) > 5
        boxes.append((int(index), bbox))
    return boxes, polygons


def _orphans(layout: _Layout, expected: set[str], problems: list[ImportProblem]) -> None:
    """Report label files that no image of the dataset has."""
    seen: set[str] = set()
    for folder in layout.label_folders:
        if not is_dir(folder):
            continue
        for path in sorted(folder.rglob("*.txt")):
            key = os.path.abspath(path)
            if key in expected or key in seen or path.name in NAMES_FILES:
                continue
            seen.add(key)
            problems.append(ImportProblem("label-without-image", relative_name(path, layout.root),
                                          None, "no image of this name in the dataset"))


def import_yolo(source: Path, options: ImportOptions) -> ImportResult:
    """Read the YOLO dataset at ``source`` (a data.yaml or a folder)."""
    problems: list[ImportProblem] = []
    layout = _layout(Path(source), problems)
    if not layout.splits:
        raise DatasetError(f"{source}: no split (train, val, test) found", hint=LAYOUT_HINT)
    options.expect(sum(len(images) for images in layout.splits.values()))
    ids = {index: index + 1 for index in layout.names}
    splits: dict[str, ImportedSplit] = {}
    expected: set[str] = set()
    polygons = 0
    for split, images in layout.splits.items():
        part = splits[split] = ImportedSplit(split)
        for image in images:
            options.advance(1)
            shown = relative_name(image, layout.root)
            labels = label_path(image)
            expected.add(os.path.abspath(labels))
            size = image_size(image)
            if isinstance(size[0], str):
                problems.append(ImportProblem(str(size[0]), shown, None, str(size[1])))
                continue
            width, height = size  # type: ignore[misc]
            boxes: list[tuple[int, list[float]]] = []
            what = not_a_file(labels)
            if what is not None:  # not "no labels": a label file that cannot be read
                problems.append(ImportProblem("not-a-file", relative_name(labels, layout.root),
                                              None, f"the label file of {shown} is {what}: "
                                                    f"the image is left out"))
                continue
            if is_file(labels):
                boxes, count = _read_labels(labels, relative_name(labels, layout.root), width,
                                            height, layout.names, problems)
                polygons += count
            image_id = part.add_image(shown, width, height)
            for index, bbox in boxes:
                part.add_box(image_id, ids[index], bbox)
    _orphans(layout, expected, problems)
    notes = list(layout.notes)
    if polygons:
        notes.append(f"{polygons} segmentation polygons read as their bounding boxes")
    categories = [{"id": ids[k], "name": name, "supercategory": "none"}
                  for k, name in layout.names.items()]
    return ImportResult("yolo", Path(source), layout.root, categories, splits, problems, notes)
