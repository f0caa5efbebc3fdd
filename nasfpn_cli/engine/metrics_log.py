"""``OUT/metrics.jsonl``: one JSON object per logging step (``"kind": "train"``) and per
evaluation (``"kind": "eval"``), flushed as written so a crash loses nothing already logged.

:func:`read_metrics` is its one reader: every record is checked (an object with a text
``kind``, whole numbers ``step`` and ``epoch``, numbers elsewhere), and a damaged line is an error naming
``FILE:LINE`` and the field, never a crash further on. A last line torn by a kill is ignored.
Torch-free.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..errors import RunFileError
from ..utils import JsonlWriter, atomic_write, read_json_lines

# more optimizer steps or epochs than any run makes: a larger counter is damage, not a run
MAX_COUNTER = 10 ** 12
COUNTERS = ("step", "epoch")  # whole numbers every record has
TEXT_FIELDS = ("kind",)
PER_CLASS = "per_class"  # an evaluation's AP by class name (None: no boxes of that class)
DAMAGED_HINT = "the file was edited or damaged; fix or remove that line"


def shown_value(value: Any) -> str:
    """A short rendering of a JSON value for a message (a 400-digit number is not printed)."""
    if type(value) is int and value.bit_length() > 64:
        return f"a number of {len(str(abs(value)))} digits"
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def is_finite_number(value: Any) -> bool:
    """An int or float (not a bool) that is finite (an int too large for a float is not)."""
    if type(value) is int:
        return value.bit_length() <= 1023  # math.isfinite would overflow converting it
    return type(value) is float and math.isfinite(value)


def _problem(record: Any) -> tuple[str, str] | None:
    """``(field, what is wrong)`` for the first bad field of a record; None when it is good."""
    if not isinstance(record, dict):
        return "", f"expected a JSON object, got {shown_value(record)}"
    for field in TEXT_FIELDS:
        if not isinstance(record.get(field), str):
            return field, ("missing" if field not in record
                           else f"expected text, got {shown_value(record[field])}")
    for field in COUNTERS:
        if field not in record:
            return field, "missing"
        value = record[field]
        if type(value) is not int or not 0 <= value <= MAX_COUNTER:
            return field, f"expected a whole number in 0..{MAX_COUNTER}, got {shown_value(value)}"
    for field, value in record.items():
        if field in COUNTERS or field in TEXT_FIELDS:
            continue
        if field == PER_CLASS:
            if not isinstance(value, dict) or not all(v is None or is_finite_number(v)
                                                      for v in value.values()):
                return field, ("expected an object of finite numbers (or null) by class, got "
                               + shown_value(value))
        elif not is_finite_number(value):
            return field, f"expected a finite number, got {shown_value(value)}"
    return None


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The records of a metrics file (none when it does not exist), each checked;
    :class:`RunFileError` ``PATH:LINE: field 'F': ...`` for the first damaged one."""
    records: list[dict[str, Any]] = []
    for number, record in read_json_lines(path, what="metrics record", error=RunFileError):
        problem = _problem(record)
        if problem is not None:
            field, message = problem
            where = f"{path}:{number}: " + (f"field {field!r}: " if field else "")
            raise RunFileError(where + message, hint=DAMAGED_HINT)
        records.append(record)
    return records


class MetricsLog(JsonlWriter):
    """Appends records to a JSON-lines file, flushing and fsyncing each one."""

    def clear(self) -> None:
        """Start an empty log (a fresh run: whatever an earlier attempt left is not read)."""
        self.close()
        atomic_write(self.path, "")

    def truncate_after(self, step: int) -> None:
        """Keep only records up to optimizer step ``step`` (used on resume, so lines a crashed
        run logged after its last checkpoint do not appear twice)."""
        self.close()
        kept = [r for r in read_metrics(self.path) if r["step"] <= step]
        atomic_write(self.path, "".join(json.dumps(r) + "\n" for r in kept))
