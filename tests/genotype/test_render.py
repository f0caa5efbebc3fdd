"""Pyramid drawings: grid layout (rows = levels, P7 on top), styles, legend, stacking."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from nasfpn_cli.errors import UsageError
from nasfpn_cli.genotype import load_genotype, parse_genotype
from nasfpn_cli.render import layout_to_dot, output_format, pyramid_layout, render_dot
from nasfpn_cli.render.dot import COLUMN_WIDTH, ROW_HEIGHT


def positions(dot_text: str) -> dict[str, tuple[float, float]]:
    found = re.findall(r'^  "([^"]+)" \[.*pos="([-0-9.]+),([-0-9.]+)!"', dot_text, re.M)
    return {name: (float(x), float(y)) for name, x, y in found}


def test_nasfpn_layout_is_a_level_by_column_grid() -> None:
    layout = pyramid_layout(load_genotype("nasfpn"))
    assert layout.levels == (3, 4, 5, 6, 7)
    by_id = {node.id: node for node in layout.nodes}
    assert [by_id[f"in_P{k}"].column for k in range(3, 8)] == [0] * 5
    assert [by_id[f"n{k}"].column for k in range(1, 8)] == list(range(1, 8))
    assert {by_id[f"out_P{k}"].column for k in range(3, 8)} == {8}
    assert sorted((e.source, e.target) for e in layout.edges if e.implicit) == [
        ("in_P5", "n5"), ("in_P7", "n6")]
    assert layout.captions == [(0, 0, "inputs"), (8, 8, "outputs")]


def test_dot_pins_rows_by_level_with_p7_on_top() -> None:
    dot_text = layout_to_dot(pyramid_layout(load_genotype("nasfpn")))
    pos = positions(dot_text)
    assert pos["in_P3"] == (0.0, 0.0)
    assert pos["in_P7"] == (0.0, round(4 * ROW_HEIGHT, 3))
    assert pos["n6"] == (round(6 * COLUMN_WIDTH, 3), round(4 * ROW_HEIGHT, 3))
    assert pos["out_P3"][0] > pos["n7"][0] > pos["in_P3"][0]
    assert 'layout="neato"' in dot_text
    assert re.search(r'"in_P5" -> "n5" \[style="dashed"', dot_text)
    assert re.search(r'"n1" -> "n2";', dot_text)
    assert "implicit residual edge" in dot_text and "global pooling (gp)" in dot_text
    assert 'shape="box"' in dot_text and 'fillcolor="#ffe699"' in dot_text


def test_dead_cells_are_greyed_and_named_in_the_legend() -> None:
    genotype = parse_genotype("inputs P3 P4\noutputs P3\nx = sum(P3, P4) @ P4\n"
                              "y = sum(P3, P4) @ P3 -> out\n")
    dot_text = layout_to_dot(pyramid_layout(genotype))
    assert re.search(r'"x" \[.*style="filled,dashed"', dot_text)
    assert "reaches no output" in dot_text
    assert "implicit residual edge" not in dot_text  # no implicit edges, no legend entry


def test_stacked_copies_are_chained() -> None:
    layout = pyramid_layout(load_genotype("nasfpn"), stacks=3)
    cells = [node for node in layout.nodes if node.kind == "cell"]
    assert len(cells) == 21 and layout.columns == 1 + 3 * 8
    edges = {(e.source, e.target) for e in layout.edges}
    # copy 2 reads copy 1's outputs (P6 from n7, P4 from n4); its residual P5 is copy 1's n5
    assert ("s1_n7", "s1_out_P6") in edges and ("s1_out_P6", "s2_n1") in edges
    assert ("s1_out_P5", "s2_n5") in edges
    assert [c[2] for c in layout.captions] == ["inputs", "stack 1", "1 -> 2", "stack 2",
                                               "2 -> 3", "stack 3", "outputs"]


def test_stacking_needs_inputs_among_outputs() -> None:
    genotype = parse_genotype("inputs P3 P4\noutputs P3\ny = sum(P3, P4) @ P3 -> out\n")
    with pytest.raises(UsageError, match="input level.*P4 are not among its outputs"):
        pyramid_layout(genotype, stacks=2)


def test_output_format_comes_from_the_extension() -> None:
    assert [output_format(p) for p in ("a.svg", "a.PNG", "a.pdf", "a.dot", "a.gv")] == [
        "svg", "png", "pdf", "dot", "dot"]
    with pytest.raises(UsageError):
        output_format("a.jpg")


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
def test_graphviz_renders_svg_and_png(tmp_path) -> None:
    dot_text = layout_to_dot(pyramid_layout(load_genotype("nasfpn")))
    svg = render_dot(dot_text, tmp_path / "n.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "n7" in svg
    png = render_dot(dot_text, tmp_path / "n.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.png", "n.svg"]  # no temp files left


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is not installed")
@pytest.mark.parametrize("name, stacks", [("nasfpn", 1), ("bifpn", 1), ("panet", 2), ("dead", 1)])
def test_graphviz_routes_edges_around_nodes(name: str, stacks: int) -> None:
    """No node (legend included) may touch another, or graphviz falls back to straight edges
    drawn through the cells in between."""
    genotype = parse_genotype("inputs P3 P4 P5\noutputs P3 P4 P5\na = sum(P3, P4) @ P4\n"
                              "b = sum(a, P5) @ P5 -> out\nc = gp(a, P3) @ P3\n"
                              "d = wsum(c, b, P5) @ P4 -> out\ne = sum(d, c) @ P3\n"
                              "f = sum(c, P3) @ P3 -> out\n") if name == "dead" else load_genotype(name)
    dot_text = layout_to_dot(pyramid_layout(genotype, stacks))
    result = subprocess.run(["dot", "-Tsvg"], input=dot_text, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stderr == ""
