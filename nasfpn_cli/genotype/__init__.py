"""The genotype language: parse, validate, graph, format, convert (torch-free)."""
from .ast import Cell, Genotype, Ref, Span, level_name
from .diagnostics import Diagnostic
from .graph import Plan, ResolvedCell, plan, to_graph
from .library import bundled_names, check_text, load_genotype, parse_genotype, resolve_path
from .ops import OPS
from .validate import validate

__all__ = [
    "Cell", "Diagnostic", "Genotype", "OPS", "Plan", "Ref", "ResolvedCell", "Span",
    "bundled_names", "check_text", "level_name", "load_genotype", "parse_genotype", "plan",
    "resolve_path", "to_graph", "validate",
]
