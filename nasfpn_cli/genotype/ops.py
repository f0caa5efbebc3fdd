"""The binary ops a merging cell may use: one registry entry per op holds everything every layer
needs to know about it (torch-free).

An entry says how many inputs the op takes, whether their order matters, in which order the
compiled module receives them, its name in TF block specs, how drawings show it, and where its
PyTorch module lives (``"package.module:factory"``, imported on first use, so this module stays
torch-free). Adding an op is one :func:`register_op` call here (or in a plug-in) plus its module
in :mod:`nasfpn_cli.modeling.ops`.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# how the compiled module receives the cell's inputs
AS_WRITTEN = "as_written"
COARSE_FIRST = "coarse_first"  # the input of the coarser source level first (stable for ties)
INPUT_ORDERS = (AS_WRITTEN, COARSE_FIRST)


@dataclass(frozen=True)
class OpSpec:
    """One op. ``module`` is a factory ``f(num_inputs) -> nn.Module`` or its import path
    ``"package.module:name"``; ``style`` are graphviz node attributes."""

    name: str
    min_inputs: int
    max_inputs: int | None  # None: unbounded
    description: str
    module: str | Callable[[int], Any]
    symmetric: bool = True  # the result does not depend on the written order of the inputs
    input_order: str = AS_WRITTEN
    block_spec_name: str | None = None  # the op's 'combine' name in TF block specs, if any
    style: dict[str, str] = field(default_factory=dict, compare=False)
    symbol: str = ""  # drawn inside the node
    legend: str = ""  # the legend's word for it

    def accepts(self, count: int) -> bool:
        return count >= self.min_inputs and (self.max_inputs is None or count <= self.max_inputs)

    def arity_text(self) -> str:
        if self.max_inputs is None:
            return f"{self.min_inputs} or more inputs"
        if self.max_inputs == self.min_inputs:
            return f"exactly {self.min_inputs} inputs"
        return f"{self.min_inputs} to {self.max_inputs} inputs"

    def order_matters(self, levels: list[int]) -> bool:
        """Whether swapping inputs of these source ``levels`` changes the result."""
        if self.input_order == COARSE_FIRST:
            return len(set(levels)) < len(levels)  # the coarser one leads; ties keep their order
        return not self.symmetric

    def ordered(self, names: list[str], levels: dict[str, int]) -> list[str]:
        """The cell's inputs in the order the compiled module takes them."""
        if self.input_order == COARSE_FIRST:
            return sorted(names, key=lambda name: -levels[name])
        return list(names)

    def factory(self) -> Callable[[int], Any]:
        """The PyTorch module factory (imports it on first use)."""
        if callable(self.module):
            return self.module
        module_name, _, attribute = self.module.partition(":")
        return getattr(importlib.import_module(module_name), attribute)


OPS: dict[str, OpSpec] = {}


def register_op(spec: OpSpec) -> OpSpec:
    """Add (or replace) an op; returns it. The input order must be one of :data:`INPUT_ORDERS`."""
    if spec.input_order not in INPUT_ORDERS:
        raise ValueError(f"op {spec.name!r}: input_order must be one of {', '.join(INPUT_ORDERS)}")
    OPS[spec.name] = spec
    return spec


def unregister_op(name: str) -> None:
    """Remove an op (plug-in tests clean up with this)."""
    OPS.pop(name, None)


register_op(OpSpec(
    "sum", 2, None, "elementwise sum", "nasfpn_cli.modeling.ops:SumMerge",
    block_spec_name="sum", symbol="+", legend="sum",
    style={"shape": "circle", "fillcolor": "#c5e0b4", "color": "#548235"}))
register_op(OpSpec(
    "gp", 2, 2, "global-pooling attention: coarse + fine * sigmoid(gmp(coarse))",
    "nasfpn_cli.modeling.ops:GlobalPoolAttention", input_order=COARSE_FIRST,
    block_spec_name="attention", symbol="GP", legend="global pooling (gp)",
    style={"shape": "box", "style": "filled,rounded", "fillcolor": "#f8cbad",
           "color": "#c55a11"}))
register_op(OpSpec(
    "wsum", 2, None, "fast normalized weighted sum (BiFPN)", "nasfpn_cli.modeling.ops:WeightedSum",
    symbol="w+", legend="weighted sum (wsum)",
    style={"shape": "hexagon", "fillcolor": "#d9c3e9", "color": "#7030a0"}))


def block_spec_ops() -> dict[str, str]:
    """TF block-spec 'combine' names -> op names."""
    return {spec.block_spec_name: spec.name for spec in OPS.values() if spec.block_spec_name}
