"""A point of the anchored space cell by cell (:class:`Gene`), and what edits ask of such a
space (:class:`CellSpace`): shared by the space (:mod:`.anchored`) and its edits
(:mod:`.edits`), so that the edits need not import the space they are handed."""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

Decisions = tuple[int, ...]


class Gene(NamedTuple):
    """One cell of a point: its inputs (feature indices, as written), level index, op index."""

    inputs: tuple[int, ...]
    level: int
    op: int


Genes = tuple[Gene, ...]


class CellSpace(Protocol):
    """What the edits (:mod:`.edits`) ask of a space of genes: its bounds, and the way between
    decisions, genes and hashes (:class:`~nasfpn_cli.search.anchored.AnchoredSpace` has it)."""

    cells: tuple[int, int]
    max_inputs: int
    levels: tuple[int, ...]
    ops: tuple[str, ...]

    def decode(self, decisions: Sequence[int]) -> Genes: ...

    def encode_genes(self, genes: Sequence[Gene]) -> Decisions: ...

    def hash(self, decisions: Sequence[int]) -> str: ...

    def hash_genes(self, genes: Sequence[Gene]) -> str: ...
