"""``OUT/metrics.jsonl``: one JSON object per logging step (``"kind": "train"``) and per
evaluation (``"kind": "eval"``), flushed as written so a crash loses nothing already logged."""
from __future__ import annotations

import json

from ..utils import JsonlWriter, atomic_write, read_jsonl


class MetricsLog(JsonlWriter):
    """Appends records to a JSON-lines file, flushing and fsyncing each one."""

    def truncate_after(self, step: int) -> None:
        """Keep only records up to optimizer step ``step`` (used on resume, so lines a crashed
        run logged after its last checkpoint do not appear twice)."""
        self.close()
        kept = [r for r in read_jsonl(self.path) if int(r.get("step", 0)) <= step]
        atomic_write(self.path, "".join(json.dumps(r) + "\n" for r in kept))
