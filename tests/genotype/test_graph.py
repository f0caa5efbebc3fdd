"""Genotype -> networkx graph and the resolved plan: attributes, residual edges, pruning."""
from __future__ import annotations

import pytest

from nasfpn_cli.genotype import (bundled_names, check_file, load_genotype, parse_genotype, plan,
                                 to_graph)

from .helpers import BUNDLED


def test_bundled_genotypes_are_valid_without_warnings() -> None:
    assert set(bundled_names()) >= {"nasfpn", "fpn", "panet", "bifpn"}
    for path in BUNDLED:
        checked = check_file(path)
        assert checked.diagnostics == [], path


def test_nasfpn_graph_attributes_and_implicit_edges() -> None:
    graph = to_graph(load_genotype("nasfpn"))
    assert graph.graph == {"name": "nasfpn", "inputs": (3, 4, 5, 6, 7),
                           "outputs": (3, 4, 5, 6, 7), "residual": "unconnected"}
    assert graph.number_of_nodes() == 12
    assert graph.nodes["P6"] == {"level": 6, "is_input": True, "is_output": False, "op": None,
                                 "index": -1, "line": 0}
    assert graph.nodes["n1"] == {"level": 4, "is_input": False, "is_output": False, "op": "gp",
                                 "index": 0, "line": 6}
    assert graph.edges["P6", "n1"] == {"implicit": False, "arg_index": 0}
    implicit = sorted((u, v) for u, v, data in graph.edges(data=True) if data["implicit"])
    assert implicit == [("P5", "n5"), ("P7", "n6")]
    assert graph.number_of_edges() == 14 + 2


def test_plan_of_nasfpn() -> None:
    resolved = plan(load_genotype("nasfpn"))
    assert resolved.inputs == ("P3", "P4", "P5", "P6", "P7")
    assert resolved.outputs == ("n3", "n4", "n5", "n7", "n6")
    residuals = {cell.name: cell.residuals for cell in resolved.cells}
    assert residuals == {"n1": (), "n2": (), "n3": (), "n4": (), "n5": ("P5",), "n6": ("P7",),
                         "n7": ()}


def test_residual_rule_counts_earlier_cells_and_can_be_switched_off() -> None:
    text = ("inputs P3 P4\noutputs P3 P4\nside = sum(P3, P4) @ P4\n"
            "a = sum(P3, P4) @ P3 -> out\nb = sum(a, P3) @ P4 -> out\n")
    resolved = plan(parse_genotype(text))
    assert {c.name: c.residuals for c in resolved.cells} == {"side": (), "a": (), "b": ("side",)}
    resolved = plan(parse_genotype("residual none\n" + text))
    assert all(c.residuals == () for c in resolved.cells)
    # without the rule, 'side' reaches nothing and is pruned
    assert [c.name for c in resolved.cells] == ["a", "b"]


@pytest.mark.parametrize("name, cells, implicit", [
    ("fpn", 5, 0), ("panet", 8, 0), ("bifpn", 8, 0), ("nasfpn", 7, 2)])
def test_bundled_graph_sizes(name: str, cells: int, implicit: int) -> None:
    graph = to_graph(load_genotype(name))
    assert sum(1 for _, d in graph.nodes(data=True) if not d["is_input"]) == cells
    assert sum(1 for *_, d in graph.edges(data=True) if d["implicit"]) == implicit
