"""``OUT/metrics.jsonl``: one JSON object per logging step (``"kind": "train"``) and per
evaluation (``"kind": "eval"``), flushed as written so a crash loses nothing already logged."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

from .files import atomic_write_bytes


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """All complete records of a metrics file (a torn last line from a crash is skipped)."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


class MetricsLog:
    """Appends records to a JSON-lines file, flushing and fsyncing each one."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._handle: TextIO | None = None

    def truncate_after(self, step: int) -> None:
        """Keep only records up to optimizer step ``step`` (used on resume, so lines a crashed
        run logged after its last checkpoint do not appear twice)."""
        kept = [r for r in read_records(self.path) if int(r.get("step", 0)) <= step]
        text = "".join(json.dumps(r) + "\n" for r in kept)
        atomic_write_bytes(text.encode("utf-8"), self.path)

    def write(self, record: dict[str, Any]) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a", encoding="utf-8")
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
