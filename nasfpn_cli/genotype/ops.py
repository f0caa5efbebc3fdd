"""The binary ops a merging cell may use, with their arity rules (torch-free).

The PyTorch implementations live in :mod:`nasfpn_cli.modeling.ops`, keyed by the same names.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpSpec:
    name: str
    min_inputs: int
    max_inputs: int | None  # None: unbounded
    description: str

    def accepts(self, count: int) -> bool:
        return count >= self.min_inputs and (self.max_inputs is None or count <= self.max_inputs)

    def arity_text(self) -> str:
        if self.max_inputs is None:
            return f"{self.min_inputs} or more inputs"
        if self.max_inputs == self.min_inputs:
            return f"exactly {self.min_inputs} inputs"
        return f"{self.min_inputs} to {self.max_inputs} inputs"


OPS: dict[str, OpSpec] = {
    spec.name: spec
    for spec in (
        OpSpec("sum", 2, None, "elementwise sum"),
        OpSpec("gp", 2, 2, "global-pooling attention: coarse + fine * sigmoid(gmp(coarse))"),
        OpSpec("wsum", 2, None, "fast normalized weighted sum (BiFPN)"),
    )
}

# names accepted in the TF block-specs format
BLOCK_SPEC_OPS = {"sum": "sum", "attention": "gp"}
