"""Cost analysis: parameters, multiply-adds and FLOPs counted with fvcore (imports torch)."""
from .counting import CellCost, FlopReport, PartCost, count_neck, count_network

__all__ = ["CellCost", "FlopReport", "PartCost", "count_neck", "count_network"]
