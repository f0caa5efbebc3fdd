"""The parser: statements, spans, directives, edge cases of text (CRLF, tabs, unicode, NUL),
and the agreement of the fast line matcher with the lark grammar."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark.exceptions import UnexpectedInput

from nasfpn_cli.genotype import Span, check_text
from nasfpn_cli.genotype.parser import grammar_parse_line, match_statement, parse, statement_of_line

NASFPN = """# NAS-FPN
genotype nasfpn
inputs P3 P4 P5 P6 P7
outputs P3 P4 P5 P6 P7

n1 = gp(P6, P4) @ P4
n2 = sum(n1, P4) @ P4
n3 = sum(n2, P3) @ P3 -> out
n4 = sum(n3, n2) @ P4 -> out
n5 = gp(n3, n4) @ P5 -> out
n6 = gp(n2, n5) @ P7 -> out
n7 = gp(n5, n6) @ P6 -> out
"""


def errors(text: str) -> list[tuple[int, int, str]]:
    _, diagnostics = check_text(text, "t.txt")
    return [(d.span.line, d.span.column, d.message) for d in diagnostics if d.is_error]


def test_cells_directives_and_spans() -> None:
    genotype, diagnostics = parse(NASFPN, "n.txt")
    assert diagnostics == []
    assert genotype.name == "nasfpn"
    assert genotype.inputs == genotype.outputs == (3, 4, 5, 6, 7)
    assert genotype.residual == "unconnected" and genotype.stack is None
    assert [c.name for c in genotype.cells] == [f"n{i}" for i in range(1, 8)]
    n1 = genotype.cells[0]
    assert (n1.op, n1.input_names, n1.level, n1.is_output) == ("gp", ("P6", "P4"), 4, False)
    assert n1.span == Span("n.txt", 6, 1, 3)
    assert n1.op_span == Span("n.txt", 6, 6, 8)
    assert n1.inputs[1].span == Span("n.txt", 6, 13, 15)
    assert n1.level_span == Span("n.txt", 6, 19, 21)
    assert genotype.cells[2].is_output
    assert genotype.directive_spans["outputs"] == Span("n.txt", 4, 1, 8)


def test_directives_stack_channels_residual() -> None:
    genotype, diagnostics = parse("stack 7\nchannels 256\nresidual none\n")
    assert diagnostics == []
    assert (genotype.stack, genotype.channels, genotype.residual) == (7, 256, "none")


@pytest.mark.parametrize("text, expected", [
    ("stack 0\n", [(1, 7, "'stack' must be between 1 and 64, not 0")]),
    ("channels 70000\n", [(1, 10, "'channels' must be between 1 and 4096, not 70000")]),
    ("residual sometimes\n", [(1, 10, "unknown residual rule 'sometimes'; expected one of "
                                      "unconnected, none")]),
    ("stack 2\nstack 3\n", [(2, 1, "'stack' is given twice (first on line 1)")]),
    ("inputs P3 P3\n", [(1, 11, "level P3 is listed twice")]),
    ("inputs P3 Q4\n", [(1, 11, "'Q4' is not a pyramid level; levels are written P1 ... P9")]),
    ("n1 = sum(a b) @ P4\n", [(1, 12, "unexpected 'b'; expected ')' or ','")]),
    ("n1 = sum(a, b) @\n", [(1, 17, "unexpected end of line; expected a name")]),
    ("n1 = sum[a, b] @ P4\n", [(1, 9, "unexpected character '['")]),
    ("x = 1\n", [(1, 5, "unexpected '1'; expected a name")]),
    ("stack = sum(P3, P4) @ P3\n", [(1, 7, "unexpected '='; expected a number")]),
])
def test_syntax_and_directive_errors_are_located(text: str, expected) -> None:
    _, diagnostics = parse(text, "t.txt")
    assert [(d.span.line, d.span.column, d.message) for d in diagnostics] == expected


def test_every_bad_line_is_reported_and_names_on_bad_lines_cause_no_cascade() -> None:
    text = NASFPN.replace("n2 = sum(n1, P4) @ P4", "n2 = sum(n1 P4) @ P4").replace(
        "n5 = gp(n3, n4)", "n5 = gp(n3, n4")
    found = errors(text)
    assert [(line, column) for line, column, _ in found] == [(7, 13), (10, 16)]


def test_crlf_tabs_and_unicode_comments() -> None:
    crlf = NASFPN.replace("\n", "\r\n")
    assert parse(crlf)[0] == parse(NASFPN)[0] and parse(crlf)[1] == []
    tabbed = NASFPN.replace(" = ", "\t=\t").replace(", ", ",\t")
    assert parse(tabbed)[0] == parse(NASFPN)[0]
    assert parse("# Pyramide für Tests — 金字塔 ✓\n" + NASFPN)[1] == []


def test_unicode_in_code_lone_cr_and_nul_are_located_errors() -> None:
    assert errors("n1 = sum(P3, Pé) @ P3\n")[0][:2] == (1, 15)
    lone_cr = errors("n1 = sum(P3,\rP4) @ P3\n")[0]
    assert lone_cr == (1, 13, "unexpected character '\\r'")
    assert errors("n1 = sum(P3, P4)\x00 @ P3\n")[0] == (
        1, 17, "NUL byte in the text; is this a text file?")


def test_empty_text_is_one_error() -> None:
    assert errors("") == [(1, 1, "the genotype defines no cells")]
    assert errors("# only a comment\n\n") == [(1, 1, "the genotype defines no cells")]


# -- the fast matcher must accept exactly what the grammar accepts ----------------------------

WORDS = ["n1", "a", "_x9", "P3", "P7", "P10", "sum", "gp", "wsum", "out", "genotype", "inputs",
         "outputs", "stack", "channels", "residual", "none", "unconnected", "4", "007"]
PUNCTUATION = ["=", "(", ")", ",", "@", "->", "-", ">", "#", "# c", " ", "\t", "\f", "\r", "é",
               "[", "\x0b"]
line_pieces = st.lists(st.sampled_from(WORDS + PUNCTUATION + [" ", " "]), max_size=14)


@st.composite
def near_statements(draw) -> str:
    """Well-formed statements with random spacing, and random token soup around them."""
    ws = st.sampled_from(["", " ", "  ", "\t", " \f"])
    name, op, level = (draw(st.sampled_from(WORDS)) for _ in range(3))
    args = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
    sep = draw(ws)
    cell = (f"{draw(ws)}{name}{draw(ws)}={draw(ws)}{op}{draw(ws)}({draw(ws)}"
            + f"{sep},{sep}".join(args) + f"{draw(st.sampled_from(['', ',']))})"
            + f"{draw(ws)}@{draw(ws)}{level}{draw(st.sampled_from(['', ' -> out', '->out']))}"
            + draw(st.sampled_from(["", "  # note", "#"])))
    keyword = draw(st.sampled_from(["genotype", "inputs", "outputs", "stack", "channels",
                                    "residual"]))
    values = draw(st.lists(st.sampled_from(WORDS), min_size=0, max_size=3))
    directive = f"{draw(ws)}{keyword}" + "".join(f"{draw(ws) or ' '}{v}" for v in values)
    soup = "".join(draw(line_pieces))
    return draw(st.sampled_from([cell, directive, soup]))


def grammar_statement(text: str):
    """(kind, words, is_output) as the lark grammar reads the line, or None if it rejects it."""
    try:
        tree = grammar_parse_line(text)
    except UnexpectedInput:
        return None
    words = [str(t) for t in tree.children if not hasattr(t, "data")]
    is_output = any(hasattr(t, "data") for t in tree.children)
    return str(tree.data).removesuffix("_decl"), words, is_output


@settings(max_examples=400, deadline=None)
@given(near_statements())
def test_fast_matcher_agrees_with_the_grammar(text: str) -> None:
    if not text.strip(" \t\f") or text.lstrip(" \t\f").startswith("#"):
        return  # blank and comment-only lines are not statements for either
    fast = match_statement(text, 1)
    slow = grammar_statement(text)
    if fast is None:
        # the fast path may only give up on lines the grammar also rejects
        assert slow is None, (text, slow)
        assert statement_of_line(text, 1) is None
    else:
        assert slow is not None, text
        assert (fast.kind, [t.text for t in fast.values], fast.is_output) == slow
