"""Ops are data: a new op is one registry entry plus its module, and every layer picks it up."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from nasfpn_cli.analysis.counting import count_neck
from nasfpn_cli.genotype import OPS, parse_genotype
from nasfpn_cli.genotype.ops import OpSpec, register_op, unregister_op
from nasfpn_cli.modeling.neck import build_neck
from nasfpn_cli.render import layout_to_dot, pyramid_layout

TOY_GENOTYPE = """genotype toy
inputs P3 P4 P5 P6 P7
outputs P3 P4 P5 P6 P7
p6 = avg(P7, P6) @ P6 -> out
p5 = avg(p6, P5) @ P5 -> out
p4 = sum(p5, P4) @ P4 -> out
p3 = avg(p4, P3, P5) @ P3 -> out
p7 = avg(P7, p6) @ P7 -> out
"""


class Mean(nn.Module):
    """The toy op: the mean of its inputs."""

    def __init__(self, num_inputs: int):
        super().__init__()
        self.scale = 1.0 / num_inputs

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        out = features[0]
        for feature in features[1:]:
            out = out + feature
        return out * self.scale


@pytest.fixture
def toy_op():
    register_op(OpSpec("avg", 2, None, "mean of the inputs", Mean, symbol="avg",
                       legend="mean (avg)", style={"shape": "diamond", "fillcolor": "#ffffff",
                                                   "color": "#000000"}))
    yield OPS["avg"]
    unregister_op("avg")


def test_a_registered_op_validates_draws_compiles_and_counts(toy_op):
    genotype = parse_genotype(TOY_GENOTYPE, "toy.txt")  # validation knows the op and its arity
    dot = layout_to_dot(pyramid_layout(genotype, 1))
    assert 'shape="diamond"' in dot and "mean (avg)" in dot
    neck = build_neck(genotype, (16, 32, 64), channels=8, stack=2)
    features = [torch.randn(1, c, 64 // 2 ** i, 64 // 2 ** i) for i, c in enumerate((16, 32, 64))]
    outputs = neck(features)
    assert [tuple(o.shape[-2:]) for o in outputs] == [(64, 64), (32, 32), (16, 16), (8, 8), (4, 4)]
    report = count_neck(neck, (16, 32, 64), 512)
    assert report.macs > 0 and report.uncounted == []


def test_an_unregistered_op_is_a_located_error():
    with pytest.raises(Exception, match=r"toy.txt:4:\d+: error: unknown op 'avg'"):
        parse_genotype(TOY_GENOTYPE, "toy.txt")
