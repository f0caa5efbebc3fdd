"""Genotype files as hostile users write them: each is read correctly or answered with a located
message saying what is wrong."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasfpn_cli.genotype import check_file, load_genotype
from nasfpn_cli.genotype.json_codec import genotype_to_json

ROOT_FPN = load_genotype("fpn")
FPN_TEXT = ROOT_FPN.source


def test_cr_only_line_endings_read_like_lf(tmp_path):
    path = tmp_path / "mac.txt"
    path.write_bytes(FPN_TEXT.replace("\n", "\r").encode())
    assert load_genotype(path).cells == ROOT_FPN.cells


@pytest.mark.parametrize("command", [["validate", "-"], ["show", "-"], ["fmt", "-"],
                                     ["convert", "-", "--to", "json"]])
def test_dash_reads_standard_input(command):
    result = subprocess.run([sys.executable, "-m", "nasfpn_cli", *command], input=FPN_TEXT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout


def test_dash_reads_json_from_standard_input_too():
    result = subprocess.run([sys.executable, "-m", "nasfpn_cli", "validate", "-"],
                            input=genotype_to_json(ROOT_FPN), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "valid, 5 cells" in result.stdout, result.stderr


def test_fmt_write_refuses_standard_input(run):
    code, _, err = run("fmt", "-", "--write")
    assert code == 2 and "cannot rewrite standard input" in err


@pytest.mark.parametrize("line, message", [
    ("stack 99999999999999999999999", "'stack' must be between 1 and 64, not 9999"),
    ("stack " + "9" * 5000, "(5000 digits)"),
    ("channels " + "1" * 4400, "'channels' must be between 1 and 4096"),
    ("stack -3", "'stack' must be between 1 and 64, not -3"),
    ("channels -64", "'channels' must be between 1 and 4096, not -64"),
    ("stack 0", "not 0"),
])
def test_number_directives_out_of_range_are_located(tmp_path, line, message):
    path = tmp_path / "g.txt"
    path.write_text(FPN_TEXT + line + "\n")
    checked = check_file(path)
    errors = [d for d in checked.diagnostics if d.is_error]
    assert len(errors) == 1 and message in errors[0].message, errors
    assert errors[0].span.line == FPN_TEXT.count("\n") + 1
    assert errors[0].span.column == line.index(" ") + 2  # at the number


def _json(**numbers: str) -> str:
    """The fpn genotype as JSON with some fields set to number text (of any length)."""
    data = json.loads(genotype_to_json(ROOT_FPN))
    data.update({key: f"@{key}@" for key in numbers})
    text = json.dumps(data, indent=2)
    for key, number in numbers.items():
        text = text.replace(f'"@{key}@"', number)
    return text


@pytest.mark.parametrize("text, message", [
    (_json(version="9" * 5000), "unsupported version"),
    (_json(stack="1" + "0" * 4400), "'stack' must be an integer between 1"),
    (_json(channels="-5"), "'channels' must be an integer between 1"),
    (_json(stack="1e999"), "'stack' must be an integer between 1"),
])
def test_json_numbers_out_of_range_are_located(tmp_path, text, message):
    path = tmp_path / "g.json"
    path.write_text(text)
    errors = [d for d in check_file(path).diagnostics if d.is_error]
    assert errors and message in errors[0].message and errors[0].span.line > 1, errors


def test_duplicate_json_keys_are_located_at_the_repeat(tmp_path):
    text = genotype_to_json(ROOT_FPN).replace('"version": 1,', '"version": 1, "name": "a",', 1)
    text = text.replace('"name": "fpn"', '"name": "b"', 1)
    path = tmp_path / "dup.json"
    path.write_text(text)
    errors = [d for d in check_file(path).diagnostics if d.is_error]
    assert [d.message.split(":")[0] for d in errors] == ['duplicate key "name"']
    line = text.split("\n")[errors[0].span.line - 1]
    assert line[errors[0].span.column - 1:].startswith('"name": "b"')


def test_duplicate_keys_inside_cells_too(tmp_path):
    text = genotype_to_json(ROOT_FPN).replace('"op": "sum"', '"op": "sum", "op": "gp"', 1)
    path = tmp_path / "dup.json"
    path.write_text(text)
    errors = [d for d in check_file(path).diagnostics if d.is_error]
    assert any('duplicate key "op"' in d.message for d in errors), errors


@pytest.mark.parametrize("kind", ["loop", "dangling"])
def test_broken_symbolic_links_say_so(run, tmp_path, kind):
    link = tmp_path / "g.txt"
    if kind == "loop":
        os.symlink(tmp_path / "other.txt", link)
        os.symlink(link, tmp_path / "other.txt")
    else:
        os.symlink(tmp_path / "nothing.txt", link)
    code, _, err = run("show", link)
    assert code == 1 and f"{link}: a symbolic link that leads nowhere" in err, err
    expected = "Too many levels of symbolic links" if kind == "loop" else "No such file"
    assert expected in err


@pytest.mark.parametrize("command", [["validate", ""], ["show", ""], ["draw", "", "-o", "x.svg"],
                                     ["convert", "", "--to", "json"], ["fmt", ""]])
def test_an_empty_path_is_named_as_such(run, command):
    code, out, err = run(*command)
    assert code == 1, err
    assert "an empty path names no genotype file" in out + err
    assert "is a directory" not in out + err


LINE_ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])


@settings(max_examples=60, deadline=None)
@given(ending=LINE_ENDINGS, bom=st.booleans(), trailing=st.booleans())
def test_any_consistent_line_ending_reads_the_same(tmp_path_factory, ending, bom, trailing):
    text = FPN_TEXT.rstrip("\n").replace("\n", ending) + (ending if trailing else "")
    path = tmp_path_factory.mktemp("endings") / "g.txt"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    assert load_genotype(path).cells == ROOT_FPN.cells


def test_a_pipe_is_read_and_a_device_refused(run, tmp_path):
    import threading

    fifo = tmp_path / "g.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text(FPN_TEXT))
    writer.start()
    code, out, err = run("validate", fifo)
    writer.join(10)
    assert code == 0 and "valid, 5 cells" in out, err
    if os.path.exists("/dev/zero"):
        code, out, err = run("validate", "/dev/zero")
        assert code == 1 and "is not a regular file or a pipe" in out + err


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10 ** 30, 10 ** 30),
              st.floats(allow_nan=False), st.text(max_size=12),
              st.sampled_from(["P3", "P9", "n1", "sum", "gp", "wsum", "out", ""])),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["name", "op", "inputs", "level", "output", "x"]), children, max_size=4),
    max_leaves=8)


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 200)), deadline=None)
@given(data=st.data())
def test_mutated_json_genotypes_give_located_diagnostics(data):
    """Any value at any key of a valid JSON genotype: a genotype or located diagnostics, never
    an exception (the JSON twin of tests/genotype/test_robustness.py)."""
    from nasfpn_cli.genotype import read_genotype_text

    document = json.loads(genotype_to_json(load_genotype("nasfpn")))
    for _ in range(data.draw(st.integers(1, 3))):
        cells = document.get("cells")
        if data.draw(st.booleans()) and isinstance(cells, list) and cells:
            cell = cells[data.draw(st.integers(0, len(cells) - 1))]
            if isinstance(cell, dict):
                cell[data.draw(st.sampled_from(["name", "op", "inputs", "level", "output",
                                                "extra"]))] = data.draw(JSON_VALUES)
        else:
            key = data.draw(st.sampled_from(sorted(document) + ["extra"]))
            document[key] = data.draw(JSON_VALUES)
    text = json.dumps(document, indent=data.draw(st.sampled_from([None, 2])))
    genotype, diagnostics = read_genotype_text(text, "g.json", "json")
    lines = max(text.count("\n") + 1, 1)
    for diagnostic in diagnostics:
        assert diagnostic.span.file == "g.json" and diagnostic.message
        assert 0 <= diagnostic.span.line <= lines
        diagnostic.render()


def test_a_huge_number_in_block_specs_is_located_not_pythons_digit_limit(cli, tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("(4,'attention',(1," + "9" * 5000 + "),False)\n")
    result = cli("convert", str(path), "--from", "block-specs", "--to", "dsl")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{path}:1:19: error: a number of 5000 digits" in result.stderr
    assert "set_int_max_str_digits" not in result.stderr
