"""What every importer returns: COCO-ready splits, the categories, and every problem found.

An importer never drops bad input silently: each box, line or file it leaves out is an
:class:`ImportProblem` naming the file, the line (when there is one) and the reason. A bad box
or label line is left out alone (its image stays, as ``train --skip-bad`` does); a file that
cannot be read at all leaves its image out.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ...untrusted import shown_path

# kind -> what it means (the import's own problems; `data check` has its own list)
PROBLEM_KINDS: dict[str, str] = {
    "xml-malformed": "annotation XML malformed, refused or unreadable",
    "missing-field": "required element or field missing",
    "non-numeric": "a number field that is not a finite number",
    "unknown-class": "class index out of range or not in the names",
    "wrong-field-count": "label line without 5 values (or an odd count for a polygon)",
    "bbox-non-positive": "box width or height is not positive",
    "bbox-outside-image": "box extends outside its image",
    "bad-file-name": "image file name that is not a plain file name",
    "image-missing": "image file not found",
    "image-unreadable": "image file unreadable",
    "annotation-missing": "listed image without an annotation file",
    "label-without-image": "label file with no image",
    "not-a-file": "an image or label name that is a folder, FIFO, device or dangling link",
}
# pixels a box may stick out of its image and be clipped to it instead of reported (the same
# tolerance as `data check`: 0-based tools writing VOC files, rounding in normalised files)
BOX_TOLERANCE = 1.0

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ImportProblem:
    """One piece of input left out: ``kind`` (a key of PROBLEM_KINDS), the ``file`` (as shown),
    its ``line`` (1-based, None for the whole file) and the reason."""

    kind: str
    file: str
    line: int | None
    message: str

    def render(self) -> str:
        file = shown_path(self.file)
        where = file if self.line is None else f"{file}:{self.line}"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "file": self.file, "line": self.line,
                "message": self.message}


@dataclass
class ImportedSplit:
    """One split as COCO records: images (id, file_name, width, height) and annotations."""

    name: str
    images: list[dict] = field(default_factory=list)
    annotations: list[dict] = field(default_factory=list)

    def add_image(self, file_name: str, width: int, height: int) -> int:
        """Add an image; returns its id (1, 2, ... in order)."""
        image_id = len(self.images) + 1
        self.images.append({"id": image_id, "file_name": file_name, "width": int(width),
                            "height": int(height)})
        return image_id

    def add_box(self, image_id: int, category_id: int, bbox: list[float],
                iscrowd: int = 0) -> None:
        self.annotations.append({"id": len(self.annotations) + 1, "image_id": image_id,
                                 "category_id": category_id, "bbox": bbox,
                                 "area": round(bbox[2] * bbox[3], 4), "iscrowd": iscrowd})


@dataclass
class ImportResult:
    """An imported dataset: ``image_root`` is the folder every split's ``file_name`` is
    relative to (the images stay where they are)."""

    format: str
    source: Path
    image_root: Path
    categories: list[dict]
    splits: dict[str, ImportedSplit]
    problems: list[ImportProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def drop_empty_splits(self) -> None:
        """Leave out the splits no usable image is left in (noted): an empty validation file
        would only make training fail later."""
        for name in [n for n, part in self.splits.items() if not part.images]:
            del self.splits[name]
            self.notes.append(f"split {name}: no usable image, not written")

    def coco(self, split: str, description: str) -> dict:
        """The COCO JSON object of ``split``."""
        part = self.splits[split]
        return {"info": {"description": description, "version": "1.0"}, "licenses": [],
                "images": part.images, "annotations": part.annotations,
                "categories": self.categories}


@dataclass
class ImportOptions:
    """What the command passes every importer. ``difficult``: what a VOC ``difficult`` object
    becomes (``crowd``, ``keep`` or ``skip``); ``progress`` is called with the number of
    files just read, ``total`` once with how many there are."""

    difficult: str = "crowd"
    progress: Progress | None = None
    total: Progress | None = None

    def advance(self, n: int = 1) -> None:
        if self.progress is not None:
            self.progress(n)

    def expect(self, n: int) -> None:
        if self.total is not None:
            self.total(n)


def clip_box(x1: float, y1: float, x2: float, y2: float, width: int, height: int
             ) -> tuple[list[float] | None, str | None]:
    """A corner box (pixels, continuous: pixel i spans [i, i + 1)) as COCO [x, y, w, h],
    clipped to the image when it sticks out by at most BOX_TOLERANCE; else (None, kind)."""
    if x2 <= x1 or y2 <= y1:
        return None, "bbox-non-positive"
    if (x1 < -BOX_TOLERANCE or y1 < -BOX_TOLERANCE or x2 > width + BOX_TOLERANCE
            or y2 > height + BOX_TOLERANCE):
        return None, "bbox-outside-image"
    x1, y1 = max(x1, 0.0), max(y1, 0.0)
    x2, y2 = min(x2, float(width)), min(y2, float(height))
    if x2 <= x1 or y2 <= y1:  # a sliver just outside the border
        return None, "bbox-outside-image"
    x1, y1, x2, y2 = (round(v, 3) for v in (x1, y1, x2, y2))
    w, h = round(x2 - x1, 3), round(y2 - y1, 3)
    if w <= 0 or h <= 0:  # an area below the 0.001 px the file keeps: none at all
        return None, "bbox-non-positive"
    return [x1, y1, w, h], None


def number(text: str | None) -> float | None:
    """``text`` as a finite float, else None."""
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if value == value and abs(value) != float("inf") else None


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".mpo")


def relative_name(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with forward slashes (a COCO ``file_name``); ``../`` when
    it lies elsewhere (a YOLO list file may name any image)."""
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(root))).as_posix()


# what an entry that is no regular file is, by its stat mode
NOT_REGULAR: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def _safe_test(test: Callable[[int], bool]) -> Callable[[Path], bool]:
    def check(path: Path) -> bool:
        try:
            return test(os.stat(path).st_mode)
        except (OSError, ValueError):  # missing, a name too long, a NUL byte: not there
            return False
    return check


# Path.is_file and friends for names read from files: they raise for a name too long (and a
# NUL byte) where these answer False, so such a name is reported as missing like any other
is_file = _safe_test(stat.S_ISREG)
is_dir = _safe_test(stat.S_ISDIR)
exists = _safe_test(lambda mode: True)


def not_a_file(path: Path) -> str | None:
    """What ``path`` is when it is not a regular file (through links), for a problem's
    message: ``a folder``, ``a FIFO``..., ``a link that leads nowhere``; None for a regular
    file or nothing at all."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return "a link that leads nowhere (or in a loop)" if os.path.islink(path) else None
    return next((what for test, what in NOT_REGULAR if test(mode)),
                None if stat.S_ISREG(mode) else "not a regular file")


def image_size(path: Path) -> tuple[int, int] | tuple[str, str]:
    """(width, height) from the image file's header, else (problem kind, reason)."""
    from ..checks import inspect_image

    return inspect_image(path)
