"""Text -> :class:`Genotype`, with every syntax problem reported as a located diagnostic.

The grammar is the data file ``genotype.lark`` (LALR, one pass). When the whole file does not
parse, each line is parsed on its own so that every bad line is reported, not only the first.
"""
from __future__ import annotations

import functools
import re
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .ast import LEVEL_RANGE, RESIDUAL_MODES, Cell, Genotype, Ref, Span
from .diagnostics import Diagnostic, DiagnosticSink

_LEVEL_RE = re.compile(r"P([0-9]+)$")

# how terminals are named in "expected ..." messages
_TERMINAL_NAMES = {
    "NAME": "a name",
    "INT": "a number",
    "_NL": "end of line",
    "$END": "end of file",
    "EQUAL": "'='",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "__ANON_0": "'->'",
    "OUT": "'out'",
}


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("nasfpn_cli.genotype").joinpath("genotype.lark").read_text()
    return Lark(grammar, parser="lalr", start=["start", "statement"], propagate_positions=False,
                maybe_placeholders=False)


def parse_level(text: str) -> int | None:
    """``"P4"`` -> 4; None when the text is not a level name in the accepted range."""
    match = _LEVEL_RE.match(text)
    if not match:
        return None
    level = int(match.group(1))
    return level if level in LEVEL_RANGE else None


def _token_span(sink: DiagnosticSink, token: Token) -> Span:
    return sink.span(token.line, token.column, token.column + len(token))


def _describe_expected(expected: set[str], parser: Lark) -> str:
    names = []
    for terminal in sorted(expected):
        if terminal in _TERMINAL_NAMES:
            names.append(_TERMINAL_NAMES[terminal])
            continue
        try:
            pattern = parser.get_terminal(terminal).pattern
        except KeyError:
            names.append(terminal)
            continue
        names.append(f"'{pattern.value}'" if pattern.type == "str" else terminal.lower())
    names = sorted(set(names))
    if len(names) > 4:
        return ", ".join(names[:4]) + " or ..."
    return " or ".join(names)


def _syntax_diagnostic(exc: UnexpectedInput, sink: DiagnosticSink, line_offset: int = 0) -> None:
    parser = _parser()
    line = exc.line + line_offset if exc.line and exc.line > 0 else line_offset + 1
    column = exc.column if exc.column and exc.column > 0 else 1
    if isinstance(exc, UnexpectedCharacters):
        char = exc.char if hasattr(exc, "char") else "?"
        sink.error(f"unexpected character {char!r}", sink.span(line, column, column + 1),
                   hint=None if char not in "[]{}" else "arguments are written OP(a, b)")
    elif isinstance(exc, UnexpectedEOF):
        text_line = sink.lines[line - 1] if 0 < line <= len(sink.lines) else ""
        end = len(text_line.split("#", 1)[0].rstrip()) + 1
        sink.error(f"unexpected end of line; expected {_describe_expected(set(exc.expected), parser)}",
                   sink.span(line, max(end, 1), max(end, 1) + 1))
    elif isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type in ("_NL", "$END"):
            got = "end of line"
            width = 1
        else:
            got = repr(str(token))
            width = max(len(token), 1)
        expected = _describe_expected(set(exc.expected), parser)
        sink.error(f"unexpected {got}; expected {expected}", sink.span(line, column, column + width))
    else:  # pragma: no cover - lark has no other UnexpectedInput kinds today
        sink.error("syntax error", sink.span(line, column))


def _syntax_errors_per_line(source: str, sink: DiagnosticSink) -> list[tuple[int, Tree]]:
    """Parse each line alone, recording every syntax error; returns the statements that parse."""
    parser = _parser()
    statements = []
    for index, text in enumerate(source.splitlines()):
        code = text.split("#", 1)[0]
        if not code.strip():
            continue
        try:
            tree = parser.parse(text, start="statement")
        except UnexpectedInput as exc:
            _syntax_diagnostic(exc, sink, line_offset=index)
            continue
        statements.append((index, tree))
    return statements


def _shift(token, line_offset: int):
    if line_offset and isinstance(token, Token):
        token.line = token.line + line_offset
    return token


def parse(source: str, path: str = "<string>") -> tuple[Genotype, list[Diagnostic]]:
    """Parse genotype text. Always returns a genotype (possibly partial) and the syntax diagnostics.

    Semantic checks (references, arity, outputs, cycles) are done by :func:`validate`.
    """
    sink = DiagnosticSink(source, path)
    if "\x00" in source:
        sink.error("the file contains NUL bytes; is it a text file?", sink.span(1, 1))
        return Genotype(cells=(), path=path, source=source), sink.items
    try:
        tree = _parser().parse(source + "\n", start="start")
        statements = [(0, child) for child in tree.children]
    except UnexpectedInput:
        statements = _syntax_errors_per_line(source, sink)
    builder = _Builder(sink)
    for line_offset, statement in statements:
        builder.statement(statement, line_offset)
    return builder.genotype(path, source), sink.items


class _Builder:
    """Turns statement trees into a Genotype, checking what the grammar cannot (levels, directives)."""

    def __init__(self, sink: DiagnosticSink):
        self.sink = sink
        self.cells: list[Cell] = []
        self.seen_directives: dict[str, Span] = {}
        self.values: dict[str, object] = {}

    def _once(self, keyword: str, span: Span) -> bool:
        if keyword in self.seen_directives:
            first = self.seen_directives[keyword]
            self.sink.error(f"'{keyword}' is given twice (first on line {first.line})", span)
            return False
        self.seen_directives[keyword] = span
        return True

    def _level(self, token: Token) -> int:
        level = parse_level(str(token))
        if level is None:
            self.sink.error(f"{str(token)!r} is not a pyramid level; levels are written P1 ... P9",
                            _token_span(self.sink, token))
            return 0
        return level

    def _levels(self, tokens: list[Token]) -> tuple[int, ...]:
        levels = []
        for token in tokens:
            level = self._level(token)
            if level and level in levels:
                self.sink.error(f"level {token} is listed twice", _token_span(self.sink, token))
            elif level:
                levels.append(level)
        return tuple(levels)

    def statement(self, tree: Tree, line_offset: int) -> None:
        tokens = [_shift(t, line_offset) for t in tree.children]
        kind = tree.data
        first = tokens[0] if tokens else None
        span = _token_span(self.sink, first) if first is not None else self.sink.span(1, 1)
        line_span = self.sink.span(span.line, 1)
        if kind == "cell":
            self._cell(tokens)
        elif kind == "genotype_decl":
            if self._once("genotype", line_span):
                self.values["name"] = str(tokens[0])
        elif kind in ("inputs_decl", "outputs_decl"):
            keyword = kind.split("_")[0]
            if self._once(keyword, line_span):
                self.values[keyword] = self._levels(tokens)
        elif kind in ("stack_decl", "channels_decl"):
            keyword = kind.split("_")[0]
            value = int(str(tokens[0]))
            if value < 1:
                self.sink.error(f"'{keyword}' must be at least 1, not {value}", span)
            elif keyword == "channels" and value > 65536:
                self.sink.error(f"'channels' of {value} is not a sensible width", span)
            elif keyword == "stack" and value > 1024:
                self.sink.error(f"'stack' of {value} is not a sensible depth", span)
            elif self._once(keyword, line_span):
                self.values[keyword] = value
        elif kind == "residual_decl":
            mode = str(tokens[0])
            if mode not in RESIDUAL_MODES:
                self.sink.error(f"unknown residual rule {mode!r}; expected one of "
                                + ", ".join(RESIDUAL_MODES), span)
            elif self._once("residual", line_span):
                self.values["residual"] = mode

    def _cell(self, tokens: list[Token]) -> None:
        name, op, *rest = tokens
        is_output = bool(rest) and isinstance(rest[-1], Tree)
        if is_output:
            rest = rest[:-1]
        *args, level_token = rest
        self.cells.append(Cell(
            name=str(name),
            op=str(op),
            inputs=tuple(Ref(str(a), _token_span(self.sink, a)) for a in args),
            level=self._level(level_token),
            is_output=is_output,
            span=_token_span(self.sink, name),
            op_span=_token_span(self.sink, op),
            level_span=_token_span(self.sink, level_token),
        ))

    def genotype(self, path: str, source: str) -> Genotype:
        kwargs = dict(self.values)
        return Genotype(cells=tuple(self.cells), path=path, source=source, **kwargs)
