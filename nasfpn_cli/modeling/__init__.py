"""Genotype -> PyTorch: ops, cells, neck, backbones, head, anchors, losses, detector.

Importing this package imports torch; the builders are looked up lazily so each submodule is only
loaded when used.
"""
from __future__ import annotations

from ..utils import lazy_exports

# module -> the builder it gives the package
_BUILDERS = {"neck": ("build_neck",), "backbones": ("build_backbone",),
             "network": ("build_network",), "detector": ("build_detector",)}

__all__ = [name for names in _BUILDERS.values() for name in names]
__getattr__ = lazy_exports(__name__, _BUILDERS)
