"""Semantic checks of a parsed genotype; every problem found is reported, not only the first."""
from __future__ import annotations

import difflib

from .nodes import Cell, Genotype, Ref, Span, level_name
from .diagnostics import Diagnostic, DiagnosticSink, sort_diagnostics
from .graph import reaching_outputs, residual_inputs
from .ops import OPS


# "did you mean" costs a scan of every name; a file full of typos gets hints for the first few
_MAX_SUGGESTIONS = 50


def _suggest(word: str, choices) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _directive_span(genotype: Genotype, sink: DiagnosticSink, keyword: str) -> Span:
    """Where a directive such as ``outputs ...`` was written, or line 1 when it is implicit."""
    span = genotype.directive_spans.get(keyword)
    return span if span is not None else sink.span(1, 1)


def validate(genotype: Genotype) -> list[Diagnostic]:
    """Errors and warnings for a genotype, sorted by their place in the source.

    Names in ``genotype.broken_cells`` (cells on lines with a syntax error) count as defined, so
    one typo gives one error, not a cascade. Warnings are looked for only without errors.
    """
    sink = DiagnosticSink(genotype.source, genotype.path)
    if not genotype.inputs:
        sink.error("the genotype has no inputs", _directive_span(genotype, sink, "inputs"))
    if not genotype.cells and not genotype.broken_cells:
        sink.error("the genotype defines no cells", sink.span(1, 1),
                   hint="a cell is written NAME = OP(ARG, ...) @ LEVEL [-> out]")
        return sort_diagnostics(sink.items)
    _check_levels(genotype, sink)
    index_of = _check_names(genotype, sink)
    forward = _check_references(genotype, sink, index_of)
    if forward:
        _report_forward_references(genotype, sink, forward, index_of)
    _check_outputs(genotype, sink)
    if not sink.has_errors and not genotype.broken_cells:
        _warnings(genotype, sink)
    return sort_diagnostics(sink.items)


def _check_levels(genotype: Genotype, sink: DiagnosticSink) -> None:
    """Cell and output levels within the inputs' range; ops known, with the right arity."""
    if genotype.inputs:
        low, high = min(genotype.inputs), max(genotype.inputs)
        span_text = f"{level_name(low)}-{level_name(high)}"
        for level in genotype.outputs:
            if not low <= level <= high:
                sink.error(f"output level {level_name(level)} is outside the inputs' range "
                           f"{span_text}", _directive_span(genotype, sink, "outputs"))
        for cell in genotype.cells:
            if cell.level and not low <= cell.level <= high:
                sink.error(f"level {level_name(cell.level)} is outside the inputs' range "
                           f"{span_text}", cell.level_span)
    for cell in genotype.cells:
        spec = OPS.get(cell.op)
        if spec is None:
            sink.error(f"unknown op '{cell.op}'; known ops: {', '.join(OPS)}", cell.op_span,
                       hint=_suggest(cell.op, OPS))
        elif not spec.accepts(len(cell.inputs)):
            sink.error(f"'{cell.op}' takes {spec.arity_text()}, got {len(cell.inputs)}",
                       cell.op_span)


def _check_names(genotype: Genotype, sink: DiagnosticSink) -> dict[str, int]:
    """Duplicate and input-shadowing cell names; returns name -> index of its first definition."""
    inputs = set(genotype.input_names)
    index_of: dict[str, int] = {}
    for index, cell in enumerate(genotype.cells):
        if cell.name in inputs:
            sink.error(f"'{cell.name}' is an input and cannot be redefined", cell.span,
                       hint="give the cell another name")
        elif cell.name in index_of:
            first = genotype.cells[index_of[cell.name]]
            sink.error(f"duplicate name '{cell.name}' (first defined on line {first.span.line})",
                       cell.span)
        else:
            index_of[cell.name] = index
    return index_of


def _check_references(genotype: Genotype, sink: DiagnosticSink,
                      index_of: dict[str, int]) -> list[tuple[Ref, int]]:
    """Undefined, repeated and self references; returns the forward ones (argument, user index)
    for :func:`_report_forward_references`, which tells loops from plain forward use."""
    inputs = set(genotype.input_names)
    broken = genotype.broken_cells
    forward: list[tuple[Ref, int]] = []
    suggestions_left = _MAX_SUGGESTIONS
    for index, cell in enumerate(genotype.cells):
        seen: set[str] = set()
        for ref in cell.inputs:
            if ref.name in seen:
                sink.error(f"'{ref.name}' is used twice by the same cell", ref.span)
            seen.add(ref.name)
            if ref.name in inputs or ref.name in broken:
                continue
            if ref.name == cell.name:
                sink.error(f"cycle: '{cell.name}' uses itself", ref.span)
            elif ref.name not in index_of:
                hint = None
                if suggestions_left > 0:
                    suggestions_left -= 1
                    hint = _suggest(ref.name, [*inputs, *index_of])
                sink.error(f"undefined reference '{ref.name}'", ref.span, hint=hint)
            elif index_of[ref.name] > index:
                forward.append((ref, index))
    return forward


def _check_outputs(genotype: Genotype, sink: DiagnosticSink) -> None:
    """Exactly one ``-> out`` cell per output level, and none at other levels."""
    producers: dict[int, list[Cell]] = {}
    for cell in genotype.cells:
        if not (cell.is_output and cell.level):
            continue
        if cell.level in genotype.outputs:
            producers.setdefault(cell.level, []).append(cell)
        else:
            sink.error(f"'{cell.name}' is marked as output at {level_name(cell.level)}, which is "
                       "not among the outputs", cell.level_span)
    implicit = "outputs" not in genotype.directive_spans
    for level in genotype.outputs:
        cells = producers.get(level, [])
        if not cells and not genotype.broken_cells:
            sink.error(f"no cell produces output level {level_name(level)}",
                       _directive_span(genotype, sink, "outputs"),
                       hint=f"mark one cell at {level_name(level)} with '-> out'"
                       + (" (without an 'outputs' line the outputs are P3-P7)" if implicit else ""))
        for extra in cells[1:]:
            sink.error(f"output level {level_name(level)} is produced twice (first by "
                       f"'{cells[0].name}' on line {cells[0].span.line})", extra.span)


def _report_forward_references(genotype: Genotype, sink: DiagnosticSink,
                               forward: list[tuple[Ref, int]], index_of: dict[str, int]) -> None:
    """Forward references are errors; those that close a loop are reported as cycles.

    ``forward`` holds (argument, index of the cell using it). The graph is built on cell
    indices, so duplicated or input-shadowing names cannot confuse it.
    """
    import networkx as nx  # only needed for this rare error; keeps ``validate`` fast to start

    cells = genotype.cells
    graph = nx.DiGraph()
    for index, cell in enumerate(cells):
        for ref in cell.inputs:
            source = index_of.get(ref.name)
            if source is not None and source != index:
                graph.add_edge(source, index)
    in_cycle: set[tuple[int, int]] = set()
    for component in nx.strongly_connected_components(graph):
        if len(component) < 2:
            continue
        first = min(component)  # report from the first cell written
        cycle = nx.find_cycle(graph.subgraph(component), source=first)
        names = [cells[u].name for u, _ in cycle] + [cells[first].name]
        span = next(ref.span for ref in cells[first].inputs if index_of.get(ref.name) in component)
        sink.error("cycle: " + " -> ".join(names), span)
        in_cycle.update(graph.subgraph(component).edges)
    for ref, index in forward:
        source = index_of[ref.name]
        if (source, index) in in_cycle:
            continue
        sink.error(f"'{ref.name}' is used before it is defined (line {cells[source].span.line})",
                   ref.span, hint="cells may only use inputs and earlier cells")


def _warnings(genotype: Genotype, sink: DiagnosticSink) -> None:
    residuals = residual_inputs(genotype)
    alive = reaching_outputs(genotype, residuals)
    for cell in genotype.cells:
        if cell.name not in alive:
            sink.warning(f"cell '{cell.name}' reaches no output and will be dropped", cell.span)
    used: set[str] = set()
    for cell in genotype.cells:
        used.update(cell.input_names)
    for names in residuals.values():
        used.update(names)
    for name in genotype.input_names:
        if name not in used:
            sink.warning(f"input {name} is not used by any cell",
                         _directive_span(genotype, sink, "inputs"))

