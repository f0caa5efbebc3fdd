"""Training, evaluation and prediction.

The programmatic API (stable names): ``TrainConfig``, ``train(config, *, progress=True) ->
TrainResult``, ``evaluate(detector, dataset, ...) -> metrics dict``. Looked up lazily so that
importing :mod:`nasfpn_cli.engine.config` alone does not import torch.
"""
from __future__ import annotations

_EXPORTS = {
    "TrainConfig": "config",
    "RECIPES": "config",
    "train": "training",
    "TrainResult": "training",
    "evaluate": "evaluation",
    "Trainer": "trainer",
    "Hook": "trainer",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
