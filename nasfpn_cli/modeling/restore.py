"""Rebuilding a trained :class:`~nasfpn_cli.modeling.detector.Detector` from a checkpoint file.

A checkpoint (written by the training engine) is a dict with at least ``"model"`` (the
detector's state dict) and ``"config"`` holding ``"genotype_text"`` (the genotype's source) and
``"model"`` (``detector.config``: the :func:`build_detector` arguments).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, NasfpnError
from ..genotype import parse_genotype
from .detector import Detector, build_detector

MAX_LISTED_KEYS = 5


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict at ``path``, tensors on the CPU (plain data only, no pickled code);
    CheckpointError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, foreign or pickled-code files raise many kinds
        raise CheckpointError(f"{path}: cannot read checkpoint: {type(exc).__name__}: {exc}",
                              hint="is it a checkpoint written by 'nasfpn train'?") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a nasfpn checkpoint (top level is a "
                              f"{type(state).__name__}, expected a dict)")
    return state


def _listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:MAX_LISTED_KEYS])
    return shown + (f" (+{len(keys) - MAX_LISTED_KEYS} more)" if len(keys) > MAX_LISTED_KEYS else "")


def detector_from_checkpoint(state: Mapping[str, Any], source: str = "checkpoint") -> Detector:
    """A detector rebuilt from a loaded checkpoint dict, its weights loaded strictly."""
    config = state.get("config")
    weights = state.get("model")
    if not isinstance(config, Mapping) or not isinstance(weights, Mapping):
        missing = [key for key in ("model", "config") if not isinstance(state.get(key), Mapping)]
        raise CheckpointError(f"{source}: not a nasfpn checkpoint (no {' or '.join(repr(k) for k in missing)} dict)")
    genotype_text, model_config = config.get("genotype_text"), config.get("model")
    if not isinstance(genotype_text, str) or not isinstance(model_config, Mapping):
        raise CheckpointError(f"{source}: the checkpoint's config lacks 'genotype_text' or 'model'",
                              hint="it was not written by 'nasfpn train' from a built detector")
    try:
        genotype = parse_genotype(genotype_text, f"{source}:genotype_text")
        detector = build_detector(genotype, **model_config)
    except TypeError as exc:  # an option this version of build_detector does not know
        raise CheckpointError(f"{source}: cannot rebuild the detector: {exc}") from exc
    except NasfpnError as exc:
        raise CheckpointError(f"{source}: cannot rebuild the detector: {exc}") from exc
    own = detector.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    reshaped = sorted(k for k in set(own) & set(weights)
                      if tuple(own[k].shape) != tuple(torch.as_tensor(weights[k]).shape))
    problems = [f"{label} keys: {_listed(keys)}" for label, keys in
                (("missing", missing), ("unexpected", unexpected), ("wrong-shape", reshaped)) if keys]
    if problems:
        raise CheckpointError(f"{source}: weights do not fit the stored model; " + "; ".join(problems))
    detector.load_state_dict(weights)
    return detector


def load_detector_from_checkpoint(path: str | Path) -> Detector:
    """Rebuild the detector a training checkpoint describes and load its weights; returned on
    the CPU in eval mode (move it with ``.to(device)``)."""
    return detector_from_checkpoint(read_checkpoint(path), str(path)).eval()
