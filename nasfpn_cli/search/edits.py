"""One-edit moves in the anchored space: the neighbourhood of a pyramid, a random edit, and an
edit distance, for seeded evolution and local search from the best known designs.

An edit acts on a point as spelled (its decisions) and always gives a point:

``input``   replace one input of a cell by another feature written before the cell;
``op``      change a cell's op to another op of the space that takes its number of inputs;
``level``   move an intermediate cell to another level, or swap the levels of two output cells
            (the outputs keep one cell per level);
``add``     give a cell one more input (up to ``max_inputs``, when its op takes that many);
``drop``    remove one input of a cell that has more than two;
``insert``  add a 2-input intermediate cell after the other intermediate cells; no cell reads
            it, so the residual rule adds it to its level's output;
``delete``  remove a 2-input intermediate cell that no cell reads (its level's output had it as
            a residual).

Every edit has an inverse edit (``insert``/``delete``, ``add``/``drop``, the others by
themselves), so the neighbour relation is symmetric. Adding a kind of edit is one
:func:`edit_kind` function here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..errors import SearchError
from ..genotype import OPS
from .genes import CellSpace, Decisions, Gene, Genes


@dataclass(frozen=True)
class Edit:
    """What an edit did: its kind, the cell it touched (its index in the result) and details."""

    kind: str
    cell: int
    detail: tuple[int, ...] = ()


EditMoves = Callable[[CellSpace, Genes], Iterator[tuple[Edit, Genes]]]
EDIT_KINDS: dict[str, EditMoves] = {}


def edit_kind(name: str) -> Callable[[EditMoves], EditMoves]:
    """Register the function that lists every edit of one kind (in a fixed order)."""
    def register(moves: EditMoves) -> EditMoves:
        EDIT_KINDS[name] = moves
        return moves
    return register


def _middle(space: CellSpace, genes: Genes) -> int:
    """The number of intermediate cells."""
    return len(genes) - len(space.levels)


def _replace(genes: Genes, cell: int, gene: Gene) -> Genes:
    return genes[:cell] + (gene,) + genes[cell + 1:]


def _accepts(space: CellSpace, op: int, count: int) -> bool:
    return OPS[space.ops[op]].accepts(count) and count <= space.max_inputs


@edit_kind("input")
def _input_moves(space: CellSpace, genes: Genes) -> Iterator[tuple[Edit, Genes]]:
    for cell, gene in enumerate(genes):
        for position, old in enumerate(gene.inputs):
            for feature in range(len(space.levels) + cell):
                if feature not in gene.inputs:
                    inputs = gene.inputs[:position] + (feature,) + gene.inputs[position + 1:]
                    yield (Edit("input", cell, (position, old, feature)),
                           _replace(genes, cell, gene._replace(inputs=inputs)))


@edit_kind("op")
def _op_moves(space: CellSpace, genes: Genes) -> Iterator[tuple[Edit, Genes]]:
    for cell, gene in enumerate(genes):
        for op in range(len(space.ops)):
            if op != gene.op and _accepts(space, op, len(gene.inputs)):
                yield Edit("op", cell, (gene.op, op)), _replace(genes, cell, gene._replace(op=op))


@edit_kind("level")
def _level_moves(space: CellSpace, genes: Genes) -> Iterator[tuple[Edit, Genes]]:
    middle = _middle(space, genes)
    for cell, gene in enumerate(genes[:middle]):
        for level in range(len(space.levels)):
            if level != gene.level:
                yield (Edit("level", cell, (gene.level, level)),
                       _replace(genes, cell, gene._replace(level=level)))
    for cell, other in combinations(range(middle, len(genes)), 2):
        swapped = list(genes)
        swapped[cell] = genes[cell]._replace(level=genes[other].level)
        swapped[other] = genes[other]._replace(level=genes[cell].level)
        yield Edit("level", cell, (other,)), tuple(swapped)


@edit_kind("add")
def _add_moves(space: CellSpace, genes: Genes) -> Iterator[tuple[Edit, Genes]]:
    for cell, gene in enumerate(genes):
        if _accepts(space, gene.op, len(gene.inputs) + 1):
            for feature in range(len(space.levels) + cell):
                if feature not in gene.inputs:
                    yield (Edit("add", cell, (feature,)),
                           _replace(genes, cell, gene._replace(inputs=gene.inputs + (feature,))))


@edit_kind("drop")
def _drop_moves(space: CellSpace, genes: Genes) -> Iterator[tuple[Edit, Genes]]:
    for cell, gene in enumerate(genes):
        if len(gene.inputs) > 2 and _accepts(space, gene.op, len(gene.inputs) - 1):
            for position, feature in enumerate(gene.inputs):
                inputs = gene.inputs[:position] + gene.inputs[position + 1:]
                yield (Edit("drop", cell, (feature,)),
                       _replace(genes, cell, gene._replace(inputs=inputs)))


def _shift(genes: Sequence[Gene], start: int, by: int) -> list[Gene]:
    """Genes with every reference to a feature at or after ``start`` moved by ``by``."""
    return [gene._replace(inputs=tuple(f + by if f >= start else f for f in gene.inputs))
            for gene in genes]


@edit_kind("insert")
def _insert_moves(space: CellSpace, genes: Genes) -> Iterator[tuple[Edit, Genes]]:
    if len(genes) >= space.cells[1]:
        return
    num_inputs, middle = len(space.levels), _middle(space, genes)
    position = num_inputs + middle  # the new cell's feature index
    levels = list(space.levels) + [space.levels[g.level] for g in genes]
    outputs = _shift(genes[middle:], position, 1)
    for pair in combinations(range(position), 2):
        for op in range(len(space.ops)):
            if not _accepts(space, op, 2):
                continue
            orders = [pair]
            if OPS[space.ops[op]].order_matters([levels[f] for f in pair]):
                orders.append(pair[::-1])
            for inputs in orders:
                for level in range(len(space.levels)):
                    yield (Edit("insert", middle, (*inputs, level, op)),
                           tuple(genes[:middle]) + (Gene(inputs, level, op),) + tuple(outputs))


@edit_kind("delete")
def _delete_moves(space: CellSpace, genes: Genes) -> Iterator[tuple[Edit, Genes]]:
    if len(genes) <= space.cells[0]:
        return
    num_inputs = len(space.levels)
    read = {f for gene in genes for f in gene.inputs}
    for cell, gene in enumerate(genes[:_middle(space, genes)]):
        if len(gene.inputs) == 2 and num_inputs + cell not in read:
            rest = _shift(genes[cell + 1:], num_inputs + cell + 1, -1)
            yield Edit("delete", cell, gene.inputs), tuple(genes[:cell]) + tuple(rest)


# -- the neighbourhood, random edits, distance --------------------------------------------------

def _edits(space: CellSpace, genes: Genes) -> Iterator[tuple[Edit, Genes]]:
    for moves in EDIT_KINDS.values():
        yield from moves(space, genes)


def edits(space: CellSpace, point: Sequence[int]) -> Iterator[tuple[Edit, Decisions]]:
    """Every edit of the point as spelled, kind by kind in :data:`EDIT_KINDS` order (some may
    give the same pyramid; :func:`neighbours` keeps one of each)."""
    for edit, result in _edits(space, space.decode(point)):
        yield edit, space.encode_genes(result)


def neighbours(space: CellSpace, point: Sequence[int]) -> list[Decisions]:
    """The distinct pyramids one edit away, in a fixed order (edit kinds, then cells); the
    point itself is left out."""
    genes = space.decode(point)
    seen = {space.hash_genes(genes)}
    result = []
    for _, moved in _edits(space, genes):
        key = space.hash_genes(moved)
        if key not in seen:
            seen.add(key)
            result.append(space.encode_genes(moved))
    return result


def is_neighbour(space: CellSpace, point: Sequence[int], other: Sequence[int]) -> bool:
    """Whether one edit of ``point`` (as spelled) gives the pyramid ``other`` (only candidates
    whose cell :func:`descriptors` match are hashed)."""
    target, wanted = space.hash(other), descriptors(space, space.decode(other))
    return any(descriptors(space, moved) == wanted and space.hash_genes(moved) == target
               for _, moved in _edits(space, space.decode(point)))


def random_edit(space: CellSpace, point: Sequence[int], rng: np.random.Generator,
                attempts: int = 32) -> Decisions:
    """A random one-edit neighbour: a kind uniform among those with an edit, then an edit of it
    uniform (so the many ``insert`` moves do not crowd out the others); never the same pyramid."""
    genes = space.decode(point)
    original = space.hash(point)
    for _ in range(attempts):
        for index in rng.permutation(len(EDIT_KINDS)):
            moves = list(list(EDIT_KINDS.values())[int(index)](space, genes))
            if moves:
                decisions = space.encode_genes(moves[int(rng.integers(len(moves)))][1])
                break
        else:
            raise SearchError("the point has no edit in this space")
        if space.hash(decisions) != original:
            return decisions
    raise SearchError(f"no edit changed the point in {attempts} tries")


def descriptors(space: CellSpace, genes: Genes) -> list[tuple]:
    """Per cell, sorted, what no edit of another cell changes: op, number of inputs, output or
    the level of an intermediate cell, and which pyramid inputs it reads (equal pyramids have
    equal descriptors)."""
    middle = _middle(space, genes)
    return sorted((g.op, len(g.inputs), c >= middle, -1 if c >= middle else g.level,
                   tuple(sorted(f for f in g.inputs if f < len(space.levels))))
                  for c, g in enumerate(genes))


def lower_bound(space: CellSpace, a: Sequence[int], b: Sequence[int]) -> int:
    """A lower bound on the number of edits between two points: every edit changes, adds or
    removes at most one cell's :func:`descriptors` entry, so at least this many entries of the
    larger multiset find no equal in the other."""
    left, right = descriptors(space, space.decode(a)), descriptors(space, space.decode(b))
    common, rest = 0, list(right)
    for item in left:
        if item in rest:
            rest.remove(item)
            common += 1
    return max(len(left), len(right)) - common


def edit_distance(space: CellSpace, a: Sequence[int], b: Sequence[int]) -> int:
    """The number of edits between two pyramids: exact for 0 (the same pyramid) and 1 (one is
    a neighbour of the other as spelled); beyond, a lower bound: the larger of 2 and
    :func:`lower_bound`. Symmetric; 0 exactly for the same pyramid."""
    ha, hb = space.hash(a), space.hash(b)
    if ha == hb:
        return 0
    if is_neighbour(space, a, b) or is_neighbour(space, b, a):
        return 1
    return max(2, lower_bound(space, a, b))
