"""Edits of a weights file's metadata for the robustness tables: one JSON field updated."""
from __future__ import annotations

import json
from typing import Any, Callable


def json_field_edit(field: str, **values: Any) -> Callable[[dict], None]:
    """An edit that updates the JSON object stored in metadata ``field`` with ``values``."""
    def edit(metadata: dict) -> None:
        stored = json.loads(metadata[field])
        stored.update(values)
        metadata[field] = json.dumps(stored)
    return edit
