"""Drawing genotypes as pyramid diagrams with graphviz (torch-free).

``pyramid_layout`` places features on a level x column grid, ``layout_to_dot`` styles it as DOT
text, ``render_dot`` runs graphviz (or saves the DOT when graphviz is missing).
"""
from .dot import layout_to_dot
from .graphviz import OUTPUT_FORMATS, GraphvizMissing, find_dot, output_format, render_dot
from .layout import Edge, Layout, Node, pyramid_layout

__all__ = ["OUTPUT_FORMATS", "Edge", "GraphvizMissing", "Layout", "Node", "find_dot",
           "layout_to_dot", "output_format", "pyramid_layout", "render_dot"]
