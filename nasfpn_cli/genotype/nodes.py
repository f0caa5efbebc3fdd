"""The genotype as frozen dataclasses; every node keeps the span of source it came from."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping

LEVEL_RANGE = range(1, 10)  # P1..P9 are accepted by the language; the default pyramid is P3..P7
DEFAULT_LEVELS = (3, 4, 5, 6, 7)
RESIDUAL_MODES = ("unconnected", "none")
# directive keywords: a statement starting with one of these is a directive, never a cell
DIRECTIVES = ("genotype", "inputs", "outputs", "stack", "channels", "residual")


@dataclass(frozen=True)
class Span:
    """A place in a source file: 1-based line and column, end exclusive on the same line."""

    file: str
    line: int
    column: int
    end_column: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NO_SPAN = Span("<generated>", 0, 0)


def level_name(level: int) -> str:
    """``4`` -> ``"P4"``."""
    return f"P{level}"


@dataclass(frozen=True)
class Ref:
    """A reference to an input (``P4``) or an earlier cell (``n2``) as an argument."""

    name: str
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Cell:
    """A merging cell: ``NAME = OP(ARG, ...) @ LEVEL [-> out]``."""

    name: str
    op: str
    inputs: tuple[Ref, ...]
    level: int
    is_output: bool = False
    span: Span = field(default=NO_SPAN, compare=False)
    op_span: Span = field(default=NO_SPAN, compare=False)
    level_span: Span = field(default=NO_SPAN, compare=False)

    @cached_property
    def input_names(self) -> tuple[str, ...]:
        """The argument names, in written order (cached: validation asks often)."""
        return tuple(ref.name for ref in self.inputs)


@dataclass(frozen=True)
class Genotype:
    """A parsed pyramid architecture.

    ``inputs``/``outputs`` are pyramid levels (3 means P3). ``stack``, ``channels`` are optional
    defaults written in the file; ``residual`` is the residual rule ("unconnected" by default).
    Equality ignores spans and the file's path, so ``parse(fmt(x)) == parse(x)``.
    """

    cells: tuple[Cell, ...]
    inputs: tuple[int, ...] = DEFAULT_LEVELS
    outputs: tuple[int, ...] = DEFAULT_LEVELS
    name: str | None = None
    stack: int | None = None
    channels: int | None = None
    residual: str = "unconnected"
    path: str = field(default="<string>", compare=False)
    source: str = field(default="", compare=False, repr=False)
    # where each directive was written (keyword -> span), for locating diagnostics about it
    directive_spans: Mapping[str, Span] = field(default_factory=dict, compare=False,
                                                 repr=False)
    # names of cells whose line has a syntax error: they exist, so using them is no further error
    broken_cells: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(level_name(level) for level in self.inputs)

    def cell(self, name: str) -> Cell:
        for cell in self.cells:
            if cell.name == name:
                return cell
        raise KeyError(name)

    def output_cells(self) -> dict[int, Cell]:
        """Output level -> the cell marked ``-> out`` at that level (valid genotypes only)."""
        return {cell.level: cell for cell in self.cells if cell.is_output}
