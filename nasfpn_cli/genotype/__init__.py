"""The genotype language: parse, validate, graph, format, convert (torch-free).

Importing this package loads neither lark (only needed to explain a syntax error) nor networkx
(only needed by :func:`to_graph` and cycle reports), so the CLI starts fast.
"""
from .nodes import Cell, Genotype, Ref, Span, level_name
from .convert import FORMATS, infer_format, read_genotype_text, write_genotype_text
from .diagnostics import Diagnostic, sort_diagnostics
from .format import format_genotype, format_source
from .graph import Plan, ResolvedCell, plan, to_graph
from .library import (
    CheckedFile,
    bundled_names,
    check_file,
    check_text,
    load_genotype,
    parse_genotype,
    resolve_path,
)
from .ops import OPS
from .validate import validate

__all__ = [
    "FORMATS", "OPS", "Cell", "CheckedFile", "Diagnostic", "Genotype", "Plan", "Ref",
    "ResolvedCell", "Span", "bundled_names", "check_file", "check_text", "format_genotype",
    "format_source", "infer_format", "level_name", "load_genotype", "parse_genotype", "plan",
    "read_genotype_text", "resolve_path", "sort_diagnostics", "to_graph", "validate",
    "write_genotype_text",
]
