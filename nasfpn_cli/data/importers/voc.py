"""Pascal VOC: ``Annotations/*.xml``, ``JPEGImages/`` and ``ImageSets/Main/{split}.txt``.

Conventions (docs/data.md):

* splits: one per ``ImageSets/Main/{train,val,trainval,test}.txt`` found (the per-class lists
  beside them are ignored); without any, every XML file is one split, ``train``;
* boxes: VOC's ``<bndbox>`` counts pixels from 1 and includes both ends, so pixel columns
  ``xmin..xmax`` become COCO ``x = xmin - 1``, ``w = xmax - xmin + 1`` (the devkit's and
  detectron2's reading); boxes up to 1 px outside the image are clipped, further out reported;
* categories: the ``<name>``s found, ids from 1 in VOC's own order when they are exactly its
  20 classes, else sorted by name (stable whatever the file order);
* ``difficult`` objects: ``iscrowd: 1`` by default (training leaves them out and evaluation
  ignores detections on them, as VOC's evaluation does), or kept as ordinary boxes, or skipped;
* image size from ``<size>``, or from the image file's header when missing or 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...errors import DatasetError
from .result import (IMAGE_SUFFIXES, ImportedSplit, ImportOptions, ImportProblem, ImportResult,
                     clip_box, image_size, is_dir, is_file, number, relative_name)
from .safe_xml import Node, XmlError, parse_xml_file

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor")
SPLIT_NAMES = ("train", "val", "trainval", "test")
# --difficult -> the iscrowd a difficult object gets (None: left out)
DIFFICULT_AS: dict[str, int | None] = {"crowd": 1, "keep": 0, "skip": None}
LAYOUT_HINT = ("a Pascal VOC folder (e.g. VOCdevkit/VOC2007) holds Annotations/*.xml, "
               "JPEGImages/ and optionally ImageSets/Main/{train,val,trainval,test}.txt")


@dataclass
class _Object:
    name: str
    bbox: list[float]  # COCO [x, y, w, h]
    difficult: bool


@dataclass
class _Annotation:
    """One XML file's usable content."""

    image: Path
    width: int
    height: int
    objects: list[_Object] = field(default_factory=list)


def _plain_name(name: str) -> bool:
    return name not in ("", ".", "..") and "/" not in name and "\\" not in name and "\0" not in name


def _split_lists(root: Path, problems: list[ImportProblem],
                 where: dict[str, tuple[str, int]]) -> dict[str, list[str]]:
    """Image ids per split from ImageSets/Main (in file order, duplicates once); ``where``
    gets the list file and line that first names each id."""
    splits: dict[str, list[str]] = {}
    for split in SPLIT_NAMES:
        path = root / "ImageSets" / "Main" / f"{split}.txt"
        if not is_file(path):
            continue
        shown = relative_name(path, root)
        ids: dict[str, None] = {}
        for number_, line in enumerate(path.read_text(encoding="utf-8",
                                                      errors="replace").splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            if not _plain_name(fields[0]):
                problems.append(ImportProblem("bad-file-name", shown, number_,
                                              f"image id {fields[0]!r} is not a plain name"))
                continue
            ids[fields[0]] = None
            where.setdefault(fields[0], (shown, number_))
        splits[split] = list(ids)
    if not splits:
        splits["train"] = sorted(p.stem for p in (root / "Annotations").glob("*.xml"))
    return splits


def _image_file(root: Path, stem: str, node: Node, shown: str,
                problems: list[ImportProblem]) -> Path | None:
    """The image an XML file describes: JPEGImages/<filename>, else JPEGImages/<stem>.jpg etc."""
    filename = node.find("filename")
    folder = root / "JPEGImages"
    if filename is not None and filename.text:
        if not _plain_name(filename.text):
            problems.append(ImportProblem("bad-file-name", shown, filename.line,
                                          f"<filename> {filename.text!r} is not a plain file "
                                          f"name in JPEGImages/"))
            return None
        if is_file(folder / filename.text):
            return folder / filename.text
    for suffix in IMAGE_SUFFIXES:
        for candidate in (folder / (stem + suffix), folder / (stem + suffix.upper())):
            if is_file(candidate):
                return candidate
    named = f"JPEGImages/{filename.text}" if filename is not None and filename.text else (
        f"JPEGImages/{stem}.jpg")
    problems.append(ImportProblem("image-missing", shown, filename.line if filename else None,
                                  f"{named} not found"))
    return None


def _size(node: Node, image: Path, shown: str,
          problems: list[ImportProblem]) -> tuple[int, int] | None:
    """(width, height) from <size>, else from the image header."""
    size = node.find("size")
    if size is not None:
        width, height = number(size.find_text("width")), number(size.find_text("height"))
        if width and height and width > 0 and height > 0 and width.is_integer() \
                and height.is_integer():
            return int(width), int(height)
    found = image_size(image)
    if isinstance(found[0], str):
        problems.append(ImportProblem("image-unreadable", shown, None,
                                      f"{image.name}: {found[1]} (its size is needed: <size> "
                                      f"is missing or 0)"))
        return None
    return found  # type: ignore[return-value]


def _object(node: Node, shown: str, width: int, height: int,
            problems: list[ImportProblem]) -> _Object | None:
    name = (node.find_text("name") or "").strip()
    if not name:
        problems.append(ImportProblem("missing-field", shown, node.line,
                                      "<object> without a <name>"))
        return None
    box = node.find("bndbox")
    if box is None:
        problems.append(ImportProblem("missing-field", shown, node.line,
                                      f"<object> {name!r} without a <bndbox>"))
        return None
    values = {key: number(box.find_text(key)) for key in ("xmin", "ymin", "xmax", "ymax")}
    bad = [key for key, value in values.items() if value is None]
    if bad:
        texts = ", ".join(f"<{key}> {box.find_text(key)!r}" for key in bad)
        problems.append(ImportProblem("non-numeric", shown, box.line,
                                      f"<object> {name!r}: {texts} is not a number"))
        return None
    xmin, ymin, xmax, ymax = (values[k] for k in ("xmin", "ymin", "xmax", "ymax"))
    corners = (xmin - 1, ymin - 1, xmax, ymax)  # 1-based inclusive pixels -> continuous
    bbox, kind = clip_box(*corners, width, height)  # type: ignore[misc]
    if bbox is None:
        problems.append(ImportProblem(kind or "bbox-outside-image", shown, box.line,
                                      f"<object> {name!r}: box xmin {xmin:g} ymin {ymin:g} xmax "
                                      f"{xmax:g} ymax {ymax:g} in a {width}x{height} image"))
        return None
    difficult = number(node.find_text("difficult")) == 1
    return _Object(name, bbox, difficult)


def _read(root: Path, stem: str, problems: list[ImportProblem]) -> _Annotation | None:
    path = root / "Annotations" / f"{stem}.xml"
    shown = relative_name(path, root)
    try:
        node = parse_xml_file(path)
    except XmlError as exc:
        problems.append(ImportProblem("xml-malformed", shown, exc.line, str(exc)))
        return None
    image = _image_file(root, stem, node, shown, problems)
    if image is None:
        return None
    size = _size(node, image, shown, problems)
    if size is None:
        return None
    objects = [_object(child, shown, *size, problems) for child in node.find_all("object")]
    return _Annotation(image, size[0], size[1], [o for o in objects if o is not None])


def category_names(names: set[str]) -> list[str]:
    """Category order: VOC's when the names are exactly its 20 classes, else sorted."""
    return list(VOC_CLASSES) if names == set(VOC_CLASSES) else sorted(names)


def import_voc(source: Path, options: ImportOptions) -> ImportResult:
    """Read the Pascal VOC dataset in folder ``source``."""
    root = Path(source)
    if not is_dir(root / "Annotations"):
        raise DatasetError(f"{root}: no Annotations folder", hint=LAYOUT_HINT)
    if options.difficult not in DIFFICULT_AS:
        raise DatasetError(f"difficult: expected one of {', '.join(DIFFICULT_AS)}")
    problems: list[ImportProblem] = []
    listed: dict[str, tuple[str, int]] = {}
    split_ids = _split_lists(root, problems, listed)
    wanted = list(dict.fromkeys(stem for ids in split_ids.values() for stem in ids))
    options.expect(len(wanted))
    parsed: dict[str, _Annotation | None] = {}
    for stem in wanted:
        if is_file(root / "Annotations" / f"{stem}.xml"):
            parsed[stem] = _read(root, stem, problems)
        else:
            parsed[stem] = None
            problems.append(ImportProblem("annotation-missing", *listed[stem],
                                          f"image id {stem!r}: Annotations/{stem}.xml not found"))
        options.advance(1)
    names = category_names({o.name for a in parsed.values() if a for o in a.objects})
    ids = {name: index for index, name in enumerate(names, 1)}
    crowd = DIFFICULT_AS[options.difficult]
    splits: dict[str, ImportedSplit] = {}
    for split, stems in split_ids.items():
        part = splits[split] = ImportedSplit(split)
        for stem in stems:
            annotation = parsed.get(stem)
            if annotation is None:
                continue
            image_id = part.add_image(relative_name(annotation.image, root), annotation.width,
                                      annotation.height)
            for obj in annotation.objects:
                iscrowd = crowd if obj.difficult else 0
                if iscrowd is None:
                    continue
                part.add_box(image_id, ids[obj.name], list(obj.bbox), iscrowd)
    difficult = sum(o.difficult for a in parsed.values() if a for o in a.objects)
    notes = [f"{difficult} difficult objects: "
             + {"crowd": "written as iscrowd 1 (ignored in training and evaluation)",
                "keep": "written as ordinary boxes", "skip": "left out"}[options.difficult]
             ] if difficult else []
    return ImportResult("voc", root, root, [{"id": i, "name": n, "supercategory": "none"}
                                            for n, i in ids.items()], splits, problems, notes)
