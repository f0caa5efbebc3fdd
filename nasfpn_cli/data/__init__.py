"""COCO-format data: datasets, transforms, loaders, checks and synthetic data.

Names load lazily so that torch-free users (``nasfpn data check``) do not import torch.
"""
from __future__ import annotations

import importlib

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


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
