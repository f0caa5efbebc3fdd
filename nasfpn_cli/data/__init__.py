"""COCO-format data: datasets, transforms, loaders, checks and synthetic data.

Names load lazily so that torch-free users (``nasfpn data check``) do not import torch.
"""
from __future__ import annotations

from ..utils import lazy_exports

# module -> the names it gives the package
_EXPORTS = {"coco": ("CocoDetection",), "transforms": ("TrainTransform", "EvalTransform"),
            "loader": ("collate", "build_dataloader"), "paths": ("resolve_data_paths",),
            "checks": ("check_dataset", "clean_dataset", "CheckReport"),
            "synth": ("make_synthetic_dataset",)}

__all__ = sorted(name for names in _EXPORTS.values() for name in names)
__getattr__ = lazy_exports(__name__, _EXPORTS)
