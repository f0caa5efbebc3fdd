"""Canonical formatting: golden input/output pairs (black style), round trips, idempotence."""
from __future__ import annotations

import pytest

from nasfpn_cli.errors import GenotypeError
from nasfpn_cli.genotype import check_text, format_genotype, format_source, load_genotype
from nasfpn_cli.genotype.parser import parse

from .helpers import BUNDLED, DATA

SEPARATOR = "### output\n"
CASES = sorted((DATA / "fmt").glob("*.txt"))


def split_case(path) -> tuple[str, str]:
    source, expected = path.read_text(encoding="utf-8").split(SEPARATOR)
    return source, expected


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_golden(case) -> None:
    source, expected = split_case(case)
    formatted = format_source(source, case.name)
    assert formatted == expected
    assert format_source(formatted) == formatted  # idempotent
    assert parse(formatted)[0] == parse(source)[0]  # same genotype


def test_golden_cases_exist() -> None:
    assert len(CASES) >= 8


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_bundled_files_are_canonical(path) -> None:
    text = path.read_text(encoding="utf-8")
    assert format_source(text) == text


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_format_genotype_round_trips(path) -> None:
    genotype = load_genotype(path)
    text = format_genotype(genotype)
    reparsed, diagnostics = check_text(text)
    assert reparsed == genotype
    assert not [d for d in diagnostics if d.is_error]
    assert format_genotype(genotype) == text


def test_crlf_becomes_lf() -> None:
    source = "genotype x\r\n\r\nn1 = sum(P3, P4) @ P3 -> out\r\n"
    assert format_source(source) == "genotype x\n\nn1 = sum(P3, P4) @ P3 -> out\n"


def test_format_genotype_writes_only_non_default_directives() -> None:
    genotype, _ = parse("n1 = sum(P3, P4) @ P3 -> out\n")
    assert format_genotype(genotype) == (
        "inputs P3 P4 P5 P6 P7\noutputs P3 P4 P5 P6 P7\n\nn1 = sum(P3, P4) @ P3 -> out\n")
    genotype, _ = parse("genotype g\nresidual none\nstack 3\nchannels 64\n"
                        "n1 = sum(P3, P4) @ P3 -> out\n")
    assert format_genotype(genotype).splitlines()[:6] == [
        "genotype g", "inputs P3 P4 P5 P6 P7", "outputs P3 P4 P5 P6 P7", "stack 3",
        "channels 64", "residual none"]


def test_syntax_errors_are_refused_with_every_location() -> None:
    with pytest.raises(GenotypeError) as info:
        format_source("n1 = sum(P3 P4) @ P3\nn2 = gp(n1, P4 @ P4\n", "bad.txt")
    located = [(d.span.line, d.span.column) for d in info.value.diagnostics]
    assert located == [(1, 13), (2, 16)]


def test_semantic_errors_do_not_stop_formatting() -> None:
    assert format_source("n1=sum(undefined,P4)@P3\n") == "n1 = sum(undefined, P4) @ P3\n"
