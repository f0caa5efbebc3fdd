"""Importing other annotation formats (Pascal VOC, YOLO) as COCO JSON.

``IMPORTERS`` maps a format name to the module and function that read it; each returns an
:class:`~.result.ImportResult` and never drops bad input without an
:class:`~.result.ImportProblem`. Torch-free.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from .result import ImportOptions, ImportProblem, ImportResult

# format name -> (module, function); loaded when used
IMPORTERS: dict[str, tuple[str, str]] = {
    "voc": ("voc", "import_voc"),
    "yolo": ("yolo", "import_yolo"),
}

Importer = Callable[[Path, ImportOptions], ImportResult]


def importer(name: str) -> Importer:
    """The import function of format ``name`` (a key of IMPORTERS)."""
    module, function = IMPORTERS[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), function)


__all__ = ["IMPORTERS", "ImportOptions", "ImportProblem", "ImportResult", "importer"]
