"""Training, evaluation and prediction.

The programmatic API (stable names): ``TrainConfig``, ``train(config, *, progress=True) ->
TrainResult``, ``evaluate(detector, dataset, ...) -> metrics dict``. Looked up lazily so that
importing :mod:`nasfpn_cli.engine.config` alone does not import torch.
"""
from __future__ import annotations

from ..utils import lazy_exports

_EXPORTS = {
    "TrainConfig": "config",
    "RECIPES": "config",
    "train": "run",
    "TrainResult": "run",
    "evaluate": "evaluation",
    "Trainer": "trainer",
    "Hook": "trainer",
}

__all__ = list(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
