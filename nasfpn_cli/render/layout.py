"""Where each feature of a (stacked) pyramid goes in a drawing: a grid of levels x columns.

The layout follows the paper's figures: one row per pyramid level (the coarsest on top), the
inputs in the first column, then one column per cell in written order, then the outputs.
With ``stacks > 1`` the copies are chained: the outputs of copy k (a column of their own) are
the inputs of copy k+1. Nothing here knows about graphviz; :mod:`.dot` turns a layout into text.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import UsageError
from ..genotype import Genotype, level_name
from ..genotype.graph import reaching_outputs, residual_inputs


@dataclass(frozen=True)
class Node:
    """One drawn feature."""

    id: str
    label: str
    kind: str  # "input" | "cell" | "output"
    level: int
    column: int
    op: str | None = None
    dead: bool = False  # a cell that reaches no output (the compiler drops it)


@dataclass(frozen=True)
class Edge:
    """Feature ``source`` flows into ``target``; ``implicit`` edges come from the residual rule."""

    source: str
    target: str
    implicit: bool = False


@dataclass
class Layout:
    """Nodes on a grid plus the edges between them, and a caption for each block of columns."""

    title: str
    levels: tuple[int, ...]  # rows, finest first
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    captions: list[tuple[int, int, str]] = field(default_factory=list)  # (first, last col, text)

    @property
    def columns(self) -> int:
        return max((node.column for node in self.nodes), default=0) + 1

    @property
    def ops(self) -> list[str]:
        """The ops used, in order of first use."""
        seen: dict[str, None] = {}
        for node in self.nodes:
            if node.op:
                seen.setdefault(node.op, None)
        return list(seen)


def pyramid_layout(genotype: Genotype, stacks: int = 1) -> Layout:
    """The drawing layout of ``stacks`` chained copies of a (valid) genotype."""
    if stacks < 1:
        raise UsageError(f"--stack must be at least 1, not {stacks}")
    if stacks > 1:
        missing = [level_name(lv) for lv in genotype.inputs if lv not in genotype.outputs]
        if missing:
            raise UsageError(f"cannot chain copies of {genotype.name or genotype.path}: its input "
                             f"level(s) {', '.join(missing)} are not among its outputs")
    levels = tuple(sorted(set(genotype.inputs) | {cell.level for cell in genotype.cells}
                          | set(genotype.outputs)))
    title = genotype.name or genotype.path
    layout = Layout(title=f"{title} ({stacks} stacked)" if stacks > 1 else title, levels=levels)
    residuals = residual_inputs(genotype)
    alive = reaching_outputs(genotype)
    producers = genotype.output_cells()

    # feature name -> node id of the current copy's inputs
    current = {}
    for level, name in zip(genotype.inputs, genotype.input_names):
        node_id = f"in_{name}"
        layout.nodes.append(Node(node_id, name, "input", level, 0))
        current[name] = node_id
    layout.captions.append((0, 0, "inputs"))

    column = 1
    for copy in range(1, stacks + 1):
        prefix = f"s{copy}_" if stacks > 1 else ""
        ids = dict(current)
        first = column
        for cell in genotype.cells:
            node_id = prefix + cell.name
            ids[cell.name] = node_id
            layout.nodes.append(Node(node_id, cell.name, "cell", cell.level, column, cell.op,
                                     dead=cell.name not in alive))
            for arg in cell.input_names:
                layout.edges.append(Edge(ids[arg], node_id))
            for name in residuals[cell.name]:
                layout.edges.append(Edge(ids[name], node_id, implicit=True))
            column += 1
        if stacks > 1:
            layout.captions.append((first, column - 1, f"stack {copy}"))
        # this copy's outputs: the next copy's inputs, or the drawing's outputs
        out_prefix = f"s{copy}_out_" if stacks > 1 and copy < stacks else "out_"
        current = {}
        for level in sorted(genotype.outputs):
            node_id = f"{out_prefix}{level_name(level)}"
            layout.nodes.append(Node(node_id, level_name(level), "output", level, column))
            layout.edges.append(Edge(ids[producers[level].name], node_id))
            current[level_name(level)] = node_id
        layout.captions.append((column, column, "outputs" if copy == stacks else f"{copy} -> {copy + 1}"))
        column += 1
    return layout
