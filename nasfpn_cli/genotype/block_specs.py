"""The TensorFlow reference format of NAS-FPN: a Python-literal list of block specs.

Each block is ``(level, combine, (i, j), is_output)``: ``level`` is the absolute pyramid level
(3..7), ``combine`` is ``'sum'`` or ``'attention'`` (our ``gp``), ``i`` and ``j`` are offsets
into the list of features built so far, where 0-4 are the inputs P3-P7 and block ``k``
(0-based) becomes offset ``5 + k``. The TF model takes the last five blocks as the outputs and
applies the residual rule to every block marked ``is_output``.

Mapping to the DSL: block ``k`` is cell ``n{k+1}``; ``is_output`` is ``-> out``. Both ops are
symmetric, so offsets are written in ascending order. Block specs cannot hold ``wsum``, cells
with other than two inputs, other pyramid levels, ``residual none`` where the rule would add
something, names, ``stack`` or ``channels``; asking for those is a located error.

The text is read with :func:`ast.parse` (which runs nothing) and :func:`ast.literal_eval`; a
bare list or one assignment ``NAME = [...]`` (as in the TF source) is accepted.
"""
from __future__ import annotations

import ast as pyast
import dataclasses
import re
import warnings

from .nodes import DEFAULT_LEVELS, Cell, Genotype, Ref, Span, level_name
from .diagnostics import Diagnostic, DiagnosticSink, source_lines
from .graph import residual_inputs
from .ops import OPS, block_spec_ops

BLOCK_SPEC_LEVELS = DEFAULT_LEVELS  # offsets 0..4 are P3..P7
MAX_DIGITS = 100  # a longer number in block specs is refused before Python reads it

BlockSpec = tuple[int, str, tuple[int, ...], bool]


# -- genotype -> block specs -------------------------------------------------------------------

def genotype_to_block_specs(genotype: Genotype) -> tuple[list[BlockSpec], list[Diagnostic]]:
    """The block specs of a *valid* genotype, or the located reasons it has none."""
    sink = DiagnosticSink(genotype.source, genotype.path)
    line1 = sink.span(1, 1)
    if set(genotype.inputs) != set(BLOCK_SPEC_LEVELS):
        sink.error("block specs describe pyramids with inputs P3-P7 only",
                   genotype.directive_spans.get("inputs", line1))
    if set(genotype.outputs) != set(BLOCK_SPEC_LEVELS):
        sink.error("block specs describe pyramids with outputs P3-P7 only",
                   genotype.directive_spans.get("outputs", line1))
    if genotype.residual == "none":
        with_rule = residual_inputs(dataclasses.replace(genotype, residual="unconnected"))
        added = {cell: names for cell, names in with_rule.items() if names}
        if added:
            cell, names = next(iter(added.items()))
            sink.error("block specs always apply the residual rule, and here it would add "
                       f"{', '.join(names)} to '{cell}'; this genotype says 'residual none'",
                       genotype.directive_spans.get("residual", line1))
    offset = {level_name(level): level - BLOCK_SPEC_LEVELS[0] for level in BLOCK_SPEC_LEVELS}
    specs: list[BlockSpec] = []
    count = len(genotype.cells)
    first_output = count - len(genotype.outputs)
    for index, cell in enumerate(genotype.cells):
        offset[cell.name] = len(BLOCK_SPEC_LEVELS) + index
        combine = OPS[cell.op].block_spec_name if cell.op in OPS else None
        if combine is None:
            named = [f"'{c}' = '{op}'" if c != op else f"'{c}'" for c, op in block_spec_ops().items()]
            names = " and ".join([", ".join(named[:-1]), named[-1]] if len(named) > 1 else named)
            sink.error(f"block specs have no '{cell.op}' op (only {names})", cell.op_span)
            continue
        if len(cell.inputs) != 2:
            sink.error(f"block specs combine exactly 2 inputs; '{cell.name}' has "
                       f"{len(cell.inputs)}", cell.op_span)
            continue
        if cell.is_output != (index >= first_output):
            sink.error(f"block specs take the last {len(genotype.outputs)} blocks as the outputs; "
                       f"'{cell.name}' " + ("is an output but is not among them" if cell.is_output
                                            else "is among them but is not an output"),
                       cell.span, hint="move the output cells to the end")
            continue
        offsets = tuple(sorted(offset[name] for name in cell.input_names))
        specs.append((cell.level, combine, offsets, cell.is_output))
    return specs, sink.items


def format_block_specs(specs: list[BlockSpec]) -> str:
    """The list as Python literal text, one block per line."""
    body = "".join(f"    {spec!r},\n" for spec in specs)
    return "[\n" + body + "]\n"


# -- block specs -> genotype -------------------------------------------------------------------

class _Reader:
    """Reads block-spec text into a genotype, keeping the place of every element."""

    def __init__(self, text: str, path: str):
        self.text = text
        self.lines = source_lines(text)
        self.sink = DiagnosticSink(text, path, self.lines)

    def span(self, node: pyast.AST) -> Span:
        """A node's place; ast columns count UTF-8 bytes, spans count characters."""
        line = getattr(node, "lineno", 1)
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        encoded = text.encode("utf-8")

        def column(byte_offset: int) -> int:
            return len(encoded[:byte_offset].decode("utf-8", errors="replace")) + 1

        start = column(getattr(node, "col_offset", 0))
        end_line, end_offset = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
        end = column(end_offset) if end_line == line and end_offset is not None else None
        return self.sink.span(line, start, end)

    def list_node(self) -> pyast.AST | None:
        huge = re.search(r"[0-9]{%d,}" % (MAX_DIGITS + 1), self.text)
        if huge is not None:  # before Python's own digit limit turns it into a riddle
            line = self.text.count("\n", 0, huge.start()) + 1
            column = huge.start() - self.text.rfind("\n", 0, huge.start())
            self.sink.error(f"a number of {len(huge.group())} digits: block specs hold small "
                            "numbers (levels, offsets)",
                            self.sink.span(line, column, column + len(huge.group())))
            return None
        try:
            with warnings.catch_warnings():  # e.g. "invalid decimal literal": we report errors
                warnings.simplefilter("ignore")
                module = pyast.parse(self.text, mode="exec")
        except SyntaxError as exc:
            line = exc.lineno or 1
            self.sink.error(f"not a Python literal: {exc.msg}",
                            self.sink.span(line, max(exc.offset or 1, 1)))
            return None
        except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, deep nesting
            self.sink.error(f"not a Python literal: {exc}", self.sink.span(1, 1))
            return None
        body = module.body
        statement = body[0] if len(body) == 1 else None
        if isinstance(statement, pyast.Expr):
            value = statement.value
        elif isinstance(statement, pyast.Assign) and len(statement.targets) == 1:
            value = statement.value
        else:
            where = self.span(body[1]) if len(body) > 1 else self.sink.span(1, 1)
            self.sink.error("block specs are one list literal (optionally 'NAME = [...]')", where)
            return None
        if not isinstance(value, (pyast.List, pyast.Tuple)):
            self.sink.error("block specs are a list of (level, combine, (i, j), is_output)",
                            self.span(value))
            return None
        return value

    def block(self, index: int, node: pyast.AST) -> Cell | None:
        """Cell ``n{index+1}`` from one element, or None (with diagnostics) when it is bad."""
        shape = "(level, 'sum'|'attention', (i, j), is_output)"
        if not isinstance(node, (pyast.Tuple, pyast.List)) or len(node.elts) != 4:
            self.sink.error(f"block {index} must be a 4-tuple {shape}", self.span(node))
            return None
        values = []
        for element in node.elts:
            try:
                values.append(pyast.literal_eval(element))
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                self.sink.error(f"block {index}: only literals are allowed here",
                                self.span(element))
                return None
        level, combine, offsets, is_output = values
        level_node, combine_node, offsets_node, output_node = node.elts
        ok = True
        if type(level) is not int or level not in BLOCK_SPEC_LEVELS:
            self.sink.error(f"block {index}: level must be one of 3..7, not {level!r}",
                            self.span(level_node))
            ok = False
        if combine not in block_spec_ops():
            choices = " or ".join(repr(name) for name in block_spec_ops())
            self.sink.error(f"block {index}: combine must be {choices}, not "
                            f"{combine!r}", self.span(combine_node))
            ok = False
        if type(is_output) is not bool:
            self.sink.error(f"block {index}: is_output must be True or False, not {is_output!r}",
                            self.span(output_node))
            ok = False
        refs = []
        if not isinstance(offsets, (tuple, list)) or len(offsets) != 2:
            self.sink.error(f"block {index}: inputs must be a pair of offsets (i, j)",
                            self.span(offsets_node))
            return None
        available = len(BLOCK_SPEC_LEVELS) + index
        for offset, offset_node in zip(offsets, getattr(offsets_node, "elts", [offsets_node] * 2)):
            if type(offset) is not int or not 0 <= offset < available:
                self.sink.error(f"block {index}: offset {offset!r} is not a feature built before "
                                f"it (0..{available - 1})", self.span(offset_node))
                ok = False
                continue
            refs.append(Ref(self.feature_name(offset), self.span(offset_node)))
        if not ok:
            return None
        return Cell(f"n{index + 1}", block_spec_ops()[combine], tuple(refs), level, is_output,
                    span=self.span(node), op_span=self.span(combine_node),
                    level_span=self.span(level_node))

    @staticmethod
    def feature_name(offset: int) -> str:
        if offset < len(BLOCK_SPEC_LEVELS):
            return level_name(BLOCK_SPEC_LEVELS[offset])
        return f"n{offset - len(BLOCK_SPEC_LEVELS) + 1}"

    def read(self) -> Genotype:
        path = self.sink.path
        node = self.list_node()
        if node is None:
            return Genotype(cells=(), path=path, source=self.text, broken_cells=_UNREADABLE)
        cells, broken = [], set()
        for index, element in enumerate(node.elts):
            cell = self.block(index, element)
            if cell is None:
                broken.add(f"n{index + 1}")
            else:
                cells.append(cell)
        self.check_outputs(cells, len(node.elts))
        return Genotype(cells=tuple(cells), path=path, source=self.text,
                        broken_cells=frozenset(broken))

    def check_outputs(self, cells: list[Cell], count: int) -> None:
        """TF takes the last five blocks as outputs; the DSL marks outputs: they must agree."""
        first_output = count - len(BLOCK_SPEC_LEVELS)
        for cell in cells:
            index = int(cell.name[1:]) - 1
            if cell.is_output and index < first_output:
                self.sink.error(f"block {index} is marked is_output, but only the last "
                                f"{len(BLOCK_SPEC_LEVELS)} blocks are outputs", cell.span)
            elif not cell.is_output and index >= first_output:
                self.sink.error(f"block {index} is one of the last {len(BLOCK_SPEC_LEVELS)} "
                                "blocks, the outputs, but is_output is False", cell.span)


_UNREADABLE = frozenset({"<unreadable block specs>"})


def genotype_from_block_specs(text: str, path: str = "<string>") -> tuple[Genotype,
                                                                           list[Diagnostic]]:
    """Read block-spec text; returns the (possibly partial) genotype and the diagnostics."""
    reader = _Reader(text, path)
    genotype = reader.read()
    return genotype, reader.sink.items
