"""Writing COCO JSON in other annotation formats (the way back from ``data import``).

``EXPORTERS`` maps a format name to the module and function that write it. Torch-free.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable

# format name -> (module, function); loaded when used
EXPORTERS: dict[str, tuple[str, str]] = {
    "yolo": ("yolo", "export_yolo"),
}


def exporter(name: str) -> Callable[..., dict]:
    """The export function of format ``name`` (a key of EXPORTERS)."""
    module, function = EXPORTERS[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), function)


__all__ = ["EXPORTERS", "exporter"]
