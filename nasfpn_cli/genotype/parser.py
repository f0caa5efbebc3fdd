"""Text -> :class:`Genotype`, with every syntax problem reported as a located diagnostic.

The language is line based: every statement is one line (see ``genotype.lark``, the grammar).
Each line is first matched by a regular expression that accepts exactly the well-formed
statements of the grammar (a property test checks the two agree); only lines it rejects go
to the lark parser, which explains what is wrong. So valid files never import lark, a
20,000-cell file parses in well under a second, and every bad line is reported, not only the
first.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, NamedTuple

from ..limits import MAX_CHANNELS, MAX_STACK
from .nodes import DIRECTIVES, LEVEL_RANGE, RESIDUAL_MODES, Cell, Genotype, Ref, Span
from .diagnostics import Diagnostic, DiagnosticSink, source_lines

if TYPE_CHECKING:  # lark is imported only when a line does not parse
    from lark import Lark

NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"
_NAME_RE = re.compile(NAME_PATTERN)
_LEVEL_RE = re.compile(r"P([0-9])\Z")
_WS = r"[ \t\f]*"  # the whitespace the grammar ignores
_END = rf"{_WS}(?:#.*)?\Z"  # optional comment, then the end of the line
_BLANK_RE = re.compile(_END)
_CELL_RE = re.compile(
    rf"{_WS}(?P<name>{NAME_PATTERN}){_WS}={_WS}(?P<op>{NAME_PATTERN}){_WS}\(({_WS})"
    rf"(?P<args>{NAME_PATTERN}(?:{_WS},{_WS}{NAME_PATTERN})*){_WS}(?:,{_WS})?\){_WS}"
    rf"@{_WS}(?P<level>{NAME_PATTERN})(?:{_WS}(?P<out>->){_WS}out)?{_END}")
_DIRECTIVE_RE = re.compile(
    rf"{_WS}(?P<keyword>genotype|inputs|outputs|residual|stack|channels)"
    rf"(?P<values>(?:[ \t\f]+(?:{NAME_PATTERN}|[0-9]+))+){_END}")
_VALUE_RE = re.compile(rf"{NAME_PATTERN}|[0-9]+")
_NEGATIVE_RE = re.compile(rf"{_WS}(?P<keyword>stack|channels)[ \t\f]+(?P<number>-[0-9]+){_END}")
# the range of the number directives
INT_LIMITS = {"stack": MAX_STACK, "channels": MAX_CHANNELS}  # one limit: limits.py
_CELL_NAME_RE = re.compile(rf"{_WS}({NAME_PATTERN}){_WS}=")

# what each directive takes: "name" (one NAME), "names" (one or more), "int" (one INT)
_DIRECTIVE_VALUES = {"genotype": "name", "inputs": "names", "outputs": "names",
                     "residual": "name", "stack": "int", "channels": "int"}

# how terminals are named in "expected ..." messages
_TERMINAL_NAMES = {
    "NAME": "a name",
    "INT": "a number",
    "_NL": "end of line",
    "$END": "end of line",
    "EQUAL": "'='",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "__ANON_0": "'->'",
    "OUT": "'out'",
}


class Token(NamedTuple):
    """A word of a statement and the 1-based column where it starts (a tuple: made by the
    hundred thousand for big files)."""

    text: str
    column: int


@dataclass(frozen=True)
class Statement:
    """One parsed line: a directive (``kind`` is its keyword) or a ``cell``."""

    kind: str
    line: int
    keyword: Token | None  # the directive keyword (None for cells)
    values: tuple[Token, ...]  # directive values, or cell: name, op, args..., level
    is_output: bool = False


def parse_level(text: str) -> int | None:
    """``"P4"`` -> 4; None when the text is not a level name in the accepted range."""
    match = _LEVEL_RE.match(text)
    if not match:
        return None
    level = int(match.group(1))
    return level if level in LEVEL_RANGE else None


def match_statement(text: str, line: int) -> Statement | None:
    """The statement on a line when it is well formed, else None (blank lines give None too)."""
    match = _CELL_RE.match(text)
    if match:
        if match.group("name") in DIRECTIVES:
            return None  # ``stack = ...``: the grammar reads the keyword; let lark explain
        args_start = match.start("args")
        args = tuple(Token(m.group(), args_start + m.start() + 1)
                     for m in _NAME_RE.finditer(match.group("args")))
        values = (Token(match.group("name"), match.start("name") + 1),
                  Token(match.group("op"), match.start("op") + 1),
                  *args,
                  Token(match.group("level"), match.start("level") + 1))
        return Statement("cell", line, None, values, match.group("out") is not None)
    match = _DIRECTIVE_RE.match(text)
    if match:
        keyword = match.group("keyword")
        start = match.start("values")
        values = tuple(Token(m.group(), start + m.start() + 1)
                       for m in _VALUE_RE.finditer(match.group("values")))
        shape = _DIRECTIVE_VALUES[keyword]
        is_int = [v.text[0].isdigit() for v in values]
        if shape == "int" and (len(values) != 1 or not is_int[0]):
            return None
        if shape == "name" and (len(values) != 1 or is_int[0]):
            return None
        if shape == "names" and any(is_int):
            return None
        return Statement(keyword, line, Token(keyword, match.start("keyword") + 1), values)
    return None


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    from lark import Lark

    grammar = resources.files("nasfpn_cli.genotype").joinpath("genotype.lark").read_text()
    return Lark(grammar, parser="lalr", start=["start", "statement"], propagate_positions=False,
                maybe_placeholders=False, cache=True)


def grammar_parse_line(text: str):
    """Parse one line with the lark grammar (start symbol ``statement``); raises lark errors."""
    return _parser().parse(text, start="statement")


def _statement_from_tree(tree, text: str, line: int) -> Statement:
    """A lark statement tree -> :class:`Statement` (for lines the regular expressions missed)."""
    tokens = [child for child in tree.children if not hasattr(child, "data")]
    values = tuple(Token(str(t), t.column) for t in tokens)
    if tree.data == "cell":
        is_output = any(hasattr(child, "data") for child in tree.children)
        return Statement("cell", line, None, values, is_output)
    keyword = str(tree.data).removesuffix("_decl")
    return Statement(keyword, line, Token(keyword, text.find(keyword) + 1), values)


def statement_of_line(text: str, line: int) -> Statement | None:
    """The statement on a line the grammar accepts (None for blank, comment-only or bad lines)."""
    statement = match_statement(text, line)
    if statement is not None or _BLANK_RE.match(text):
        return statement
    from lark.exceptions import UnexpectedInput

    try:
        return _statement_from_tree(grammar_parse_line(text), text, line)
    except UnexpectedInput:
        return None


def _describe_expected(expected: set[str]) -> str:
    parser = _parser()
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


def _shown(number: str, digits: int = 20) -> str:
    """A number as quoted in a message: very long ones cut, with their length."""
    return number if len(number) <= digits else f"{number[:digits]}... ({len(number)} digits)"


def _syntax_error(text: str, line: int, sink: DiagnosticSink) -> Statement | None:
    """Explain why a line the regular expressions rejected is wrong (or parse it, if it is not)."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

    negative = _NEGATIVE_RE.match(text)
    if negative:  # "stack -3": say what is wrong with the number, not just "unexpected '-'"
        keyword, number = negative.group("keyword"), negative.group("number")
        column = negative.start("number") + 1
        sink.error(f"'{keyword}' must be between 1 and {INT_LIMITS[keyword]}, not "
                   f"{_shown(number)}", sink.span(line, column, column + len(number)))
        return None
    try:
        return _statement_from_tree(grammar_parse_line(text), text, line)
    except UnexpectedInput as exc:
        column = exc.column if isinstance(exc.column, int) and exc.column > 0 else 1
        if isinstance(exc, UnexpectedCharacters):
            char = text[column - 1] if column <= len(text) else "?"
            hint = None
            if char in "[]{}":
                hint = "arguments are written OP(a, b)"
            elif char == "\r":
                hint = "lines end with \\n or \\r\\n; a lone \\r is not allowed"
            sink.error(f"unexpected character {char!r}", sink.span(line, column, column + 1),
                       hint=hint)
        elif isinstance(exc, UnexpectedToken) and exc.token.type not in ("_NL", "$END"):
            token = exc.token
            sink.error(f"unexpected {str(token)!r}; expected {_describe_expected(set(exc.expected))}",
                       sink.span(line, column, column + max(len(token), 1)))
        else:  # the line ended too early
            expected = getattr(exc, "expected", None) or getattr(exc, "accepts", None) or set()
            end = len(text.split("#", 1)[0].rstrip()) + 1
            sink.error(f"unexpected end of line; expected {_describe_expected(set(expected))}",
                       sink.span(line, end, end + 1))
        return None


def parse(source: str, path: str = "<string>") -> tuple[Genotype, list[Diagnostic]]:
    """Parse genotype text. Always returns a genotype (possibly partial) and the syntax diagnostics.

    Semantic checks (references, arity, outputs, cycles) are done by :func:`validate`.
    """
    lines = source_lines(source)
    sink = DiagnosticSink(source, path, lines)
    builder = _Builder(sink)
    broken: set[str] = set()
    for number, text in enumerate(lines, start=1):
        statement = match_statement(text, number)
        if statement is None:
            if _BLANK_RE.match(text):
                continue
            nul = text.find("\x00")
            if nul >= 0:
                sink.error("NUL byte in the text; is this a text file?",
                           sink.span(number, nul + 1, nul + 2))
                statement = None
            else:
                statement = _syntax_error(text, number, sink)
            if statement is None:
                name = _CELL_NAME_RE.match(text)
                if name:
                    broken.add(name.group(1))
                continue
        builder.statement(statement)
    return builder.genotype(path, source, frozenset(broken)), sink.items


class _Builder:
    """Turns statements into a Genotype, checking what the grammar cannot (levels, directives)."""

    def __init__(self, sink: DiagnosticSink):
        self.sink = sink
        self.path = sink.path
        self.cells: list[Cell] = []
        self.directive_spans: dict[str, Span] = {}
        self.values: dict[str, object] = {}

    def _span(self, line: int, token: Token) -> Span:
        text, column = token
        return Span(self.path, line, column, column + len(text))

    def _once(self, keyword: str, span: Span) -> bool:
        if keyword in self.directive_spans:
            first = self.directive_spans[keyword]
            self.sink.error(f"'{keyword}' is given twice (first on line {first.line})", span)
            return False
        self.directive_spans[keyword] = span
        return True

    def _level(self, line: int, token: Token) -> int:
        level = parse_level(token.text)
        if level is None:
            self.sink.error(f"{token.text!r} is not a pyramid level; levels are written "
                            f"P{LEVEL_RANGE[0]} ... P{LEVEL_RANGE[-1]}", self._span(line, token))
            return 0
        return level

    def _levels(self, line: int, tokens: tuple[Token, ...]) -> tuple[int, ...]:
        levels: list[int] = []
        for token in tokens:
            level = self._level(line, token)
            if level and level in levels:
                self.sink.error(f"level {token.text} is listed twice", self._span(line, token))
            elif level:
                levels.append(level)
        return tuple(levels)

    def statement(self, statement: Statement) -> None:
        if statement.kind == "cell":
            self._cell(statement)
            return
        line, keyword, values = statement.line, statement.kind, statement.values
        span = self._span(line, statement.keyword)
        value_span = self._span(line, values[0])
        if keyword == "genotype":
            if self._once(keyword, span):
                self.values["name"] = values[0].text
        elif keyword in ("inputs", "outputs"):
            levels = self._levels(line, values)
            if self._once(keyword, span):
                self.values[keyword] = levels
        elif keyword in ("stack", "channels"):
            text = values[0].text
            limit = INT_LIMITS[keyword]
            # a number of thousands of digits must not reach int(): Python refuses to convert it
            digits = text.lstrip("0") or "0"  # leading zeros are no size ("stack 007")
            value = int(digits) if len(digits) <= len(str(limit)) else limit + 1
            if not 1 <= value <= limit:
                self.sink.error(f"'{keyword}' must be between 1 and {limit}, not {_shown(text)}",
                                value_span)
            elif self._once(keyword, span):
                self.values[keyword] = value
        elif keyword == "residual":
            mode = values[0].text
            if mode not in RESIDUAL_MODES:
                self.sink.error(f"unknown residual rule {mode!r}; expected one of "
                                + ", ".join(RESIDUAL_MODES), value_span)
            elif self._once(keyword, span):
                self.values["residual"] = mode

    def _cell(self, statement: Statement) -> None:
        line = statement.line
        name, op, *args, level = statement.values
        self.cells.append(Cell(
            name=name.text,
            op=op.text,
            inputs=tuple(Ref(arg.text, self._span(line, arg)) for arg in args),
            level=self._level(line, level),
            is_output=statement.is_output,
            span=self._span(line, name),
            op_span=self._span(line, op),
            level_span=self._span(line, level),
        ))

    def genotype(self, path: str, source: str, broken: frozenset[str]) -> Genotype:
        return Genotype(cells=tuple(self.cells), path=path, source=source,
                        directive_spans=dict(self.directive_spans), broken_cells=broken,
                        **self.values)  # type: ignore[arg-type]
