"""COCO-format data: datasets, transforms, loaders, checks and synthetic data.

Names load lazily so that torch-free users (``nasfpn data check``) do not import torch.
"""
from __future__ import annotations

from ..utils import lazy_exports

_EXPORTS = {
    "CocoDetection": "coco",
    "TrainTransform": "transforms",
    "EvalTransform": "transforms",
    "collate": "loader",
    "build_dataloader": "loader",
    "resolve_data_paths": "paths",
    "check_dataset": "checks",
    "clean_dataset": "checks",
    "CheckReport": "checks",
    "make_synthetic_dataset": "synth",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
