"""The anchored search space: pyramids of 5 to 10 merging cells, a space that holds FPN, PANet,
BiFPN and NAS-FPN as points, so a search can start from the best known designs and edit them.

A point is a sequence of cells over the pyramid levels (P3..P7): first any number of
intermediate cells, then one output cell per level, in any order of levels. A cell takes 2 to
``max_inputs`` distinct earlier features (inputs ``0 .. L-1``, cell ``i`` is feature ``L + i``),
a level and an op that accepts that many inputs (``gp`` takes exactly 2). The residual rule is
the paper's (``residual unconnected``): because every intermediate cell comes before the
outputs, a cell or input that no cell uses is added to its level's output, so no point has a
dead cell. A genotype written with ``residual none`` is a point when the rule adds nothing to it
(true of the bundled fpn, panet and bifpn); then it is the same point as without the line.

Decisions are variable-length, read left to right: the number of cells, then per cell its
number of inputs, the inputs, the level index and the op index. :meth:`AnchoredSpace.valid_choices`
gives the allowed tokens at each step, so a sequential controller can sample it as it samples
the paper's space.

Two spellings are the same point when they compile to the same pyramid: the same cells (op,
level, output or not) reading the same features, with the residual edges the rule adds, up to
the names and the written order of the cells and of inputs whose order does not matter
(:meth:`AnchoredSpace.hash`). ``stack`` and ``channels`` are training settings, not part of a
point; a ``sum`` with a residual is kept apart from a 3-input ``sum`` although they compute the
same (they are different graphs to draw, count and edit).
"""
from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import SearchError
from ..genotype import OPS, Genotype, level_name, load_genotype, parse_genotype, plan
from ..genotype.nodes import Cell, Ref
from .genes import Decisions, Gene, Genes
from .space import genotype_header, membership

KIND = "anchored"
DEFAULT_LEVELS = (3, 4, 5, 6, 7)
DEFAULT_OPS = ("sum", "gp", "wsum")
DEFAULT_CELLS = (5, 10)
DEFAULT_MAX_INPUTS = 3
ANCHORS = ("fpn", "panet", "bifpn", "nasfpn")  # bundled genotypes, the seeds of a search

CELLS, ARITY, INPUT, LEVEL, OP = "cells", "arity", "input", "level", "op"
DECISION_HELP = {
    CELLS: "number of cells (intermediate cells, then one output cell per level)",
    ARITY: "number of inputs of the cell",
    INPUT: "one input: a pyramid input (0..L-1) or an earlier cell (L + i), each at most once",
    LEVEL: "level index of the cell; output cells take the levels not taken yet",
    OP: "op index among the space's ops that accept the cell's number of inputs",
}
# refuse canonical labelling of pathological twins beyond this many relabellings
MAX_RELABELLINGS = 40_320



@dataclass
class _Cursor:
    """Reads decisions one at a time and knows which tokens the next one may take."""

    space: "AnchoredSpace"
    num_cells: int | None = None
    cell: int = 0
    kind: str = CELLS
    arity: int = 0
    inputs: list[int] = field(default_factory=list)
    level: int = 0
    taken: set[int] = field(default_factory=set)  # levels of the output cells so far
    genes: list[Gene] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.num_cells is not None and self.cell == self.num_cells

    @property
    def slot(self) -> int:
        """Where the next decision sits in a fixed layout that reserves ``max_inputs`` input
        slots per cell, so a slot always means the same decision of the same cell (the head a
        sequential controller uses for it)."""
        if self.kind == CELLS:
            return 0
        room = self.space.max_inputs
        offset = {ARITY: 0, INPUT: 1 + len(self.inputs), LEVEL: 1 + room, OP: 2 + room}
        return 1 + self.cell * (room + 3) + offset[self.kind]

    def choices(self) -> list[int]:
        space = self.space
        if self.kind == CELLS:
            return list(range(space.cells[0], space.cells[1] + 1))
        if self.kind == ARITY:  # no more inputs than features so far, and some op takes them
            most = min(space.max_inputs, len(space.levels) + self.cell)
            return [k for k in range(2, most + 1) if any(OPS[op].accepts(k) for op in space.ops)]
        if self.kind == INPUT:
            return [f for f in range(len(space.levels) + self.cell) if f not in self.inputs]
        if self.kind == LEVEL:
            if self.cell < self.num_cells - len(space.levels):
                return list(range(len(space.levels)))
            return [i for i in range(len(space.levels)) if i not in self.taken]
        return [i for i, op in enumerate(space.ops) if OPS[op].accepts(self.arity)]

    def allows(self, token: int) -> bool:
        """``token in self.choices()``, without building the list (checks run often)."""
        space, num_inputs = self.space, len(self.space.levels)
        if self.kind == CELLS:
            return space.cells[0] <= token <= space.cells[1]
        if self.kind == ARITY:
            return (2 <= token <= min(space.max_inputs, num_inputs + self.cell)
                    and any(OPS[op].accepts(token) for op in space.ops))
        if self.kind == INPUT:
            return 0 <= token < num_inputs + self.cell and token not in self.inputs
        if self.kind == LEVEL:
            return 0 <= token < num_inputs and (
                self.cell < self.num_cells - num_inputs or token not in self.taken)
        return 0 <= token < len(space.ops) and OPS[space.ops[token]].accepts(self.arity)

    def push(self, token: int) -> None:
        if self.kind == CELLS:
            self.num_cells, self.kind = token, ARITY
        elif self.kind == ARITY:
            self.arity, self.inputs, self.kind = token, [], INPUT
        elif self.kind == INPUT:
            self.inputs.append(token)
            self.kind = LEVEL if len(self.inputs) == self.arity else INPUT
        elif self.kind == LEVEL:
            self.level, self.kind = token, OP
        else:
            if self.cell >= self.num_cells - len(self.space.levels):
                self.taken.add(self.level)
            self.genes.append(Gene(tuple(self.inputs), self.level, token))
            self.cell, self.kind = self.cell + 1, ARITY


@dataclass(frozen=True)
class AnchoredSpace:
    """Pyramids of ``cells`` (a range, or one number) merging cells of 2 to ``max_inputs``
    inputs over ``levels``, with ``ops``; the bundled anchors are points (module docstring)."""

    cells: tuple[int, int] = DEFAULT_CELLS
    max_inputs: int = DEFAULT_MAX_INPUTS
    levels: tuple[int, ...] = DEFAULT_LEVELS
    ops: tuple[str, ...] = DEFAULT_OPS

    def __post_init__(self) -> None:
        cells = (self.cells, self.cells) if isinstance(self.cells, int) else tuple(self.cells)
        object.__setattr__(self, "cells", tuple(int(c) for c in cells))
        object.__setattr__(self, "levels", tuple(self.levels))
        object.__setattr__(self, "ops", tuple(self.ops))
        if len(self.levels) < 2 or list(self.levels) != sorted(set(self.levels)):
            raise SearchError(f"levels must be at least two, increasing and distinct, got "
                              f"{self.levels}")
        low, high = self.cells
        if len(self.cells) != 2 or low > high or low < len(self.levels):
            raise SearchError(f"cells must be a range LOW..HIGH with LOW at least "
                              f"{len(self.levels)} (one output cell per level), got {self.cells}")
        if self.max_inputs < 2:
            raise SearchError(f"max_inputs must be at least 2, got {self.max_inputs}")
        unknown = [op for op in self.ops if op not in OPS]
        if unknown or not self.ops or len(set(self.ops)) != len(self.ops):
            raise SearchError(f"the space needs distinct known ops, got {self.ops} (unknown op "
                              f"{', '.join(unknown) or 'none'}; known: {', '.join(OPS)})")

    # -- the sequential view of decisions ------------------------------------------------------

    def _cursor(self, prefix: Sequence[int]) -> _Cursor:
        cursor = _Cursor(self)
        for token in prefix:
            cursor.push(int(token))
        return cursor

    def step_kind(self, prefix: Sequence[int]) -> str:
        """The kind of the decision that follows ``prefix`` (one of :data:`DECISION_HELP`)."""
        return self._cursor(prefix).kind

    def valid_choices(self, step: int, prefix: Sequence[int]) -> list[int]:
        """The tokens allowed at ``step`` after the decisions ``prefix[:step]``."""
        cursor = self._cursor(prefix[:step])
        return [] if cursor.done else cursor.choices()

    def is_complete(self, prefix: Sequence[int]) -> bool:
        return self._cursor(prefix).done

    def next_decision(self, prefix: Sequence[int]) -> tuple[int, list[int]] | None:
        """The slot (:attr:`_Cursor.slot`) and the allowed tokens of the decision after
        ``prefix``; None when the prefix is a whole point."""
        cursor = self._cursor(prefix)
        return None if cursor.done else (cursor.slot, cursor.choices())

    @property
    def num_slots(self) -> int:
        """Slots of the fixed layout: the cell count, then per cell its arity, ``max_inputs``
        inputs, level and op."""
        return self.max_decisions

    @property
    def max_vocab(self) -> int:
        """The most tokens any decision chooses among (a sequential controller's softmax)."""
        return max(self.vocab_size(kind) for kind in DECISION_HELP)

    def vocab_size(self, kind: str) -> int:
        """How many tokens a decision of ``kind`` chooses among (before masking)."""
        sizes = {CELLS: self.cells[1] + 1, ARITY: self.max_inputs + 1,
                 INPUT: len(self.levels) + self.cells[1] - 1, LEVEL: len(self.levels),
                 OP: len(self.ops)}
        return sizes[kind]

    @property
    def max_decisions(self) -> int:
        return 1 + self.cells[1] * (self.max_inputs + 3)

    def check(self, decisions: Sequence[int]) -> Decisions:
        """The decisions as a tuple; raises SearchError naming the first invalid one."""
        decisions = tuple(int(d) for d in decisions)
        cursor = _Cursor(self)
        for step, token in enumerate(decisions):
            if cursor.done:
                raise SearchError(f"decision {step} comes after the last cell")
            if not cursor.allows(token):
                where = f"cell n{cursor.cell + 1}, " if cursor.kind != CELLS else ""
                raise SearchError(f"decision {step} ({where}{cursor.kind}) = {token} is not "
                                  "allowed in this search space")
            cursor.push(token)
        if not cursor.done:
            raise SearchError(f"the decisions end before the last cell ({len(decisions)} given)")
        return decisions

    def sample(self, rng: np.random.Generator) -> Decisions:
        """One point, every decision uniform among its valid choices."""
        cursor, decisions = _Cursor(self), []
        while not cursor.done:
            choices = cursor.choices()
            decisions.append(choices[int(rng.integers(len(choices)))])
            cursor.push(decisions[-1])
        return tuple(decisions)

    # -- decisions <-> genes <-> genotype -------------------------------------------------------

    def decode(self, decisions: Sequence[int]) -> Genes:
        """Checked decisions -> one :class:`Gene` per cell."""
        cursor = self._cursor(self.check(decisions))
        return tuple(cursor.genes)

    def encode_genes(self, genes: Sequence[Gene]) -> Decisions:
        """Genes -> checked decisions (raises SearchError when they are no point)."""
        decisions = [len(genes)]
        for gene in genes:
            decisions += [len(gene.inputs), *gene.inputs, gene.level, gene.op]
        return self.check(decisions)

    def cell_count(self, decisions: Sequence[int]) -> int:
        """The number of cells of a point (its first decision)."""
        return int(decisions[0])

    def is_output_cell(self, cell: int, num_cells: int) -> bool:
        return cell >= num_cells - len(self.levels)

    def feature_name(self, index: int) -> str:
        if index < len(self.levels):
            return level_name(self.levels[index])
        return f"n{index - len(self.levels) + 1}"

    def genes_genotype(self, genes: Sequence[Gene], name: str | None = None) -> Genotype:
        """Genes -> an unparsed Genotype (fast; for hashing valid genes)."""
        cells = tuple(Cell(self.feature_name(len(self.levels) + i), self.ops[g.op],
                           tuple(Ref(self.feature_name(f)) for f in g.inputs),
                           self.levels[g.level], self.is_output_cell(i, len(genes)))
                      for i, g in enumerate(genes))
        return Genotype(cells, self.levels, self.levels, name=name)

    def to_text(self, decisions: Sequence[int], name: str | None = None,
                comment: str | None = None) -> str:
        """The point as genotype DSL text (unvalidated; see :meth:`to_genotype`)."""
        lines = genotype_header(self.levels, name, comment)
        genes = self._cursor(decisions).genes
        for cell, gene in enumerate(genes):
            out = " -> out" if self.is_output_cell(cell, len(genes)) else ""
            args = ", ".join(self.feature_name(f) for f in gene.inputs)
            lines.append(f"{self.feature_name(len(self.levels) + cell)} = {self.ops[gene.op]}("
                         f"{args}) @ {level_name(self.levels[gene.level])}{out}")
        return "\n".join(lines) + "\n"

    def compact(self, decisions: Sequence[int]) -> str:
        """``sum(P4,n1)@P4 wsum(P3,P4,n2)@P3 ...``: a whole point on one line."""
        genes = self.decode(decisions)
        return " ".join(f"{self.ops[g.op]}({','.join(self.feature_name(f) for f in g.inputs)})"
                        f"@{level_name(self.levels[g.level])}" for g in genes)

    def similarity(self, decisions: Sequence[int], target: Sequence[int]) -> float:
        """How alike two points are, 0 to 1: one less the edits between them (a lower bound,
        :func:`.edits.lower_bound`, at least 1 between different pyramids) per cell; 1 only for
        the same pyramid. Instant, for the ``similarity`` reward."""
        from .edits import lower_bound

        if self.hash(decisions) == self.hash(target):
            return 1.0
        cells = max(self.cell_count(decisions), self.cell_count(target))
        edits = max(1, lower_bound(self, decisions, target))  # another pyramid: an edit at least
        return max(0.0, 1.0 - edits / cells)

    def to_genotype(self, decisions: Sequence[int], name: str | None = None) -> Genotype:
        """Decisions -> a validated Genotype (the same checks as a hand-written file)."""
        return parse_genotype(self.to_text(self.check(decisions), name), "<search>")

    def anchors(self, names: Sequence[str] = ANCHORS) -> list[Decisions]:
        """The decisions of bundled genotypes (or files), in the order given."""
        return [self.encode(load_genotype(name)) for name in names]

    # -- membership -------------------------------------------------------------------------------

    def contains(self, genotype: Genotype) -> tuple[bool, str]:
        """Whether a (valid) genotype is a point, and when not, the reason in one sentence."""
        return membership(self, genotype)

    def encode(self, genotype: Genotype) -> Decisions:
        """A valid genotype as the decisions of the same point; SearchError says what does not fit.

        Cells that reach no output are left out (the compiler drops them too). The cells keep
        their written order where the residual rule allows; otherwise another order of the
        output cells that gives the genotype's residual edges is looked for.
        """
        want = " ".join(level_name(level) for level in self.levels)
        if tuple(genotype.inputs) != self.levels or tuple(sorted(genotype.outputs)) != self.levels:
            raise SearchError(f"its inputs and outputs must be {want} to lie in this space")
        resolved = plan(genotype)
        live = {cell.name for cell in resolved.cells}
        cells = [cell for cell in genotype.cells if cell.name in live]
        for cell in cells:
            if cell.op not in self.ops:
                raise SearchError(f"cell '{cell.name}' uses op '{cell.op}'; the space's ops are "
                                  f"{', '.join(self.ops)}")
            if len(cell.inputs) > self.max_inputs:
                raise SearchError(f"cell '{cell.name}' has {len(cell.inputs)} inputs; the space "
                                  f"allows at most {self.max_inputs}")
        low, high = self.cells
        if not low <= len(cells) <= high:
            allowed = f"{low}" if low == high else f"{low} to {high}"
            raise SearchError(f"it has {len(cells)} cells; the space allows {allowed}")
        outputs = [cell for cell in cells if cell.is_output]
        middle = [cell for cell in cells if not cell.is_output]
        _check_outputs_last(middle, {cell.name for cell in outputs})
        target = _canonical_key(resolved)
        first = None
        for order in _topological_orders(outputs, {cell.name for cell in middle}):
            genes = self._genes(middle + order)
            candidate = _canonical_key(plan(self.genes_genotype(genes)))
            if candidate == target:
                return self.encode_genes(genes)
            first = first or (order, candidate)
        spelled = middle + first[0]
        raise SearchError(_residual_difference(
            genotype, resolved, plan(self.genes_genotype(self._genes(spelled))), spelled))

    def _genes(self, cells: Sequence[Cell]) -> Genes:
        index = {level_name(level): i for i, level in enumerate(self.levels)}
        genes = []
        for position, cell in enumerate(cells):
            genes.append(Gene(tuple(index[name] for name in cell.input_names),
                              self.levels.index(cell.level), self.ops.index(cell.op)))
            index[cell.name] = len(self.levels) + position
        return tuple(genes)

    # -- canonical form and hashing ---------------------------------------------------------------

    def canonical(self, decisions: Sequence[int]) -> Decisions:
        """The same spelling with the inputs sorted where their order does not matter.

        Cheap and enough for writing text; :meth:`hash` is the exact test of sameness (it also
        ignores the order of independent cells).
        """
        genes = self.decode(decisions)
        levels = list(self.levels) + [self.levels[g.level] for g in genes]
        return self.encode_genes([
            g if OPS[self.ops[g.op]].order_matters([levels[f] for f in g.inputs])
            else Gene(tuple(sorted(g.inputs)), g.level, g.op) for g in genes])

    def canonical_text(self, decisions: Sequence[int]) -> str:
        return self.to_text(self.canonical(decisions))

    def hash(self, decisions: Sequence[int]) -> str:
        """A 16-hex-digit hash, equal exactly when two decision sequences are the same pyramid."""
        return self.hash_genes(self.decode(decisions))

    def hash_genes(self, genes: Sequence[Gene]) -> str:
        """:meth:`hash` of genes already known to be a point (no check)."""
        return _digest(_canonical_key(plan(self.genes_genotype(genes))))

    def genotype_hash(self, genotype: Genotype) -> str:
        """The hash of any valid genotype's pyramid (equal to :meth:`hash` of its point)."""
        return _digest(_canonical_key(plan(genotype)))

    def mutate(self, decisions: Sequence[int], rng: np.random.Generator) -> Decisions:
        """One random edit (see :mod:`nasfpn_cli.search.edits`): the evolution's mutation."""
        from .edits import random_edit

        return random_edit(self, decisions, rng)

    # -- size, description, storage ---------------------------------------------------------------

    def _spellings(self, num_cells: int, ordered: bool) -> int:
        """Decision sequences of ``num_cells`` cells with inputs as sets; ``ordered``: count every
        input order of ops where it may matter (``gp``), else count one."""
        count = 1
        for cell in range(num_cells):
            features = len(self.levels) + cell
            count *= sum(math.comb(features, k) * sum(
                math.factorial(k) if ordered and _order_may_matter(op) else 1
                for op in self.ops if OPS[op].accepts(k))
                for k in range(2, self.max_inputs + 1))
        middle = num_cells - len(self.levels)
        return count * len(self.levels) ** middle * math.factorial(len(self.levels))

    def log10_size(self) -> tuple[float, float]:
        """Bounds on log10 of the number of distinct pyramids, both computed exactly.

        Upper: the decision sequences with the inputs of order-free ops taken as sets (every
        pyramid has at least one). Lower: the same count with one input order per op, divided
        per cell count by the most spellings one pyramid can have (m! orders of its m
        intermediate cells times L! orders of its output cells).
        """
        low = high = 0
        for n in range(self.cells[0], self.cells[1] + 1):
            middle = n - len(self.levels)
            high += self._spellings(n, ordered=True)
            low += self._spellings(n, ordered=False) / (
                math.factorial(middle) * math.factorial(len(self.levels)))
        return math.log10(low), math.log10(high)

    def describe(self) -> dict[str, Any]:
        """What ``nasfpn search space`` prints: the settings, the decisions and the size."""
        low, high = self.log10_size()
        return {**self.to_dict(), "levels": [level_name(level) for level in self.levels],
                "cells": list(self.cells), "log10_pyramids": [low, high],
                "max_decisions": self.max_decisions,
                "decisions": [{"kind": kind, "meaning": text}
                              for kind, text in DECISION_HELP.items()]}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "cells": list(self.cells), "max_inputs": self.max_inputs,
                "levels": list(self.levels), "ops": list(self.ops)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AnchoredSpace":
        """From :meth:`to_dict`'s object; SearchError when it names another kind of space."""
        if data.get("kind") != KIND:
            raise SearchError(f"a stored space of kind {data.get('kind')!r}, not {KIND!r}")
        return cls(tuple(data["cells"]), int(data["max_inputs"]), tuple(data["levels"]),
                   tuple(data["ops"]))


# -- helpers: order, residual differences, the canonical key ------------------------------------

def _order_may_matter(op: str) -> bool:
    spec = OPS[op]
    return not spec.symmetric or spec.order_matters([0, 0])


def _check_outputs_last(middle: Sequence[Cell], outputs: set[str]) -> None:
    """Every intermediate cell must be writable before the outputs: it may not use one."""
    for cell in middle:
        for name in cell.input_names:
            if name in outputs:
                raise SearchError(f"intermediate cell '{cell.name}' uses the output '{name}'; in "
                                  "this space every intermediate cell comes before the outputs")


def _topological_orders(cells: Sequence[Cell], before: set[str]) -> Iterator[list[Cell]]:
    """The orders of ``cells`` in which each comes after the cells it uses (written order first)."""
    names = {cell.name for cell in cells}

    def extend(done: list[Cell], left: list[Cell]) -> Iterator[list[Cell]]:
        if not left:
            yield list(done)
            return
        ready_names = before | {cell.name for cell in done}
        for cell in left:
            if all(n in ready_names or n not in names for n in cell.input_names):
                yield from extend(done + [cell], [c for c in left if c is not cell])

    yield from extend([], list(cells))


def _residual_difference(genotype: Genotype, target, spelled, cells: Sequence[Cell]) -> str:
    """Why no order of the cells gives the genotype's residual edges, naming one edge; the
    plan ``spelled`` names the ``cells`` n1, n2, ... in their order."""
    want = {cell.name: set(cell.residuals) for cell in target.cells}
    back = {f"n{i + 1}": cell.name for i, cell in enumerate(cells)}
    for level_name_ in target.inputs:
        back[level_name_] = level_name_
    for cell in spelled.cells:
        name = back[cell.name]
        have = {back[r] for r in cell.residuals}
        extra, missing = sorted(have - want[name]), sorted(want[name] - have)
        if extra:
            return (f"the space's residual rule adds '{extra[0]}' to '{name}', which the "
                    f"genotype (residual {genotype.residual}) does not; no order of its cells "
                    "avoids it")
        if missing:
            return (f"the genotype adds '{missing[0]}' to '{name}' as a residual, which the "
                    "space's residual rule does not in any order of its cells")
    return "its residual edges cannot be written in this space"


def _digest(key: Any) -> str:
    return hashlib.sha256(repr(key).encode()).hexdigest()[:16]


def _canonical_key(resolved) -> tuple:
    """An isomorphism-invariant description of a resolved pyramid (a :class:`Plan`).

    Cells are labelled (op, level, output); an edge reads a feature as an explicit input (in
    the order the op sees them where it matters, else as a set) or as a residual. Cells are
    numbered by a signature of what they read (bottom-up) and of who reads them (top-down);
    ties, i.e. structural twins, are broken by trying every numbering of each tie and keeping
    the smallest description, so the key is exact.
    """
    levels = resolved.levels
    label: dict[str, tuple] = {}
    args: dict[str, tuple[tuple[str, ...], bool]] = {}  # name -> (inputs, ordered?)
    for cell in resolved.cells:
        spec = OPS[cell.op]
        names = list(cell.inputs)
        ordered = spec.order_matters([levels[n] for n in names])
        args[cell.name] = (tuple(spec.ordered(names, levels)) if ordered else tuple(names), ordered)
        label[cell.name] = (cell.op, cell.level, cell.is_output)
    residual = {cell.name: tuple(cell.residuals) for cell in resolved.cells}
    up: dict[str, str] = {name: name for name in resolved.inputs}
    for cell in resolved.cells:
        inputs, ordered = args[cell.name]
        seen = [up[n] for n in inputs]
        up[cell.name] = _digest((label[cell.name], seen if ordered else sorted(seen),
                                 sorted(up[n] for n in residual[cell.name])))
    readers: dict[str, list[tuple]] = {name: [] for name in up}
    down: dict[str, str] = {}
    for cell in reversed(resolved.cells):
        down[cell.name] = _digest((up[cell.name], sorted(readers[cell.name])))
        inputs, ordered = args[cell.name]
        for position, name in enumerate(inputs):
            readers[name].append((down[cell.name], position if ordered else -1))
        for name in residual[cell.name]:
            readers[name].append((down[cell.name], -2))
    classes: dict[tuple[str, str], list[str]] = {}
    for cell in resolved.cells:
        classes.setdefault((up[cell.name], down[cell.name]), []).append(cell.name)
    groups = [classes[key] for key in sorted(classes)]
    if math.prod(math.factorial(len(g)) for g in groups) > MAX_RELABELLINGS:
        raise SearchError("the pyramid has too many structural twins to label canonically")
    best = None
    for choice in itertools.product(*(itertools.permutations(g) for g in groups)):
        number = {name: -level for name, level in zip(resolved.inputs, _input_levels(resolved))}
        order = [name for group in choice for name in group]
        number.update({name: i for i, name in enumerate(order)})
        key = tuple((label[name],
                     tuple(number[n] for n in args[name][0]) if args[name][1]
                     else tuple(sorted(number[n] for n in args[name][0])),
                     tuple(sorted(number[n] for n in residual[name]))) for name in order)
        best = key if best is None or key < best else best
    outputs = tuple(levels[name] for name in resolved.outputs)
    return tuple(_input_levels(resolved)), outputs, best


def _input_levels(resolved) -> list[int]:
    return [resolved.levels[name] for name in resolved.inputs]
