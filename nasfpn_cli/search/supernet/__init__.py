"""One-shot architecture search: a weight-sharing supernet over the merging-cell space
(:mod:`.model`; over the anchored space, :mod:`.anchored`), trained once by single-path sampling
(:mod:`.training`) and scoring candidates with inherited weights (:mod:`.scoring`);
``--reward supernet`` is :mod:`nasfpn_cli.search.rewards.supernet`. See docs/search.md,
"One-shot supernet"."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..space import SearchSpace


@dataclass(frozen=True)
class NormScope:
    """How the norms after the shared convs are shared: how many per (stack, cell position),
    and which of them a cell producing ``level`` uses."""

    slots: Callable[[SearchSpace], int]
    slot: Callable[[SearchSpace, int], int]


# supernet norm scope -> NormScope (torch-free, so settings can list the names cheaply).
# "level": a cell's statistics differ most with the level it computes at (the feature size and
# what reaches it), so each level gets its own norm; "cell": one norm per cell position.
NORM_SCOPES: dict[str, NormScope] = {
    "level": NormScope(lambda space: len(space.levels),
                       lambda space, level: space.levels.index(level)),
    "cell": NormScope(lambda space: 1, lambda space, level: 0),
}


@dataclass(frozen=True)
class CellNormScope:
    """The anchored space's :class:`NormScope`: which norm of a cell role a cell uses may also
    depend on how many features it merges (``merged``: its inputs and the residuals the rule
    adds, 2 or more)."""

    slots: Callable[[object], int]
    slot: Callable[[object, int, int], int]


def _merged_slot(space, merged: int) -> int:
    """2, 3, ... merged features -> 0, 1, ...; everything beyond ``max_inputs + 1`` shares the
    last slot (a residual on a full cell is rare)."""
    return min(merged, space.max_inputs + 1) - 2


# the anchored space's scopes. "inputs" (its default): a norm per (cell role, level, number of
# merged features), as MixPath's shadow batch norms: a sum of k features has about k times the
# variance of one, so paths that merge 2 or 4 features through one conv see different
# statistics after it. "level" and "cell" as in the paper's space.
ANCHORED_NORM_SCOPES: dict[str, CellNormScope] = {
    "inputs": CellNormScope(
        lambda space: len(space.levels) * space.max_inputs,
        lambda space, level, merged: (space.levels.index(level) * space.max_inputs
                                      + _merged_slot(space, merged))),
    "level": CellNormScope(lambda space: len(space.levels),
                           lambda space, level, merged: space.levels.index(level)),
    "cell": CellNormScope(lambda space: 1, lambda space, level, merged: 0),
}

# how the anchored supernet samples its training paths (the paper's space: uniform only).
# "uniform": every decision uniform among its valid choices (AnchoredSpace.sample);
# "anchors": half the steps so, the other half a bundled anchor after 0 to MAX_ANCHOR_EDITS
# random edits (where a seeded search spends its trials).
SAMPLINGS = ("uniform", "anchors")
MAX_ANCHOR_EDITS = 4
# how the anchored supernet's neck weights are split among the pyramids (few-shot NAS, Zhao et
# al. 2021, splits a one-shot supernet into sub-supernets so that fewer paths share a weight).
# "none": one supernet for every cell count; "cells": one sub-supernet (convs, norms, merge
# weights) per number of cells, the backbone and head still shared.
SPLITS = ("none", "cells")
# the anchored space's defaults, and the paper space's (where nothing else is allowed)
ANCHORED_DEFAULTS = {"norm_scope": "inputs", "sampling": "anchors", "split": "none"}
PAPER_DEFAULTS = {"norm_scope": "level", "sampling": "uniform", "split": "none"}


def all_norm_scopes() -> tuple[str, ...]:
    """Every norm scope name of either space (the setting's choices)."""
    return tuple(dict.fromkeys([*NORM_SCOPES, *ANCHORED_NORM_SCOPES]))
