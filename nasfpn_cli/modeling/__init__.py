"""Genotype -> PyTorch: ops, cells, neck, backbones, head, anchors, losses, detector.

Importing this package imports torch; the builders are looked up lazily so each submodule is only
loaded when used.
"""
from __future__ import annotations

_BUILDERS = {
    "build_neck": "neck",
    "build_backbone": "backbones",
    "build_network": "network",
    "build_detector": "detector",
}

__all__ = list(_BUILDERS)


def __getattr__(name: str):
    if name in _BUILDERS:
        import importlib

        module = importlib.import_module(f"{__name__}.{_BUILDERS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
