"""DSL <-> TF block specs <-> JSON: the paper's list exactly, round trips, located errors."""
from __future__ import annotations

import ast
import dataclasses
import json

import pytest

from nasfpn_cli.genotype import (
    format_genotype,
    infer_format,
    load_genotype,
    read_genotype_text,
    write_genotype_text,
)

from .helpers import BUNDLED

# DESIGN.md: the searched NAS-FPN in TF block specs (offsets 0-4 are P3-P7, new nodes from 5)
NASFPN_BLOCK_SPECS = [
    (4, "attention", (1, 3), False),
    (4, "sum", (1, 5), False),
    (3, "sum", (0, 6), True),
    (4, "sum", (6, 7), True),
    (5, "attention", (7, 8), True),
    (7, "attention", (6, 9), True),
    (6, "attention", (9, 10), True),
]


def errors(text: str, fmt: str) -> list[tuple[int, int, str]]:
    _, found = read_genotype_text(text, f"t.{fmt}", fmt)
    return [(d.span.line, d.span.column, d.message) for d in found if d.is_error]


def test_nasfpn_to_block_specs_is_exactly_the_papers_list() -> None:
    text, diagnostics = write_genotype_text(load_genotype("nasfpn"), "block-specs")
    assert diagnostics == []
    assert ast.literal_eval(text) == NASFPN_BLOCK_SPECS
    assert text.splitlines()[1] == "    (4, 'attention', (1, 3), False),"


def test_block_specs_round_trip_and_decode_as_in_design() -> None:
    text = repr(NASFPN_BLOCK_SPECS)
    genotype, diagnostics = read_genotype_text(text, "specs.py", "block-specs")
    assert not [d for d in diagnostics if d.is_error]
    decoded = [(c.name, c.op, c.input_names, c.level, c.is_output) for c in genotype.cells]
    assert decoded == [
        ("n1", "gp", ("P4", "P6"), 4, False),
        ("n2", "sum", ("P4", "n1"), 4, False),
        ("n3", "sum", ("P3", "n2"), 3, True),
        ("n4", "sum", ("n2", "n3"), 4, True),
        ("n5", "gp", ("n3", "n4"), 5, True),
        ("n6", "gp", ("n2", "n5"), 7, True),
        ("n7", "gp", ("n5", "n6"), 6, True),
    ]
    back, _ = write_genotype_text(genotype, "block-specs")
    assert ast.literal_eval(back) == NASFPN_BLOCK_SPECS
    # the same genotype as the bundled file, up to the (symmetric) argument order and the name
    bundled = load_genotype("nasfpn")
    order = {name: i for i, name in enumerate(["P3", "P4", "P5", "P6", "P7"]
                                               + [c.name for c in bundled.cells])}
    sorted_cells = tuple(dataclasses.replace(c, inputs=tuple(sorted(c.inputs, key=lambda r: order[r.name])))
                         for c in bundled.cells)
    assert dataclasses.replace(bundled, cells=sorted_cells, name=None) == genotype


def test_block_specs_accept_the_tf_assignment_form() -> None:
    text = "NASFPN_BLOCK_SPECS = [\n" + "".join(f"    {s!r},  # c\n" for s in NASFPN_BLOCK_SPECS) + "]\n"
    genotype, diagnostics = read_genotype_text(text, "specs.py", "block-specs")
    assert not [d for d in diagnostics if d.is_error] and len(genotype.cells) == 7


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_json_round_trips_every_bundled_genotype(path) -> None:
    genotype = load_genotype(path)
    text, _ = write_genotype_text(genotype, "json")
    data = json.loads(text)
    assert data["format"] == "nasfpn-genotype" and data["version"] == 1
    assert len(data["cells"]) == len(genotype.cells)
    back, diagnostics = read_genotype_text(text, "x.json", "json")
    assert diagnostics == [] and back == genotype
    assert write_genotype_text(back, "dsl")[0] == format_genotype(genotype)


def test_block_specs_cannot_express_wsum_or_three_inputs() -> None:
    text, diagnostics = write_genotype_text(load_genotype("bifpn"), "block-specs")
    assert text == ""
    assert len(diagnostics) == 8
    first = diagnostics[0]
    assert (first.span.line, first.span.column) == (8, 6)
    assert first.message == "block specs have no 'wsum' op (only 'sum' and 'attention' = 'gp')"
    three = "n1 = sum(P3, P4, P5) @ P3\nn2 = sum(n1, P4) @ P4 -> out\nn3 = sum(n2, P5) @ P5 -> out\n" \
            "n4 = sum(n3, P3) @ P3 -> out\nn5 = sum(n4, P6) @ P6 -> out\nn6 = sum(n5, P7) @ P7 -> out\n"
    genotype, _ = read_genotype_text(three, "t.txt", "dsl")
    _, diagnostics = write_genotype_text(genotype, "block-specs")
    assert [(d.span.line, d.message) for d in diagnostics] == [
        (1, "block specs combine exactly 2 inputs; 'n1' has 3")]


def test_block_specs_need_outputs_last_and_the_residual_rule() -> None:
    text = ("residual none\nn1 = sum(P3, P4) @ P3 -> out\nn2 = sum(n1, P5) @ P4 -> out\n"
            "n3 = sum(n2, P6) @ P5 -> out\nn4 = sum(n3, n2) @ P6 -> out\n"
            "n5 = sum(n4, n3) @ P7 -> out\ndead = sum(n1, n2) @ P4\n")
    genotype, _ = read_genotype_text(text, "t.txt", "dsl")
    _, diagnostics = write_genotype_text(genotype, "block-specs")
    assert [(d.span.line, d.message) for d in diagnostics] == [
        (1, "block specs always apply the residual rule, and here it would add P7 to 'n5'; "
            "this genotype says 'residual none'"),
        (2, "block specs take the last 5 blocks as the outputs; 'n1' is an output but is not "
            "among them"),
        (7, "block specs take the last 5 blocks as the outputs; 'dead' is among them but is not "
            "an output"),
    ]


@pytest.mark.parametrize("text, expected", [
    ("[(4, 'attention', (1, 3), False)", (1, 1, "not a Python literal: '[' was never closed")),
    ("[(4, 'attention', (1, 3), False)]\nx = 1\n",
     (2, 1, "block specs are one list literal (optionally 'NAME = [...]')")),
    ("{'a': 1}", (1, 1, "block specs are a list of (level, combine, (i, j), is_output)")),
    ("[(4, 'attention', (1, 3))]", (1, 2, "block 0 must be a 4-tuple (level, 'sum'|'attention', "
                                           "(i, j), is_output)")),
    ("[(9, 'attention', (1, 3), False)]", (1, 3, "block 0: level must be one of 3..7, not 9")),
    ("[(4, 'max', (1, 3), False)]", (1, 6, "block 0: combine must be 'sum' or 'attention', "
                                           "not 'max'")),
    ("[(4, 'sum', (1, 5), False)]", (1, 17, "block 0: offset 5 is not a feature built before it "
                                            "(0..4)")),
    ("[(4, 'sum', (1, 2, 3), False)]", (1, 13, "block 0: inputs must be a pair of offsets (i, j)")),
    ("[(4, 'sum', (1, 3), 1)]", (1, 21, "block 0: is_output must be True or False, not 1")),
    ("[(4, 'sum', (1, __import__('os')), False)]", (1, 13, "block 0: only literals are allowed "
                                                           "here")),
])
def test_block_spec_errors_are_located(text: str, expected) -> None:
    assert expected in errors(text, "block-specs")


@pytest.mark.parametrize("text, expected", [
    ('{"cells": [', (1, 12, "not valid JSON: Expecting value")),
    ("[]", (1, 1, "a JSON genotype is an object with a 'cells' list")),
    ('{"cells": [], "colour": 1}', (1, 1, "unknown key 'colour' in the genotype; expected one of "
                                          "format, version, name, inputs, outputs, stack, "
                                          "channels, residual, cells")),
    ('{"version": 2, "cells": []}', (1, 2, "unsupported version 2; this nasfpn reads version 1")),
    ('{"inputs": ["P3", "Q4"], "cells": []}',
     (1, 19, "'Q4' is not a pyramid level; levels are written P1 ... P9")),
    ('{"cells": [{"name": "a b", "op": "sum", "inputs": ["P3", "P4"], "level": "P3"}]}',
     (1, 21, 'cells[0].name must be a name (letters, digits and \'_\', not starting with a digit), '
             'not "a b"')),
    ('{"cells": [{"name": "stack", "op": "sum", "inputs": ["P3", "P4"], "level": "P3"}]}',
     (1, 21, "'stack' is a keyword and cannot name a cell")),
    ('{"cells": [\n  {"name": "a", "op": "sum", "inputs": ["P3", "nope"], "level": "P3",'
     ' "output": true}\n]}', (2, 47, "undefined reference 'nope'")),
    ('{"stack": 0, "cells": []}', (1, 2, "'stack' must be an integer between 1 and 64 or null")),
])
def test_json_errors_are_located(text: str, expected) -> None:
    assert expected in errors(text, "json")


def test_formats_are_inferred_from_extensions() -> None:
    assert [infer_format(p) for p in ("a.txt", "a.JSON", "a.py", "a.specs", "a.geno", "a")] == [
        "dsl", "json", "block-specs", "block-specs", "dsl", None]
