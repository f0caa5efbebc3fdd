"""Genotype -> PyTorch: ops, cells, neck, backbones, head, anchors, losses, detector.

Importing this package imports torch; the builders are looked up lazily so each submodule is only
loaded when used.
"""
from __future__ import annotations

from ..utils import lazy_exports

_BUILDERS = {
    "build_neck": "neck",
    "build_backbone": "backbones",
    "build_network": "network",
    "build_detector": "detector",
}

__all__ = list(_BUILDERS)
__getattr__ = lazy_exports(__name__, _BUILDERS)
