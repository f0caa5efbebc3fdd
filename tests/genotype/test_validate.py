"""Semantic checks: every error kind, located; warnings; source order; a 20,000-cell file."""
from __future__ import annotations

import time

import pytest

from nasfpn_cli.errors import GenotypeError
from nasfpn_cli.genotype import check_text, parse_genotype

from .helpers import generated_genotype

HEAD = "inputs P3 P4 P5\noutputs P3 P4 P5\n"
OK_TAIL = "z3 = sum(P3, P4) @ P3 -> out\nz4 = sum(z3, P4) @ P4 -> out\nz5 = sum(z4, P5) @ P5 -> out\n"


def diagnostics(text: str, severity: str = "error") -> list[tuple[int, int, str]]:
    _, found = check_text(text, "t.txt")
    return [(d.span.line, d.span.column, d.message) for d in found if d.severity == severity]


@pytest.mark.parametrize("body, expected", [
    ("a = sum(P3, nope) @ P3\n", (3, 13, "undefined reference 'nope'")),
    ("a = sum(P3, b) @ P3\nb = sum(P3, P4) @ P4\n",
     (3, 13, "'b' is used before it is defined (line 4)")),
    ("a = sum(P3, b) @ P3\nb = sum(a, P4) @ P4\n", (3, 13, "cycle: a -> b -> a")),
    ("a = sum(P3, a) @ P3\n", (3, 13, "cycle: 'a' uses itself")),
    ("a = sum(P3, P4) @ P3\na = sum(P3, P5) @ P4\n",
     (4, 1, "duplicate name 'a' (first defined on line 3)")),
    ("P4 = sum(P3, P5) @ P4\n", (3, 1, "'P4' is an input and cannot be redefined")),
    ("a = mul(P3, P4) @ P3\n", (3, 5, "unknown op 'mul'; known ops: sum, gp, wsum")),
    ("a = gp(P3, P4, P5) @ P3\n", (3, 5, "'gp' takes exactly 2 inputs, got 3")),
    ("a = sum(P3) @ P3\n", (3, 5, "'sum' takes 2 or more inputs, got 1")),
    ("a = wsum(P3) @ P3\n", (3, 5, "'wsum' takes 2 or more inputs, got 1")),
    ("a = sum(P3, P4) @ P7\n", (3, 19, "level P7 is outside the inputs' range P3-P5")),
    ("a = sum(P3, P3) @ P3\n", (3, 13, "'P3' is used twice by the same cell")),
    ("a = sum(P3, P4) @ P3 -> out\n",
     (3, 1, "output level P3 is produced twice (first by 'a' on line 3)")),
])
def test_each_error_is_located(body: str, expected) -> None:
    text = HEAD + body + OK_TAIL
    found = diagnostics(text)
    line, column, message = expected
    if "produced twice" in message:  # reported at the second producer, z3 on line 4
        expected = (4, 1, message)
    assert expected in found, found


def test_missing_output_and_output_at_wrong_level() -> None:
    text = HEAD + "a = sum(P3, P4) @ P3 -> out\nb = sum(a, P5) @ P5 -> out\n"
    assert diagnostics(text) == [
        (2, 1, "no cell produces output level P4")]
    text = "inputs P3 P4\noutputs P3\na = sum(P3, P4) @ P3 -> out\nb = sum(a, P4) @ P4 -> out\n"
    assert diagnostics(text) == [
        (4, 18, "'b' is marked as output at P4, which is not among the outputs")]
    text = "inputs P3 P4\noutputs P3 P5\na = sum(P3, P4) @ P3 -> out\n"
    assert (2, 1, "output level P5 is outside the inputs' range P3-P4") in diagnostics(text)


def test_warnings_for_dead_cells_and_unused_inputs() -> None:
    # warnings wait until the errors are fixed
    text = HEAD + "dead = sum(P3, P4) @ P4\n" + OK_TAIL.replace("sum(P3, P4)", "sum(P3, P3x)")
    assert diagnostics(text) == [(4, 14, "undefined reference 'P3x'")]
    assert diagnostics(text, "warning") == []
    text = "inputs P3 P4 P5\noutputs P3\ndead = sum(P3, P4) @ P4\nz = sum(P3, P4) @ P3 -> out\n"
    assert diagnostics(text, "warning") == [
        (1, 1, "input P5 is not used by any cell"),
        (3, 1, "cell 'dead' reaches no output and will be dropped"),
    ]
    assert diagnostics(text) == []


def test_all_errors_are_reported_in_source_order() -> None:
    text = HEAD + "a = mul(P3, x) @ P3\nb = gp(a, P4, P5) @ P9\n" + OK_TAIL
    found = diagnostics(text)
    assert found == sorted(found)
    assert [(line, column) for line, column, _ in found] == [
        (3, 5), (3, 13), (4, 5), (4, 21)]


def test_parse_genotype_raises_with_every_error_in_the_message() -> None:
    with pytest.raises(GenotypeError) as info:
        parse_genotype(HEAD + "a = mul(P3, x) @ P3\n" + OK_TAIL, "t.txt")
    message = str(info.value)
    assert message.startswith("invalid genotype t.txt (2 errors):\n")
    assert "t.txt:3:5: error: unknown op 'mul'" in message
    assert "t.txt:3:13: error: undefined reference 'x'" in message
    assert "    a = mul(P3, x) @ P3\n                ^" in message


def test_did_you_mean() -> None:
    _, found = check_text(HEAD + "a = summ(P3, P4) @ P3\n" + OK_TAIL)
    assert found[0].hint == "did you mean 'sum'?"
    _, found = check_text(HEAD + "a = sum(P3, z33) @ P3\n" + OK_TAIL)
    assert found[0].hint == "did you mean 'z3'?"


def test_twenty_thousand_cells_validate_in_a_few_seconds() -> None:
    text = generated_genotype(20_000)
    start = time.perf_counter()
    genotype, found = check_text(text, "big.txt")
    elapsed = time.perf_counter() - start
    assert len(genotype.cells) == 20_000
    assert not [d for d in found if d.is_error]
    assert elapsed < 15.0, f"validating 20,000 cells took {elapsed:.1f} s"
