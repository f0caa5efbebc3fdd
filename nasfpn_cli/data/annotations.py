"""Reading COCO annotation files and turning them into pycocotools ``COCO`` objects.

Kept apart from the dataset and the checker, which both need it: reading reports exactly where
a JSON file is broken, and ``build_coco`` fills the optional fields COCOeval relies on.
"""
from __future__ import annotations

import contextlib
import io
import json
import stat
from pathlib import Path

from ..errors import DatasetError

CHECK_HINT = "run `nasfpn data check ANN --images DIR` for a full report"


class AnnotationFileError(DatasetError):
    """An annotation file that cannot be read as JSON; ``kind`` names the problem."""

    def __init__(self, message: str, kind: str):
        super().__init__(message, hint=CHECK_HINT)
        self.kind = kind


def describe_json_error(text: str, error: json.JSONDecodeError) -> tuple[str, str]:
    """(kind, message) for a decode error: 'json-truncated' when the text ends before the JSON
    does, else 'json-invalid'; both with line, column and character position."""
    if not text.strip():
        return "json-invalid", "the file is empty"
    where = f"line {error.lineno} column {error.colno} (char {error.pos})"
    runs_to_end = text[error.pos:].strip() == "" and error.msg != "Extra data"
    if runs_to_end or error.msg.startswith("Unterminated string"):
        end = json.JSONDecodeError("", text, len(text))
        joiner = " " if error.msg.endswith(" at") else " at "
        return "json-truncated", (f"truncated JSON: the file ends inside a value (line "
                                  f"{end.lineno} column {end.colno}, char {len(text)}); "
                                  f"{error.msg}{joiner}{where}")
    return "json-invalid", f"invalid JSON at {where}: {error.msg}"


# integers longer than this read as infinity (then fail the checks as ids or sizes): Python
# refuses int() of more than 4300 digits, and no id or size needs more than a handful
MAX_INT_DIGITS = 100


def _bounded_int(text: str) -> int | float:
    return int(text) if len(text.lstrip("-")) <= MAX_INT_DIGITS else float("inf")


def read_annotation_file(path: str | Path) -> object:
    """Parse a JSON annotation file; raises AnnotationFileError saying what and where."""
    path = Path(path)
    try:
        if stat.S_ISCHR(path.stat().st_mode) or stat.S_ISBLK(path.stat().st_mode):
            # /dev/zero would be read forever; pipes (--ann <(...)) are fine
            raise AnnotationFileError(f"{path}: is a device, not an annotation file",
                                      "json-unreadable")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AnnotationFileError(f"{path}: no such annotation file", "json-unreadable") from None
    except IsADirectoryError:
        raise AnnotationFileError(f"{path}: is a folder, not an annotation file",
                                  "json-unreadable") from None
    except OSError as exc:
        raise AnnotationFileError(f"{path}: cannot read: {exc.strerror or exc}",
                                  "json-unreadable") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AnnotationFileError(f"{path}: not UTF-8 text (byte {exc.start})",
                                  "json-invalid") from None
    try:
        return json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        kind, message = describe_json_error(text, exc)
        raise AnnotationFileError(f"{path}: {message}", kind) from None
    except RecursionError:
        raise AnnotationFileError(f"{path}: JSON nested too deeply", "json-invalid") from None


def with_coco_defaults(data: dict) -> dict:
    """A shallow copy whose annotations all have ``iscrowd`` (0) and ``area`` (box area), the
    fields COCOeval reads but many COCO-style files leave out."""
    annotations = []
    for ann in data.get("annotations") or []:
        if "iscrowd" not in ann or "area" not in ann:
            ann = dict(ann)
            ann.setdefault("iscrowd", 0)
            bbox = ann.get("bbox") or [0, 0, 0, 0]
            ann.setdefault("area", float(bbox[2]) * float(bbox[3]))
        annotations.append(ann)
    return {**data, "annotations": annotations}


def build_coco(data: dict):
    """A pycocotools ``COCO`` object over ``data`` (defaults filled), without its prints."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = with_coco_defaults(data)
        coco.createIndex()
    return coco
