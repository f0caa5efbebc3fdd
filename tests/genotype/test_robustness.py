"""No input may crash the genotype tools: random text and random mutations of valid files give
either a valid genotype or located diagnostics, never an exception."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasfpn_cli.genotype import (
    format_source,
    read_genotype_text,
    write_genotype_text,
)
from nasfpn_cli.genotype.diagnostics import source_lines
from nasfpn_cli.genotype.parser import parse

from .helpers import BUNDLED, run_main

SOURCES = [path.read_text(encoding="utf-8") for path in BUNDLED]
TOKENS = ["n1", "n9", "P3", "P7", "P0", "P12", "sum", "gp", "wsum", "mul", "=", "(", ")", ",",
          "@", "->", "out", "#", "genotype", "inputs", "outputs", "stack", "channels",
          "residual", "none", "0", "99999999", "", " ", "\t", "\r", "\x00", "é", "金", "\u2028",
          "\ufeff", "[", "'"]
EXAMPLES = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@st.composite
def mutated(draw, sources: list[str]) -> str:
    """A valid file with a few lines deleted, duplicated, swapped or with tokens changed."""
    lines = draw(st.sampled_from(sources)).split("\n")
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "token", "insert", "cut"]))
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(j, lines[i])
        elif kind == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "token":
            words = re.split(r"(\W)", lines[i])
            if words:
                k = draw(st.integers(0, len(words) - 1))
                words[k] = draw(st.sampled_from(TOKENS))
                lines[i] = "".join(words)
        elif kind == "insert":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(TOKENS)) + lines[i][at:]
        else:
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines)


def assert_located(diagnostics, text: str, path: str) -> None:
    """Every diagnostic names the file and a real line and column (or the whole file)."""
    line_count = max(len(source_lines(text)), 1)
    for diagnostic in diagnostics:
        assert diagnostic.span.file == path
        assert diagnostic.message
        if diagnostic.span.line:
            assert 1 <= diagnostic.span.line <= line_count, diagnostic
            assert diagnostic.span.column >= 1, diagnostic
        diagnostic.render()  # rendering never fails either


def check_dsl(text: str) -> None:
    genotype, diagnostics = read_genotype_text(text, "m.txt", "dsl")
    assert_located(diagnostics, text, "m.txt")
    syntax_ok = not any(d.is_error for d in parse(text, "m.txt")[1])
    if syntax_ok:  # formatting works on any syntactically valid file, and keeps its meaning
        formatted = format_source(text)
        assert format_source(formatted) == formatted
        assert parse(formatted)[0] == parse(text)[0]
    if not any(d.is_error for d in diagnostics):
        for fmt in ("json", "dsl"):
            converted, _ = write_genotype_text(genotype, fmt)
            back, found = read_genotype_text(converted, "c", fmt)
            assert back == genotype and not any(d.is_error for d in found)


@EXAMPLES
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    check_dsl(text)


@EXAMPLES
@given(st.lists(st.sampled_from(TOKENS + ["\n"]), max_size=60).map("".join))
def test_random_token_soup(text: str) -> None:
    check_dsl(text)


@EXAMPLES
@given(mutated(SOURCES))
def test_mutated_bundled_files(text: str) -> None:
    check_dsl(text)


JSON_SOURCES = [write_genotype_text(read_genotype_text(s, "x", "dsl")[0], "json")[0]
                for s in SOURCES]
SPEC_SOURCES = [write_genotype_text(read_genotype_text(s, "x", "dsl")[0], "block-specs")[0]
                for s in SOURCES]
SPEC_SOURCES = [s for s in SPEC_SOURCES if s]


@EXAMPLES
@given(st.one_of(mutated(JSON_SOURCES), st.text(max_size=200)))
def test_mutated_json(text: str) -> None:
    _, diagnostics = read_genotype_text(text, "m.json", "json")
    assert_located(diagnostics, text, "m.json")


@EXAMPLES
@given(st.one_of(mutated(SPEC_SOURCES), st.text(max_size=200)))
def test_mutated_block_specs(text: str) -> None:
    _, diagnostics = read_genotype_text(text, "m.py", "block-specs")
    assert_located(diagnostics, text, "m.py")


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=mutated(SOURCES), command=st.sampled_from(["validate", "show", "fmt", "convert"]))
def test_cli_on_mutated_files_exits_0_or_1_without_traceback(capsys, tmp_path_factory, text,
                                                             command) -> None:
    path = tmp_path_factory.mktemp("m") / "m.txt"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    args = [command, str(path)] + (["--to", "json"] if command == "convert" else [])
    code, _, err = run_main(capsys, *args)
    assert code in (0, 1), err
    assert "Traceback" not in err and "internal error" not in err
    if code == 1:
        assert re.search(rf"{re.escape(str(path))}(:\d+:\d+)?: error: ", err), err


def test_surrogates_and_huge_lines_do_not_crash() -> None:
    check_dsl("n1 = sum(P3, P4) @ P3 -> out # \udcff\n")
    check_dsl("n1 = sum(" + ", ".join(f"a{i}" for i in range(5000)) + ") @ P3 -> out\n")
    check_dsl("(" * 10000)
    _, diagnostics = read_genotype_text("[" * 10000, "deep.py", "block-specs")
    assert diagnostics and diagnostics[0].is_error
    _, diagnostics = read_genotype_text("[" * 100000, "deep.json", "json")
    assert diagnostics and diagnostics[0].is_error


@pytest.mark.parametrize("text", ["", "\n\n", "#", "\ufeff", "\r", "\x00", "->", "=" * 50])
def test_tiny_inputs(text: str) -> None:
    check_dsl(text)
