"""Search spaces by name (``--space``): ``paper`` (the NAS-FPN paper's fixed number of 2-input
cells, :mod:`.space`) and ``anchored`` (5 to 10 cells of 2 or 3 inputs that hold FPN, PANet,
BiFPN and NAS-FPN as points, :mod:`.anchored`). A stored space names its kind (search.json);
one without a kind is the paper's, as every search folder written before the anchored space.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Callable, Union

from ..errors import SearchError, UsageError
from ..limits import MAX_SEARCH_CELLS
from ..records import Check, list_of, one_of, whole
from .anchored import AnchoredSpace
from .space import SearchSpace

Space = Union[SearchSpace, AnchoredSpace]
PAPER, ANCHORED = "paper", "anchored"
MAX_INPUTS = 8  # inputs per cell a stored anchored space may declare
MIN_CELLS = 5  # one output cell per level of P3..P7


def parse_cells(text: str | int | None, option: str = "--cells") -> tuple[int, int] | None:
    """``7`` -> (7, 7), ``5..10`` -> (5, 10), None -> None; UsageError naming the option."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?", str(text))
    if match is None:
        raise UsageError(f"{option} {text!r}: expected a number N or a range LOW..HIGH")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else low
    if low > high:
        raise UsageError(f"{option} {text}: LOW is above HIGH")
    if low < MIN_CELLS or high > MAX_SEARCH_CELLS:
        raise UsageError(f"{option} {text}: cells must lie in {MIN_CELLS}..{MAX_SEARCH_CELLS} "
                         "(one output cell per pyramid level at least)")
    return low, high


def _paper(cells: tuple[int, int] | None, max_inputs: int | None,
           paper_constraints: bool) -> SearchSpace:
    if max_inputs is not None:
        raise UsageError("--max-inputs: the paper's space has 2-input cells only",
                         hint="--space anchored takes --max-inputs")
    if cells is not None and cells[0] != cells[1]:
        raise UsageError(f"--cells {cells[0]}..{cells[1]}: the paper's space has one number of "
                         "cells", hint="--space anchored takes a range")
    return SearchSpace(cells[0] if cells else SearchSpace.num_cells,
                       paper_constraints=paper_constraints)


def _anchored(cells: tuple[int, int] | None, max_inputs: int | None,
              paper_constraints: bool) -> AnchoredSpace:
    if paper_constraints:
        raise UsageError("--paper-constraints: a rule of --space paper only")
    from .anchored import DEFAULT_CELLS, DEFAULT_MAX_INPUTS

    try:
        return AnchoredSpace(cells or DEFAULT_CELLS,
                             DEFAULT_MAX_INPUTS if max_inputs is None else max_inputs)
    except SearchError as exc:
        raise UsageError(f"--space anchored: {exc}") from None


@dataclass(frozen=True)
class SpaceEntry:
    """A kind of search space: how the options build one, how a stored one is read back and
    checked (its :mod:`nasfpn_cli.records` shape)."""

    build: Callable[[tuple[int, int] | None, int | None, bool], Any]
    from_dict: Callable[[dict], Any]
    shape: dict[str, Check]
    controller: str  # the controller a search of this kind gets without --controller


@functools.cache
def _entries() -> dict[str, SpaceEntry]:
    from ..genotype import OPS
    from ..genotype.nodes import LEVEL_RANGE
    from .settings import SPACE_SHAPE

    anchored = {"kind": one_of((ANCHORED,)),
                "cells": list_of(whole(2, MAX_SEARCH_CELLS), "cell counts", 2),
                "max_inputs": whole(2, MAX_INPUTS),
                "levels": list_of(whole(LEVEL_RANGE.start, LEVEL_RANGE.stop - 1),
                                  "pyramid levels", 2),
                "ops": list_of(one_of(OPS), "binary ops", 1)}
    # PPO learns the paper's fixed-length decisions fastest (docs/lab/2026-11-25); in the
    # anchored space regularized evolution from the anchors: its population ages out a lucky
    # score, where a hill-climber's incumbent would keep it
    return {PAPER: SpaceEntry(_paper, SearchSpace.from_dict, SPACE_SHAPE, "ppo"),
            ANCHORED: SpaceEntry(_anchored, AnchoredSpace.from_dict, anchored, "evolution")}


def space_kind(data: Any) -> str:
    """The kind a stored space names (none: the paper's; a kind that is not text is shown as
    its repr, an unknown kind)."""
    kind = data.get("kind", PAPER) if isinstance(data, dict) else PAPER
    return kind if isinstance(kind, str) else repr(kind)


def space_shape(data: Any) -> dict[str, Check]:
    """The shape a stored space of ``data``'s kind must have (unknown kinds: the paper's)."""
    return _entries().get(space_kind(data), _entries()[PAPER]).shape


def space_from_dict(data: dict) -> Space:
    """A stored space of either kind (checked beforehand against :func:`space_shape`)."""
    kind = space_kind(data)
    entries = _entries()
    if kind not in entries:
        raise SearchError(f"unknown kind of search space {kind!r}; known: {', '.join(entries)}")
    return entries[kind].from_dict(data)


def default_controller(kind: str) -> str:
    """The controller a search of ``kind``'s space gets when ``--controller`` is not given."""
    entries = _entries()
    return entries[kind].controller if kind in entries else entries[PAPER].controller


def build_space(kind: str, cells: str | int | None, max_inputs: int | None = None,
                paper_constraints: bool = False) -> Space:
    """The space ``--space KIND --cells N|LOW..HIGH --max-inputs M`` asks for; UsageError
    naming an option that does not fit the kind."""
    entries = _entries()
    if kind not in entries:
        raise UsageError(f"--space {kind}: choose one of {', '.join(entries)}")
    return entries[kind].build(parse_cells(cells), max_inputs, paper_constraints)


SPACE_KINDS = (PAPER, ANCHORED)

__all__ = ["SPACE_KINDS", "Space", "build_space", "default_controller", "parse_cells",
           "space_from_dict", "space_kind", "space_shape"]
