"""Genotype -> ``networkx.DiGraph``, and the resolved cell plan that the compiler builds from.

Graph nodes are feature names. Node attributes:

``level`` (int), ``is_input`` (bool), ``is_output`` (bool), ``op`` (str or None for inputs),
``index`` (position among cells, -1 for inputs), ``line`` (source line, 0 if unknown).

Edge ``u -> v`` means feature ``u`` flows into cell ``v``. Edge attributes: ``implicit`` (True for
edges added by the residual rule), ``arg_index`` (position in the cell's argument list, -1 for
implicit edges). Graph attributes: ``name``, ``inputs``, ``outputs``, ``residual``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .nodes import Genotype

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True)
class ResolvedCell:
    """A cell with its residual inputs made explicit, ready to be compiled."""

    name: str
    op: str
    level: int
    inputs: tuple[str, ...]  # explicit arguments, in written order
    residuals: tuple[str, ...]  # same-level features added by the residual rule (before the ReLU)
    is_output: bool


@dataclass(frozen=True)
class Plan:
    """What the compiler needs: cells in topological (written) order, and where outputs come from."""

    inputs: tuple[str, ...]  # input feature names, finest first ("P3", ...)
    levels: dict[str, int]  # feature name -> level, for inputs and cells
    cells: tuple[ResolvedCell, ...]
    outputs: tuple[str, ...]  # producing feature per output level, finest level first


def residual_inputs(genotype: Genotype) -> dict[str, tuple[str, ...]]:
    """Cell name -> the earlier same-level features the residual rule adds to it.

    The rule (paper default, ``residual unconnected``): when an output cell is built, every earlier
    feature of its level that no cell has used yet is added to it. Those features count as used.
    """
    result: dict[str, tuple[str, ...]] = {cell.name: () for cell in genotype.cells}
    if genotype.residual == "none":
        return result
    unused: dict[int, dict[str, None]] = {}  # level -> features not used yet, in order
    level_of: dict[str, int] = {}
    for level, name in zip(genotype.inputs, genotype.input_names):
        unused.setdefault(level, {})[name] = None
        level_of[name] = level
    for cell in genotype.cells:
        for arg in cell.input_names:
            level = level_of.get(arg)
            if level is not None:
                unused[level].pop(arg, None)
        if cell.is_output:
            pool = unused.get(cell.level, {})
            result[cell.name] = tuple(pool)
            pool.clear()
        unused.setdefault(cell.level, {})[cell.name] = None
        level_of[cell.name] = cell.level
    return result


def to_graph(genotype: Genotype) -> nx.DiGraph:
    """The genotype as a DiGraph (attributes documented in the module docstring).

    Arguments that name nothing known are left out, so an invalid genotype still gives a graph.
    """
    import networkx as nx  # imported here: ``validate``/``fmt`` never need it and start faster

    graph = nx.DiGraph(name=genotype.name, inputs=genotype.inputs, outputs=genotype.outputs,
                       residual=genotype.residual)
    for level, name in zip(genotype.inputs, genotype.input_names):
        graph.add_node(name, level=level, is_input=True, is_output=False, op=None, index=-1, line=0)
    residuals = residual_inputs(genotype)
    for index, cell in enumerate(genotype.cells):
        if cell.name in graph and graph.nodes[cell.name]["is_input"]:
            continue  # an input redefined: reported by validate, not drawn twice
        graph.add_node(cell.name, level=cell.level, is_input=False, is_output=cell.is_output,
                       op=cell.op, index=index, line=cell.span.line)
    for cell in genotype.cells:
        for position, arg in enumerate(cell.input_names):
            if arg in graph and arg != cell.name:
                graph.add_edge(arg, cell.name, implicit=False, arg_index=position)
        for name in residuals.get(cell.name, ()):
            if not graph.has_edge(name, cell.name):
                graph.add_edge(name, cell.name, implicit=True, arg_index=-1)
    return graph


def reaching_outputs(genotype: Genotype,
                     residuals: dict[str, tuple[str, ...]] | None = None) -> set[str]:
    """Names of the features (inputs and cells) from which some output cell is reachable.

    ``residuals`` is :func:`residual_inputs` of the genotype when the caller has it already.
    """
    if residuals is None:
        residuals = residual_inputs(genotype)
    alive: set[str] = set()
    for cell in reversed(genotype.cells):
        if cell.is_output or cell.name in alive:
            alive.add(cell.name)
            alive.update(cell.input_names)
            alive.update(residuals[cell.name])
    return alive


def plan(genotype: Genotype, prune: bool = True) -> Plan:
    """Resolve a *valid* genotype into a :class:`Plan`; ``prune`` drops cells that reach no output."""
    residuals = residual_inputs(genotype)
    alive = reaching_outputs(genotype) if prune else None
    levels = {name: level for level, name in zip(genotype.inputs, genotype.input_names)}
    cells = []
    for cell in genotype.cells:
        levels[cell.name] = cell.level
        if alive is not None and cell.name not in alive:
            continue
        cells.append(ResolvedCell(cell.name, cell.op, cell.level, cell.input_names,
                                  residuals[cell.name], cell.is_output))
    by_level = genotype.output_cells()
    outputs = tuple(by_level[level].name for level in sorted(genotype.outputs))
    return Plan(genotype.input_names, levels, tuple(cells), outputs)
