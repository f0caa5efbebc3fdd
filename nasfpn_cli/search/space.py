"""The NAS-FPN search space: a pyramid of merging cells written as a flat sequence of decisions.

Each cell makes four decisions, in the paper's order: its first input, its second input (a
different feature), its output level and its binary op. Features are numbered like the TF block
specs: ``0 .. L-1`` are the input levels (P3..P7), ``L + i`` is cell ``i``. The last ``L`` cells
are the outputs; their levels form a permutation of the pyramid levels chosen by the controller,
while intermediate cells may pick any level. ``paper_constraints`` adds the paper's rule that
intermediate cells never produce the finest (stride-8, P3) level.

Every decision sequence becomes DSL text that is parsed by :func:`parse_genotype`, so a sampled
architecture passes exactly the validation a hand-written file does. The canonical form (cells
named ``n1..nN``, the inputs of symmetric cells sorted) gives a hash for de-duplication.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import SearchError
from ..genotype import OPS, Genotype, level_name, parse_genotype

Decisions = tuple[int, ...]


def membership(space, genotype: Genotype) -> tuple[bool, str]:
    """Whether ``space.encode`` takes a (valid) genotype, and when not, its reason."""
    try:
        space.encode(genotype)
    except SearchError as exc:
        return False, str(exc)
    return True, ""


def genotype_header(levels: Sequence[int], name: str | None, comment: str | None) -> list[str]:
    """The lines a searched genotype's text starts with: the comment, its name, the pyramid."""
    lines = [f"# {line}" for line in comment.splitlines()] if comment else []
    if name:
        lines.append(f"genotype {name}")
    names = " ".join(level_name(level) for level in levels)
    return lines + [f"inputs {names}", f"outputs {names}", ""]

FIRST, SECOND, LEVEL, OP = "first", "second", "level", "op"
DECISION_KINDS = (FIRST, SECOND, LEVEL, OP)
DEFAULT_LEVELS = (3, 4, 5, 6, 7)
DEFAULT_OPS = ("sum", "gp")


@dataclass(frozen=True)
class SearchSpace:
    """N merging cells over the levels ``levels``; the last ``len(levels)`` cells are outputs."""

    num_cells: int = 7
    levels: tuple[int, ...] = DEFAULT_LEVELS
    ops: tuple[str, ...] = DEFAULT_OPS
    paper_constraints: bool = False

    def __post_init__(self) -> None:
        if not self.levels:
            raise SearchError("the search space needs at least one pyramid level, got none")
        if self.num_cells < len(self.levels):
            raise SearchError(f"--cells must be at least {len(self.levels)} (one output cell per "
                              f"level), got {self.num_cells}")
        if len(self.ops) < 1 or len(set(self.ops)) != len(self.ops):
            raise SearchError(f"the search needs distinct ops, got {self.ops}")
        if list(self.levels) != sorted(set(self.levels)):
            raise SearchError(f"levels must be increasing and distinct, got {self.levels}")

    # -- shape of the decision sequence -------------------------------------------------------

    @property
    def num_inputs(self) -> int:
        return len(self.levels)

    @property
    def num_intermediate(self) -> int:
        """Cells before the output cells."""
        return self.num_cells - len(self.levels)

    @property
    def num_decisions(self) -> int:
        return 4 * self.num_cells

    @property
    def num_features(self) -> int:
        """Inputs plus all cells but the last (the last cell's output is never an input)."""
        return self.num_inputs + self.num_cells - 1

    @property
    def num_slots(self) -> int:
        """Decision positions a sequential controller keeps a head for: one per decision."""
        return self.num_decisions

    @property
    def max_vocab(self) -> int:
        """The most tokens any decision chooses among (a sequential controller's softmax)."""
        return max(self.vocab_size(kind) for kind in DECISION_KINDS)

    def next_decision(self, prefix: Sequence[int]) -> tuple[int, list[int]] | None:
        """The slot and the allowed tokens of the decision after ``prefix``; None when the
        prefix is a whole point."""
        step = len(prefix)
        return None if step >= self.num_decisions else (step, self.valid_choices(step, prefix))

    def step_info(self, step: int) -> tuple[int, str]:
        """Decision index -> (cell index, decision kind)."""
        return step // 4, DECISION_KINDS[step % 4]

    def vocab_size(self, kind: str) -> int:
        """How many tokens a decision of ``kind`` chooses among (before masking)."""
        if kind in (FIRST, SECOND):
            return self.num_features
        return len(self.levels) if kind == LEVEL else len(self.ops)

    def is_output_cell(self, cell: int) -> bool:
        return cell >= self.num_intermediate

    def valid_choices(self, step: int, prefix: Sequence[int]) -> list[int]:
        """The tokens allowed at ``step`` given the decisions ``prefix[:step]`` already made."""
        cell, kind = self.step_info(step)
        if kind == FIRST:
            return list(range(self.num_inputs + cell))
        if kind == SECOND:
            first = prefix[4 * cell]
            return [i for i in range(self.num_inputs + cell) if i != first]
        if kind == OP:
            return list(range(len(self.ops)))
        if not self.is_output_cell(cell):
            start = 1 if self.paper_constraints else 0  # no stride-8 intermediate cells
            return list(range(start, len(self.levels)))
        taken = {prefix[4 * c + 2] for c in range(self.num_intermediate, cell)}
        return [i for i in range(len(self.levels)) if i not in taken]

    def check(self, decisions: Sequence[int]) -> Decisions:
        """The decisions as a tuple; raises SearchError naming the first invalid one."""
        decisions = tuple(int(d) for d in decisions)
        if len(decisions) != self.num_decisions:
            raise SearchError(f"expected {self.num_decisions} decisions for {self.num_cells} "
                              f"cells, got {len(decisions)}")
        for step, token in enumerate(decisions):
            if token not in self.valid_choices(step, decisions):
                cell, kind = self.step_info(step)
                raise SearchError(f"decision {step} (cell n{cell + 1}, {kind}) = {token} is not "
                                  "allowed in this search space")
        return decisions

    # -- decisions <-> genotype ---------------------------------------------------------------

    def feature_name(self, index: int) -> str:
        if index < self.num_inputs:
            return level_name(self.levels[index])
        return f"n{index - self.num_inputs + 1}"

    def feature_levels(self, decisions: Sequence[int]) -> list[int]:
        """Level of every feature (inputs, then cells) of an architecture."""
        cells = [self.levels[decisions[4 * c + 2]] for c in range(self.num_cells)]
        return list(self.levels) + cells

    def to_text(self, decisions: Sequence[int], name: str | None = None,
                comment: str | None = None) -> str:
        """The architecture as genotype DSL text (unvalidated; see :meth:`to_genotype`)."""
        lines = genotype_header(self.levels, name, comment)
        for cell in range(self.num_cells):
            first, second, level, op = decisions[4 * cell: 4 * cell + 4]
            out = " -> out" if self.is_output_cell(cell) else ""
            lines.append(f"{self.feature_name(self.num_inputs + cell)} = {self.ops[op]}("
                         f"{self.feature_name(first)}, {self.feature_name(second)}) @ "
                         f"{level_name(self.levels[level])}{out}")
        return "\n".join(lines) + "\n"

    def to_genotype(self, decisions: Sequence[int], name: str | None = None) -> Genotype:
        """Decisions -> a validated :class:`Genotype` (the same checks as a hand-written file)."""
        return parse_genotype(self.to_text(self.check(decisions), name), "<search>")

    def encode(self, genotype: Genotype) -> Decisions:
        """A genotype of this space (e.g. the bundled ``nasfpn``) as its decisions.

        Raises SearchError saying what does not fit: the levels, the number of cells, an op, a
        cell that is not binary, the placement of the output cells or the residual rule.
        """
        where = genotype.name or genotype.path
        if tuple(genotype.inputs) != self.levels or tuple(sorted(genotype.outputs)) != self.levels:
            raise SearchError(f"{where}: inputs/outputs must be "
                              f"{' '.join(map(level_name, self.levels))} to lie in this space")
        if genotype.residual != "unconnected":
            raise SearchError(f"{where}: the search space uses the 'unconnected' residual rule, "
                              f"the genotype says residual {genotype.residual}")
        if len(genotype.cells) != self.num_cells:
            raise SearchError(f"{where}: has {len(genotype.cells)} cells, the space has "
                              f"{self.num_cells} (set --cells)")
        index = {level_name(level): i for i, level in enumerate(self.levels)}
        decisions: list[int] = []
        for position, cell in enumerate(genotype.cells):
            if len(cell.inputs) != 2:
                raise SearchError(f"{where}: cell '{cell.name}' has {len(cell.inputs)} inputs; "
                                  "the space has binary cells only")
            if cell.op not in self.ops:
                raise SearchError(f"{where}: cell '{cell.name}' uses op '{cell.op}'; the space's "
                                  f"ops are {', '.join(self.ops)}")
            if cell.is_output != self.is_output_cell(position):
                raise SearchError(f"{where}: the last {len(self.levels)} cells must be the "
                                  f"outputs ('{cell.name}' is not placed so)")
            decisions += [index[cell.inputs[0].name], index[cell.inputs[1].name],
                          self.levels.index(cell.level), self.ops.index(cell.op)]
            index[cell.name] = self.num_inputs + position
        try:
            return self.check(decisions)
        except SearchError as exc:
            raise SearchError(f"{where}: {exc}") from None

    # -- canonical form, hashing, similarity ----------------------------------------------------

    def canonical(self, decisions: Sequence[int]) -> Decisions:
        """Sort the inputs of cells whose result does not depend on their order.

        Each op's registry entry says when order matters: ``sum`` never; ``gp`` only for two
        same-level features (otherwise the coarser one gates, whatever the written order).
        """
        levels = self.feature_levels(decisions)
        result = list(decisions)
        for cell in range(self.num_cells):
            first, second, _, op = result[4 * cell: 4 * cell + 4]
            spec = OPS[self.ops[op]]
            if not spec.order_matters([levels[first], levels[second]]) and first > second:
                result[4 * cell], result[4 * cell + 1] = second, first
        return tuple(result)

    def canonical_text(self, decisions: Sequence[int]) -> str:
        return self.to_text(self.canonical(decisions))

    def hash(self, decisions: Sequence[int]) -> str:
        """A short stable hash of the canonical form: equal for equivalent spellings."""
        return hashlib.sha256(self.canonical_text(decisions).encode()).hexdigest()[:16]

    def compact(self, decisions: Sequence[int]) -> str:
        """``gp(P6,P4)@P4 sum(n1,P4)@P4 ...``: a whole architecture on one line."""
        parts = []
        for cell in range(self.num_cells):
            first, second, level, op = decisions[4 * cell: 4 * cell + 4]
            parts.append(f"{self.ops[op]}({self.feature_name(first)},"
                         f"{self.feature_name(second)})@P{self.levels[level]}")
        return " ".join(parts)

    def similarity(self, decisions: Sequence[int], target: Sequence[int]) -> float:
        """Fraction of matching decisions, cell by cell; a cell's two inputs count as a pair."""
        matches = 0
        for cell in range(self.num_cells):
            a = decisions[4 * cell: 4 * cell + 4]
            b = target[4 * cell: 4 * cell + 4]
            pair_a, pair_b = list(a[:2]), list(b[:2])
            for item in pair_a:
                if item in pair_b:
                    pair_b.remove(item)
                    matches += 1
            matches += int(a[2] == b[2]) + int(a[3] == b[3])
        return matches / self.num_decisions

    # -- sampling and mutation ------------------------------------------------------------------

    def sample(self, rng: np.random.Generator) -> Decisions:
        """One architecture, every decision uniform among its valid choices."""
        decisions: list[int] = []
        for step in range(self.num_decisions):
            choices = self.valid_choices(step, decisions)
            decisions.append(choices[int(rng.integers(len(choices)))])
        return tuple(decisions)

    def mutate(self, decisions: Sequence[int], rng: np.random.Generator) -> Decisions:
        """Change one decision to another valid value; the result is always a new architecture.

        An input is replaced by a feature the cell does not use yet; an output cell's level is
        swapped with the output cell holding the new level (levels stay a permutation).
        """
        result = list(decisions)
        while True:
            step = int(rng.integers(self.num_decisions))
            cell, kind = self.step_info(step)
            if kind in (FIRST, SECOND):
                used = set(result[4 * cell: 4 * cell + 2])
                choices = [i for i in range(self.num_inputs + cell) if i not in used]
            else:
                choices = [c for c in self.valid_choices(step, result) if c != result[step]]
                if kind == LEVEL and self.is_output_cell(cell):
                    choices = [i for i in range(len(self.levels)) if i != result[step]]
            if choices:
                break
        new = choices[int(rng.integers(len(choices)))]
        if kind == LEVEL and self.is_output_cell(cell):
            for other in range(self.num_intermediate, self.num_cells):
                if result[4 * other + 2] == new:
                    result[4 * other + 2] = result[step]
        result[step] = new
        return self.check(result)

    # -- membership, size, description ----------------------------------------------------------

    def contains(self, genotype: Genotype) -> tuple[bool, str]:
        """Whether a (valid) genotype is a point, and when not, the reason in one sentence."""
        return membership(self, genotype)

    def genotype_hash(self, genotype: Genotype) -> str:
        """The hash :meth:`hash` gives the genotype's point (SearchError when it is none)."""
        return self.hash(self.encode(genotype))

    def log10_size(self) -> tuple[float, float]:
        """Bounds on log10 of the number of distinct pyramids. Upper: the decision sequences
        (input pairs ordered). Lower: those divided by the most spellings one pyramid can have
        (2 input orders per cell, the orders of the intermediate and of the output cells)."""
        middle = self.num_intermediate
        levels = len(self.levels) - (1 if self.paper_constraints else 0)
        count = math.factorial(len(self.levels))
        for cell in range(self.num_cells):
            features = self.num_inputs + cell
            count *= features * (features - 1) * len(self.ops) * (levels if cell < middle else 1)
        spellings = 2 ** self.num_cells * math.factorial(middle) * math.factorial(len(self.levels))
        return math.log10(count) - math.log10(spellings), math.log10(count)

    def describe(self) -> dict:
        """What ``nasfpn search space`` prints: the settings, the decisions and the size."""
        low, high = self.log10_size()
        return {"kind": "paper", **self.to_dict(),
                "levels": [level_name(level) for level in self.levels],
                "cells": [self.num_cells, self.num_cells], "max_inputs": 2,
                "log10_pyramids": [low, high], "max_decisions": self.num_decisions,
                "decisions": [{"kind": FIRST, "meaning": "first input: a pyramid input or an "
                                                         "earlier cell"},
                              {"kind": SECOND, "meaning": "second input, another feature"},
                              {"kind": LEVEL, "meaning": "level; output cells take each level "
                                                         "once"},
                              {"kind": OP, "meaning": "binary op"}]}

    def to_dict(self) -> dict:
        return {"num_cells": self.num_cells, "levels": list(self.levels), "ops": list(self.ops),
                "paper_constraints": self.paper_constraints}

    @classmethod
    def from_dict(cls, data: dict) -> "SearchSpace":
        """From :meth:`to_dict`'s object, checked beforehand against :data:`.settings.SPACE_SHAPE`."""
        return cls(int(data["num_cells"]), tuple(data["levels"]), tuple(data["ops"]),
                   bool(data["paper_constraints"]))

