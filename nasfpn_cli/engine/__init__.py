"""Training, evaluation and prediction.

The programmatic API (stable names): ``TrainConfig``, ``train(config, *, progress=True) ->
TrainResult``, ``evaluate(detector, dataset, ...) -> metrics dict``. Looked up lazily so that
importing :mod:`nasfpn_cli.engine.config` alone does not import torch.
"""
from __future__ import annotations

from ..utils import lazy_exports

# module -> the names it gives the package
_EXPORTS = {"config": ("TrainConfig", "RECIPES"), "run": ("train", "TrainResult"),
            "evaluation": ("evaluate",), "trainer": ("Trainer", "Hook")}

__all__ = [name for names in _EXPORTS.values() for name in names]
__getattr__ = lazy_exports(__name__, _EXPORTS)
