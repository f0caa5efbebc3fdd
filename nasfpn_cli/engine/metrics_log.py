"""``OUT/metrics.jsonl``: one JSON object per logging step (``"kind": "train"``) and per
evaluation (``"kind": "eval"``), flushed as written so a crash loses nothing already logged.

:func:`read_metrics` is its one reader: every record is checked (an object with a text
``kind``, whole numbers ``step`` and ``epoch``, numbers elsewhere), and a damaged line is an error naming
``FILE:LINE`` and the field, never a crash further on. A last line torn by a kill is ignored.
Torch-free.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import RunFileError
from ..records import Check, finite, located_error, mapping_of, optional, record_problem, text, whole
from ..utils import JsonlWriter, atomic_write, read_json_lines

COUNTERS = ("step", "epoch")  # whole numbers every record has
PER_CLASS = "per_class"  # an evaluation's AP by class name (None: no boxes of that class)
# kind and the counters first, then every other field a finite number (per_class: by class)
FIXED_SHAPE: dict[str, Check] = {"kind": text, "step": whole(), "epoch": whole(),
                                 PER_CLASS: mapping_of(optional(finite()),
                                                       "finite numbers (or null) by class")}


def _problem(record: Any) -> tuple[str, str] | None:
    """``(field, what is wrong)`` for the first bad field of a record; None when it is good."""
    problem = record_problem(record, FIXED_SHAPE, required=("kind", *COUNTERS))
    if problem is not None:
        return problem
    free = {field: finite() for field in record if field not in FIXED_SHAPE}
    return record_problem(record, free, required=())


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The records of a metrics file (none when it does not exist), each checked;
    :class:`RunFileError` ``PATH:LINE: field 'F': ...`` for the first damaged one."""
    records: list[dict[str, Any]] = []
    for number, record in read_json_lines(path, what="metrics record", error=RunFileError):
        problem = _problem(record)
        if problem is not None:
            raise located_error(f"{path}:{number}", problem, RunFileError)
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
