"""Checking a COCO-format dataset and dropping what is bad.

``check_dataset`` reads everything and reports every problem, by kind, with a count and a few
examples: broken JSON (with its position), missing or mistyped fields, bad boxes, unknown or
duplicate ids, missing or broken image files. ``clean_dataset`` uses the same findings to drop
the bad boxes and images (``train --skip-bad``). Torch-free, so ``nasfpn data check`` is quick.
"""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DatasetError
from ..untrusted import shown_path
from .annotations import CHECK_HINT, AnnotationFileError, read_annotation_file

# kind -> what it means, in display order
PROBLEM_KINDS: dict[str, str] = {
    "json-unreadable": "annotation file missing or unreadable",
    "json-invalid": "annotation file is not valid JSON",
    "json-truncated": "annotation file is truncated",
    "not-an-object": "annotation file is not a JSON object",
    "missing-field": "required field missing",
    "wrong-type": "field has the wrong type or value",
    "no-categories": "no categories defined",
    "duplicate-category-id": "category id used more than once",
    "duplicate-image-id": "image id used more than once",
    "duplicate-annotation-id": "annotation id used more than once",
    "duplicate-category-name": "category name used by more than one id (their AP would merge)",
    "bad-image-size": "image width/height not a positive integer",
    "unknown-image": "annotation for an image id not in 'images'",
    "unknown-category": "annotation with a category id not in 'categories'",
    "bbox-length": "bbox is not a list of exactly 4 numbers",
    "bbox-non-numeric": "bbox has a non-numeric or non-finite value",
    "bbox-non-positive": "bbox width or height is not positive",
    "bbox-outside-image": "bbox extends outside its image",
    "image-dir-missing": "image folder missing or not a folder",
    "image-outside-folder": "file_name is absolute or leads out of the image folder",
    "image-missing": "image file not found",
    "image-unreadable": "image file unreadable or truncated",
    "image-size-mismatch": "image file size differs from width/height",
}
# problems --skip-bad cannot repair: the file or its structure is unusable
FATAL_KINDS = frozenset({"json-unreadable", "json-invalid", "json-truncated", "not-an-object",
                         "no-categories", "image-dir-missing"})
BOX_TOLERANCE = 1.0  # pixels a box may stick out of its image (rounding in real datasets)
_CHECK_THREADS = 8
_NUMERIC_TYPES = (int, float)


@dataclass
class Problem:
    """One kind of problem: how often it occurs and the first few occurrences."""

    kind: str
    count: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def description(self) -> str:
        return PROBLEM_KINDS[self.kind]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "description": self.description, "count": self.count,
                "examples": list(self.examples)}


@dataclass
class CheckReport:
    """Everything ``check_dataset`` found. ``ok`` when there is no problem at all."""

    ann_file: str
    image_dir: str
    problems: list[Problem] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    # what clean_dataset drops: indices into the images/annotations/categories lists
    bad_images: set[int] = field(default_factory=set, repr=False)
    bad_annotations: set[int] = field(default_factory=set, repr=False)
    bad_categories: set[int] = field(default_factory=set, repr=False)
    data: object = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def fatal(self) -> bool:
        """True when dropping records cannot repair the dataset."""
        return any(p.kind in FATAL_KINDS for p in self.problems)

    @property
    def total(self) -> int:
        return sum(p.count for p in self.problems)

    def problem(self, kind: str) -> Problem | None:
        return next((p for p in self.problems if p.kind == kind), None)

    def counts(self) -> dict[str, int]:
        return {p.kind: p.count for p in self.problems}

    def summary_line(self) -> str:
        stats = self.stats
        line = shown_path(self.ann_file)
        if stats:
            line += (f": {stats['images']} images, {stats['annotations']} annotations, "
                     f"{stats['categories']} categories ({stats['crowd']} crowd, "
                     f"{stats['images_without_annotations']} images without objects)")
        if self.ok:
            return line + ": no problems"
        total, kinds = self.total, len(self.problems)
        return (line + f": {total} problem{'s' * (total != 1)}"
                + (f" of {kinds} kinds" if kinds > 1 else ""))

    def to_dict(self) -> dict:
        return {"ann_file": self.ann_file, "image_dir": self.image_dir, "ok": self.ok,
                "stats": dict(self.stats), "problems": [p.to_dict() for p in self.problems]}

    def render(self) -> "RenderedReport":
        """The summary line and a table of problems: a rich renderable (``console.print``)
        that also reads as plain text with ``str()`` (e.g. inside an error message)."""
        return RenderedReport(self)


class RenderedReport:
    """A check report for display: a table on a terminal; plain lines (one per example, never
    folded, so paths and messages stay whole for grep) in a pipe, a file and ``str()``."""

    def __init__(self, report: CheckReport):
        self.report = report

    def __rich_console__(self, console, options):
        if console.is_terminal:
            yield self._table()
        else:
            yield self._lines()

    def _lines(self):
        from rich.text import Text

        from ..console import safe_text

        report = self.report
        lines = [report.summary_line()]
        for problem in report.problems:
            lines.append(f"{problem.kind} ({problem.count}): {problem.description}")
            lines.extend(f"    {safe_text(example)}" for example in problem.examples)
            if problem.count > len(problem.examples):
                lines.append(f"    ... and {problem.count - len(problem.examples)} more")
        return Text("\n".join(lines), no_wrap=True, overflow="ignore")

    def _table(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        from ..console import safe_text

        report = self.report
        header = Text(report.summary_line(), style="green" if report.ok else "red")
        if report.ok:
            return header
        table = Table(show_lines=True)
        table.add_column("problem", style="bold")
        table.add_column("count", justify="right")
        table.add_column("examples", overflow="fold")
        for problem in report.problems:
            table.add_row(f"{problem.kind}\n{problem.description}", str(problem.count),
                          Text(safe_text("\n".join(problem.examples))))
        return Group(header, table)

    def __str__(self) -> str:
        import io

        from ..console import SafeConsole

        buffer = io.StringIO()
        SafeConsole(file=buffer, width=110, color_system=None, highlight=False,
                soft_wrap=True).print(self)
        return buffer.getvalue().rstrip()


class _Findings:
    """Collects problems in kind order while the checks run."""

    def __init__(self, max_examples: int):
        self.max_examples = max_examples
        self.by_kind: dict[str, Problem] = {}
        self.bad_images: set[int] = set()
        self.bad_annotations: set[int] = set()
        self.bad_categories: set[int] = set()

    def add(self, kind: str, example: str, *, image: int | None = None,
            annotation: int | None = None, category: int | None = None) -> None:
        problem = self.by_kind.setdefault(kind, Problem(kind))
        problem.count += 1
        if len(problem.examples) < self.max_examples:
            problem.examples.append(example)
        for index, bad in ((image, self.bad_images), (annotation, self.bad_annotations),
                           (category, self.bad_categories)):
            if index is not None:
                bad.add(index)

    def problems(self) -> list[Problem]:
        return [self.by_kind[k] for k in PROBLEM_KINDS if k in self.by_kind]


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_int(value: object) -> bool:
    """A JSON integer (bool excluded)."""
    return type(value) is int


def _is_number(value: object) -> bool:
    """A finite JSON number (bool excluded); ``v - v`` is nan for inf and nan."""
    return type(value) in _NUMERIC_TYPES and value - value == 0


def _is_positive_whole(value: object) -> bool:
    return _is_number(value) and value > 0 and float(value).is_integer()


def _require(findings: _Findings, record: object, where: str, fields: dict[str, Callable],
             expected: dict[str, str], **index: int) -> bool:
    """Check a record is an object with every field present and valid; report and return
    False otherwise."""
    if not isinstance(record, dict):
        findings.add("wrong-type", f"{where}: is {_short(record)}, expected an object", **index)
        return False
    good = True
    for name, valid in fields.items():
        if name not in record:
            findings.add("missing-field", f"{where}: no '{name}'", **index)
            good = False
        elif not valid(record[name]):
            kind = "bad-image-size" if name in ("width", "height") else "wrong-type"
            findings.add(kind, f"{where}: '{name}' is {_short(record[name])}, expected "
                               f"{expected[name]}", **index)
            good = False
    return good


def _duplicates(findings: _Findings, kind: str, section: str, ids: list[tuple[int, object]],
                mark: str, keep_first: bool) -> None:
    """Report ids used more than once; the extra records are bad, and so is the first one
    unless ``keep_first`` (then only the later ones are dropped)."""
    counts = Counter(record_id for _, record_id in ids)
    seen: set = set()
    for index, record_id in ids:
        if counts[record_id] < 2:
            continue
        if record_id in seen:
            findings.add(kind, f"{section}[{index}]: id {record_id} already used",
                         **{mark: index})
        elif not keep_first:
            getattr(findings, f"bad_{mark}s").add(index)
        seen.add(record_id)


def _check_categories(findings: _Findings, categories: list) -> set:
    valid: list[tuple[int, object]] = []
    for index, category in enumerate(categories):
        if _require(findings, category, f"categories[{index}]",
                    {"id": _is_int, "name": lambda v: isinstance(v, str)},
                    {"id": "an integer", "name": "a string"}, category=index):
            valid.append((index, category["id"]))
    _duplicates(findings, "duplicate-category-id", "categories", valid, "category", True)
    named: dict[str, int] = {}
    for index, _ in valid:
        name = categories[index]["name"]
        if index not in findings.bad_categories and name in named:
            findings.add("duplicate-category-name", f"categories[{index}]: name "
                         f"{_short(name)} already used by categories[{named[name]}]",
                         category=index)
        named.setdefault(name, index)
    if not categories:
        findings.add("no-categories", "'categories' is an empty list")
    return {record_id for index, record_id in valid if index not in findings.bad_categories}


def _check_images(findings: _Findings, images: list) -> dict[object, tuple[int, dict]]:
    """Validate image records; returns id -> (index, record) for the usable ones."""
    valid: list[tuple[int, object]] = []
    for index, image in enumerate(images):
        if _require(findings, image, f"images[{index}]",
                    {"id": _is_int, "file_name": lambda v: isinstance(v, str) and v != "",
                     "width": _is_positive_whole, "height": _is_positive_whole},
                    {"id": "an integer", "file_name": "a non-empty string",
                     "width": "a positive integer", "height": "a positive integer"},
                    image=index):
            valid.append((index, image["id"]))
    _duplicates(findings, "duplicate-image-id", "images", valid, "image", False)
    for index, _ in valid:
        name = images[index]["file_name"]
        if os.path.isabs(name) or os.path.normpath(name).split(os.sep)[0] == os.pardir:
            findings.add("image-outside-folder", f"images[{index}] (id {images[index]['id']}): "
                         f"file_name {_short(name)}", image=index)
    return {record_id: (index, images[index]) for index, record_id in valid
            if index not in findings.bad_images}


def _check_bbox(findings: _Findings, where: str, bbox: object, image: dict | None,
                index: int) -> None:
    if type(bbox) not in (list, tuple) or len(bbox) != 4:
        findings.add("bbox-length", f"{where}: bbox {_short(bbox)}", annotation=index)
        return
    x, y, w, h = bbox
    if not (_is_number(x) and _is_number(y) and _is_number(w) and _is_number(h)):
        findings.add("bbox-non-numeric", f"{where}: bbox {_short(bbox)}", annotation=index)
        return
    if w <= 0 or h <= 0:
        findings.add("bbox-non-positive", f"{where}: bbox {_short(bbox)}", annotation=index)
        return
    if image is not None:
        width, height = image["width"], image["height"]
        if (x < -BOX_TOLERANCE or y < -BOX_TOLERANCE or x + w > width + BOX_TOLERANCE
                or y + h > height + BOX_TOLERANCE):
            findings.add("bbox-outside-image", f"{where}: bbox {_short(bbox)} in a "
                                               f"{width}x{height} image", annotation=index)


def _check_annotations(findings: _Findings, annotations: list, image_records: dict,
                       all_image_ids: set, category_ids: set, all_category_ids: set) -> int:
    """Validate annotation records; returns the number of crowd annotations."""
    valid: list[tuple[int, object]] = []
    crowd = 0
    for index, ann in enumerate(annotations):
        well_formed = (type(ann) is dict and _is_int(ann.get("id"))
                       and _is_int(ann.get("image_id")) and _is_int(ann.get("category_id"))
                       and "bbox" in ann)  # the common case, checked quickly
        if not well_formed and not _require(
                findings, ann, f"annotations[{index}]",
                {"id": _is_int, "image_id": _is_int, "category_id": _is_int,
                 "bbox": lambda v: True},
                {"id": "an integer", "image_id": "an integer", "category_id": "an integer"},
                annotation=index):
            continue
        image_id, category_id = ann["image_id"], ann["category_id"]
        where = f"annotations[{index}] (id {ann['id']})"
        valid.append((index, ann["id"]))
        iscrowd = ann.get("iscrowd", 0)
        if iscrowd not in (0, 1):
            findings.add("wrong-type", f"{where}: 'iscrowd' is {_short(iscrowd)}, "
                                       f"expected 0 or 1", annotation=index)
        elif iscrowd:
            crowd += 1
        if "area" in ann and not (_is_number(ann["area"]) and ann["area"] >= 0):
            findings.add("wrong-type", f"{where}: 'area' is {_short(ann['area'])}, expected a "
                                       f"non-negative number", annotation=index)
        if image_id not in all_image_ids:
            findings.add("unknown-image", f"{where}: image_id {image_id}", annotation=index)
        if category_id not in all_category_ids:
            findings.add("unknown-category", f"{where}: category_id {category_id}",
                         annotation=index)
        elif category_id not in category_ids:
            findings.bad_annotations.add(index)  # its category record is itself bad
        record = image_records.get(image_id)
        _check_bbox(findings, where, ann["bbox"], record[1] if record else None, index)
    _duplicates(findings, "duplicate-annotation-id", "annotations", valid, "annotation",
                True)
    return crowd


def _file_is_complete(path: Path, image_format: str | None) -> bool | None:
    """Whether a PNG/JPEG file ends with its end marker (a truncated one does not); None for
    other formats, which must be decoded to tell."""
    markers = {"PNG": b"IEND", "JPEG": b"\xff\xd9", "MPO": b"\xff\xd9"}
    if image_format not in markers:
        return None
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        handle.seek(max(0, handle.tell() - 1024))
        return markers[image_format] in handle.read()


def inspect_image(path: Path, full_decode: bool = False) -> tuple[str, str] | tuple[int, int]:
    """(width, height) of a readable image file, else (kind, message). Reads the header and
    the file's end marker; decodes the pixels only for other formats or ``full_decode``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            size = image.size
            complete = None if full_decode else _file_is_complete(path, image.format)
            if complete is False:
                return "image-unreadable", "truncated (no end marker)"
            if complete is None:
                image.load()
        return size
    except FileNotFoundError:
        return "image-missing", "not found"
    except IsADirectoryError:
        return "image-unreadable", "is a folder"
    except UnidentifiedImageError:
        return "image-unreadable", "not an image PIL can identify"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return "image-unreadable", f"cannot decode: {exc or type(exc).__name__}"


def _check_image_files(findings: _Findings, image_dir: Path, image_records: dict,
                       full_decode: bool, progress: Callable[[int], None] | None) -> int:
    """Check every usable image's file; returns how many were checked."""
    if not image_dir.is_dir():
        findings.add("image-dir-missing", f"{image_dir}: "
                     + ("not a folder" if image_dir.exists() else "no such folder"))
        findings.bad_images.update(index for index, _ in image_records.values())
        return 0
    records = list(image_records.values())

    def inspect(item: tuple[int, dict]) -> tuple[int, dict, tuple]:
        index, image = item
        return index, image, inspect_image(image_dir / image["file_name"], full_decode)

    with ThreadPoolExecutor(_CHECK_THREADS) as pool:
        for index, image, result in pool.map(inspect, records):
            where = f"images[{index}] (id {image['id']}) {image['file_name']}"
            if isinstance(result[0], str):
                findings.add(result[0], f"{where}: {result[1]}", image=index)
            elif result != (image["width"], image["height"]):
                findings.add("image-size-mismatch", f"{where}: file is {result[0]}x{result[1]}, "
                             f"annotations say {image['width']}x{image['height']}", image=index)
            if progress is not None:
                progress(1)
    return len(records)


def _sections(findings: _Findings, data: dict) -> dict[str, list] | None:
    sections = {}
    for name in ("images", "annotations", "categories"):
        value = data.get(name)
        if name not in data:
            findings.add("missing-field", f"top level: no '{name}' list")
        elif not isinstance(value, list):
            findings.add("wrong-type", f"top level: '{name}' is {_short(value)}, expected a list")
        else:
            sections[name] = value
    return sections if len(sections) == 3 else None


def _ids(records: list, key: str) -> set:
    """The ``key`` values of the dict records that can be ids at all (a list or object given as
    an id is reported elsewhere, and must not crash the set)."""
    return {record.get(key) for record in records
            if isinstance(record, dict) and isinstance(record.get(key), (int, float, str))}


def check_annotations(data: object, image_dir: str | Path, *, ann_file: str = "<annotations>",
                      check_images: bool = True, full_decode: bool = False,
                      max_examples: int = 5,
                      progress: Callable[[int], None] | None = None) -> CheckReport:
    """Check already parsed annotations (see ``check_dataset``)."""
    findings = _Findings(max_examples)
    report = CheckReport(str(ann_file), str(image_dir), data=data)
    if not isinstance(data, dict):
        findings.add("not-an-object", f"top level is {type(data).__name__}, expected an object "
                                      f"with images, annotations and categories")
        report.problems = findings.problems()
        return report
    sections = _sections(findings, data)
    if sections is None:
        report.problems = findings.problems()
        return report
    images, annotations, categories = (sections["images"], sections["annotations"],
                                       sections["categories"])
    category_ids = _check_categories(findings, categories)
    image_records = _check_images(findings, images)
    all_image_ids = _ids(images, "id")
    all_category_ids = _ids(categories, "id")
    crowd = _check_annotations(findings, annotations, image_records, all_image_ids,
                               category_ids, all_category_ids)
    checked = 0
    if check_images:
        checked = _check_image_files(findings, Path(image_dir), image_records, full_decode,
                                     progress)
    annotated = _ids(annotations, "image_id")
    report.stats = {"images": len(images), "annotations": len(annotations),
                    "categories": len(categories), "crowd": crowd,
                    "images_without_annotations": sum(1 for i in image_records
                                                      if i not in annotated),
                    "image_files_checked": checked}
    report.problems = findings.problems()
    report.bad_images, report.bad_annotations = findings.bad_images, findings.bad_annotations
    report.bad_categories = findings.bad_categories
    return report


def check_dataset(ann_file: str | Path, image_dir: str | Path, *, check_images: bool = True,
                  full_decode: bool = False, max_examples: int = 5,
                  progress: Callable[[int], None] | None = None) -> CheckReport:
    """Check a COCO annotation file and its images; never raises for bad data.

    Image files are checked by header and end marker (``full_decode`` decodes every pixel).
    ``progress`` is called with 1 per image file checked.
    """
    try:
        data = read_annotation_file(ann_file)
    except AnnotationFileError as exc:
        findings = _Findings(max_examples)
        findings.add(exc.kind, str(exc))
        return CheckReport(str(ann_file), str(image_dir), problems=findings.problems())
    return check_annotations(data, image_dir, ann_file=str(ann_file), check_images=check_images,
                             full_decode=full_decode, max_examples=max_examples,
                             progress=progress)


@dataclass
class CleanedDataset:
    """Annotations with the bad records dropped, and how many were dropped."""

    annotations: dict
    dropped_images: int
    dropped_annotations: int
    dropped_categories: int
    report: CheckReport

    def summary(self) -> str:
        return (f"--skip-bad: dropped {self.dropped_annotations} of "
                f"{self.report.stats.get('annotations', 0)} annotations and "
                f"{self.dropped_images} of {self.report.stats.get('images', 0)} images"
                + (f" and {self.dropped_categories} categories" if self.dropped_categories
                   else "") + f" ({self.report.total} problems)")


def _kept(records: Iterable, bad: set[int]) -> list:
    return [record for index, record in enumerate(records) if index not in bad]


def clean_dataset(ann_file: str | Path, image_dir: str | Path,
                  report: CheckReport | None = None, **check_options) -> CleanedDataset:
    """Drop every bad image (and its annotations), bad annotation and bad category record.

    Uses ``report`` when given (from ``check_dataset`` on the same files), else checks first.
    Raises DatasetError when the problems are not of a kind dropping records can repair
    (unreadable JSON, missing sections, no categories, missing image folder) or when no
    category or no image would be left.
    """
    if report is None:
        report = check_dataset(ann_file, image_dir, **check_options)
    if report.fatal or not isinstance(report.data, dict):
        kinds = ", ".join(p.kind for p in report.problems if p.kind in FATAL_KINDS)
        raise DatasetError(f"{ann_file}: cannot be repaired by dropping bad records ({kinds})",
                           hint=CHECK_HINT)
    data = report.data
    missing = [name for name in ("images", "annotations", "categories")
               if not isinstance(data.get(name), list)]
    if missing:
        raise DatasetError(f"{ann_file}: cannot be repaired by dropping bad records (no "
                           f"{', '.join(repr(m) for m in missing)} list)", hint=CHECK_HINT)
    categories = _kept(data["categories"], report.bad_categories)
    images = _kept(data["images"], report.bad_images)
    category_ids = {c["id"] for c in categories}
    image_ids = {i["id"] for i in images}
    annotations = [ann for index, ann in enumerate(data["annotations"])
                   if index not in report.bad_annotations and ann["image_id"] in image_ids
                   and ann["category_id"] in category_ids]
    for section, kept in (("categories", categories), ("images", images)):
        if not kept:
            raise DatasetError(f"{ann_file}: no usable {section} left after dropping the bad "
                               f"ones", hint=CHECK_HINT)
    cleaned = {**data, "images": images, "annotations": annotations, "categories": categories}
    return CleanedDataset(cleaned, len(data["images"]) - len(images),
                          len(data["annotations"]) - len(annotations),
                          len(data["categories"]) - len(categories), report)


def require_clean(ann_file: str | Path, image_dir: str | Path, split: str, *,
                  skip_bad: bool | None = None) -> dict | None:
    """The one gate every command that reads a dataset passes (``train``, ``eval``): check
    ``ann_file`` and its images, and refuse bad data with the report on stderr and a
    DatasetError. ``skip_bad`` True returns the cleaned annotations instead (None: the command
    has no ``--skip-bad``, so the hint does not offer it). Returns None for clean data."""
    from ..console import err_console, print_warning

    report = check_dataset(ann_file, image_dir)
    if report.ok:
        return None
    if not skip_bad:
        err_console.print(report.render())
        hint = ("fix them, or pass --skip-bad to drop the bad boxes and images"
                if skip_bad is not None else
                f"fix them; 'nasfpn data check {ann_file} --images {image_dir}' lists them")
        raise DatasetError(f"{ann_file}: the {split} data has {report.total} problem(s), listed "
                           "above", hint=hint)
    cleaned = clean_dataset(ann_file, image_dir, report=report)
    print_warning(f"{split} data: {cleaned.summary()}")
    return cleaned.annotations
