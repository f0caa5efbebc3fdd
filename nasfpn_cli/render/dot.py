"""A :class:`~.layout.Layout` as graphviz DOT text, styled after the NAS-FPN paper's figures.

Inputs are yellow circles, outputs blue circles, merging cells are drawn by op (shape and
colour), cells that reach no output are grey and dashed, and edges added by the residual rule
are dashed red. Every node is pinned at its grid place (``layout=neato``, ``pos="x,y!"``), so
the rows stay level and the file renders the same with ``dot -Tsvg`` as with ``nasfpn draw``.
"""
from __future__ import annotations

from ..genotype.ops import OPS
from .layout import Layout, Node

COLUMN_WIDTH = 1.05  # inches between columns
ROW_HEIGHT = 0.95  # inches between pyramid levels

INPUT_STYLE = {"shape": "circle", "fillcolor": "#ffe699", "color": "#bf9000"}
OUTPUT_STYLE = {"shape": "circle", "fillcolor": "#9dc3e6", "color": "#2e75b6"}
DEAD_STYLE = {"fillcolor": "#eeeeee", "color": "#999999", "style": "filled,dashed",
              "fontcolor": "#777777"}
# unknown ops (and ops registered without a style) are grey boxes
# free text (captions, legend): sized to its label, so it never touches the nodes
_TEXT = {"shape": "plaintext", "style": "", "fixedsize": "false", "width": 0.1, "height": 0.1,
         "margin": 0.02}
FALLBACK_STYLE = {"shape": "box", "fillcolor": "#dddddd", "color": "#555555"}
EDGE_COLOR = "#404040"
IMPLICIT_EDGE_COLOR = "#c00000"
OUTPUT_EDGE_COLOR = "#2e75b6"
# Routing curved edges around the nodes grows about with the cube of the edge count (graphviz
# 2.42 on a CPU: 84 edges 2.2 s, 168 edges 12.9 s); larger drawings get straight edges, which
# render in well under a second even for the largest --stack (nasfpn, 64 copies, 1344 edges).
MAX_CURVED_EDGES = 100


def quote(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(attributes: dict[str, object]) -> str:
    return ", ".join(f"{key}={quote(str(value))}" for key, value in attributes.items())


def _pos(x: float, y: float) -> str:
    return f"{x:.3f},{y:.3f}!"


def node_style(node: Node) -> dict[str, str]:
    """Shape and colours of one node."""
    if node.kind == "input":
        return dict(INPUT_STYLE)
    if node.kind == "output":
        return dict(OUTPUT_STYLE)
    spec = OPS.get(node.op or "")
    style = dict(spec.style if spec is not None and spec.style else FALLBACK_STYLE)
    if node.dead:
        style.update(DEAD_STYLE)
    return style


def _label(node: Node) -> str:
    if node.kind != "cell":
        return node.label
    spec = OPS.get(node.op or "")
    return f"{node.label}\n{spec.symbol if spec is not None and spec.symbol else node.op or '?'}"


def layout_to_dot(layout: Layout) -> str:
    """DOT text for a layout (pinned positions, neato engine, legend under the grid)."""
    splines = "true" if len(layout.edges) <= MAX_CURVED_EDGES else "line"
    row = {level: index for index, level in enumerate(layout.levels)}
    top = (len(layout.levels) - 1) * ROW_HEIGHT
    lines = [
        "digraph pyramid {",
        f"  graph [{_attrs({'layout': 'neato', 'splines': splines, 'sep': '+2', 'outputorder': 'edgesfirst', 'label': layout.title, 'labelloc': 't', 'fontname': 'Helvetica', 'fontsize': 18, 'pad': 0.3, 'bgcolor': 'white'})}];",
        f"  node [{_attrs({'style': 'filled', 'fontname': 'Helvetica', 'fontsize': 11, 'width': 0.55, 'height': 0.55, 'fixedsize': 'true', 'penwidth': 1.4})}];",
        f"  edge [{_attrs({'color': EDGE_COLOR, 'arrowsize': 0.6, 'penwidth': 1.1})}];",
        "",
        "  // pyramid level of each row, on the left",
    ]
    for level in layout.levels:
        lines.append(f"  row_P{level} [{_attrs({'label': f'P{level}', **_TEXT, 'fontsize': 13, 'fontcolor': '#555555', 'pos': _pos(-0.8 * COLUMN_WIDTH, row[level] * ROW_HEIGHT)})}];")
    lines.append("")
    lines.append("  // column captions")
    for index, (first, last, text) in enumerate(layout.captions):
        x = (first + last) / 2 * COLUMN_WIDTH
        lines.append(f"  caption_{index} [{_attrs({'label': text, **_TEXT, 'fontsize': 12, 'fontcolor': '#555555', 'pos': _pos(x, top + 0.75 * ROW_HEIGHT)})}];")
    lines.append("")
    lines.append("  // features")
    for node in layout.nodes:
        attributes = {"label": _label(node), **node_style(node),
                      "pos": _pos(node.column * COLUMN_WIDTH, row[node.level] * ROW_HEIGHT)}
        if node.kind == "cell":
            attributes["tooltip"] = f"{node.label} = {node.op}(...) @ P{node.level}" + (
                " (reaches no output)" if node.dead else "")
        lines.append(f"  {quote(node.id)} [{_attrs(attributes)}];")
    lines.append("")
    lines.append("  // data flow; dashed: added by the residual rule")
    kinds = {node.id: node.kind for node in layout.nodes}
    for edge in layout.edges:
        attributes: dict[str, object] = {}
        if edge.implicit:
            attributes = {"style": "dashed", "color": IMPLICIT_EDGE_COLOR, "penwidth": 1.4}
        elif kinds.get(edge.target) == "output":
            attributes = {"color": OUTPUT_EDGE_COLOR}
        suffix = f" [{_attrs(attributes)}]" if attributes else ""
        lines.append(f"  {quote(edge.source)} -> {quote(edge.target)}{suffix};")
    lines.extend(_legend(layout))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _swatch(style: dict[str, str], symbol: str) -> str:
    """One legend table cell coloured like a node, with the node's symbol."""
    content = f'<FONT POINT-SIZE="9">{_html(symbol)}</FONT>' if symbol else " "
    return (f'<TD BGCOLOR="{style["fillcolor"]}" COLOR="{style["color"]}" BORDER="1" '
            f'WIDTH="24" HEIGHT="20" FIXEDSIZE="TRUE">{content}</TD>')


def _legend(layout: Layout) -> list[str]:
    """One HTML-table node under the grid: a swatch and a word per node kind, and the dashed
    residual edge when the drawing has any (one node, so nothing in it can overlap)."""
    entries = [(INPUT_STYLE, "P", "input"), (OUTPUT_STYLE, "P", "output")]
    for op in layout.ops:
        spec = OPS.get(op)
        if spec is None:
            entries.append((FALLBACK_STYLE, op, op))
        else:
            entries.append((spec.style or FALLBACK_STYLE, spec.symbol or op, spec.legend or op))
    if any(node.dead for node in layout.nodes):
        entries.append(({**FALLBACK_STYLE, **DEAD_STYLE}, "", "reaches no output (dropped)"))
    cells = [_swatch(style, symbol) + f'<TD ALIGN="LEFT">{_html(text)}</TD>'
             for style, symbol, text in entries]
    if any(edge.implicit for edge in layout.edges):
        cells.append(f'<TD><FONT COLOR="{IMPLICIT_EDGE_COLOR}">- - - &gt;</FONT></TD>'
                     '<TD ALIGN="LEFT">implicit residual edge</TD>')
    table = ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="5" CELLPADDING="2"><TR>'
             + "<TD> </TD>".join(cells) + "</TR></TABLE>>")
    x = (layout.columns - 1) / 2 * COLUMN_WIDTH
    position = _pos(x, -1.1 * ROW_HEIGHT)
    return ["", "  // legend",
            f'  legend [shape="plaintext", style="", fixedsize="false", margin="0", '
            f'fontsize="11", pos="{position}", label={table}];']
