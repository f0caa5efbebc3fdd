"""nasfpn: NAS-FPN feature pyramids, from a text genotype to a trained detector.

The genotype API is importable without torch; ``build_neck`` and ``build_detector`` import the
modeling package (and torch) on first use.
"""
from __future__ import annotations

from .utils import lazy_exports
from .genotype import Genotype, load_genotype, parse_genotype

__version__ = "0.1.0"
__all__ = ["Genotype", "build_detector", "build_neck", "load_genotype", "parse_genotype"]
__getattr__ = lazy_exports(__name__, {"modeling": ("build_neck", "build_detector")})
