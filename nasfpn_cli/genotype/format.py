"""One canonical text for a genotype.

Two entry points:

* :func:`format_source` formats a file the way ``nasfpn fmt`` does: statements keep their order
  and comments stay where they were, but every statement is spelled one way
  (``n1 = gp(P6, P4) @ P4 -> out``), comments start with ``# ``, trailing comments sit two
  spaces after the code, runs of blank lines shrink to one, the file has no leading or trailing
  blank lines, a blank line separates the directives from the first cell, and lines end with
  ``\\n``. ``parse(format_source(x)) == parse(x)`` and formatting twice changes nothing.
* :func:`format_genotype` writes a :class:`Genotype` built in memory (conversion, search):
  directives in a fixed order, a blank line, then one line per cell.
"""
from __future__ import annotations

from .nodes import Cell, Genotype, level_name
from .diagnostics import raise_for_errors, source_lines
from .parser import Statement, parse, statement_of_line

DEFAULT_RESIDUAL = "unconnected"


def format_cell(cell: Cell) -> str:
    """``NAME = OP(A, B) @ LEVEL [-> out]``."""
    return _cell_text(cell.name, cell.op, cell.input_names, level_name(cell.level), cell.is_output)


def _cell_text(name: str, op: str, args, level: str, is_output: bool) -> str:
    text = f"{name} = {op}({', '.join(args)}) @ {level}"
    return text + " -> out" if is_output else text


def format_genotype(genotype: Genotype) -> str:
    """The canonical DSL text of a genotype (no comments: it has none)."""
    lines = []
    if genotype.name:
        lines.append(f"genotype {genotype.name}")
    for keyword, levels in (("inputs", genotype.inputs), ("outputs", genotype.outputs)):
        if levels:
            lines.append(f"{keyword} " + " ".join(level_name(level) for level in levels))
    if genotype.stack is not None:
        lines.append(f"stack {genotype.stack}")
    if genotype.channels is not None:
        lines.append(f"channels {genotype.channels}")
    if genotype.residual != DEFAULT_RESIDUAL:
        lines.append(f"residual {genotype.residual}")
    if genotype.cells:
        lines.append("")
        lines.extend(format_cell(cell) for cell in genotype.cells)
    return "\n".join(lines) + "\n"


def _statement_text(statement: Statement) -> str:
    """The canonical spelling of one well-formed statement."""
    words = [token.text for token in statement.values]
    if statement.kind == "cell":
        name, op, *args, level = words
        return _cell_text(name, op, args, level, statement.is_output)
    if statement.kind in ("stack", "channels"):
        words = [str(int(words[0]))]
    return " ".join([statement.kind, *words])


def _comment_text(comment: str) -> str:
    """``#note`` -> ``# note``; ``#!``, ``#:`` and ``##`` rulers are left as written."""
    comment = comment.rstrip()
    body = comment[1:]
    if body and body[0] not in " #!:":
        return "# " + body.lstrip("\t")
    return comment


def format_source(source: str, path: str = "<string>") -> str:
    """Canonical text of a DSL file, comments kept; raises GenotypeError on a syntax error.

    Only the syntax must be valid: a genotype with, say, an undefined reference is formatted too
    (``nasfpn validate`` reports those).
    """
    _, diagnostics = parse(source, path)
    raise_for_errors(diagnostics, path)

    out: list[str] = []
    pending_blank = False
    last_kind: str | None = None  # kind of the last statement written
    comment_block_start: int | None = None  # index in ``out`` of comments right above a statement
    for number, line in enumerate(source_lines(source), start=1):
        code, hash_, comment = line.partition("#")
        has_code = bool(code.strip(" \t\f"))
        statement = statement_of_line(code, number) if has_code else None
        if has_code and statement is None:  # parse() accepted the file, so this cannot happen
            raise AssertionError(f"{path}:{number}: line parsed as a whole but not alone")
        if statement is None and not hash_:
            pending_blank = bool(out)
            comment_block_start = None
            continue
        if pending_blank:
            out.append("")
            pending_blank = False
        if statement is None:  # a comment line
            if comment_block_start is None:
                comment_block_start = len(out)
            out.append(_comment_text(hash_ + comment))
            continue
        if statement.kind == "cell" and last_kind not in (None, "cell"):
            # the first cell after the directives: make sure a blank line separates them
            at = len(out) if comment_block_start is None else comment_block_start
            if at > 0 and out[at - 1] != "":
                out.insert(at, "")
        text = _statement_text(statement)
        if hash_:
            text += "  " + _comment_text(hash_ + comment)
        out.append(text)
        last_kind = statement.kind
        comment_block_start = None
    return "\n".join(out) + "\n" if out else ""
