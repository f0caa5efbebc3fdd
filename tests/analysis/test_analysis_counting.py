"""FLOP counting: the published R-50 NAS-FPN 7@256 figures, exact breakdowns, every op handled,
and the empty-batch trace giving the same counts as a real one-image trace."""
from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from nasfpn_cli.analysis import count_neck, count_network
from nasfpn_cli.analysis import counting
from nasfpn_cli.modeling import build_network
from nasfpn_cli.modeling.neck import build_neck

PUBLISHED_PARAMS = 60.3e6  # RetinaNet R-50 NAS-FPN 7@256, 640x640 (TF model zoo)
PUBLISHED_MACS = 140.6e9


@pytest.fixture(scope="module")
def retinanet_nasfpn_report():
    torch.manual_seed(0)
    network = build_network("nasfpn")  # R-50, 7@256, 80 classes, GroupNorm head
    start = time.perf_counter()
    report = count_network(network, 640, name="nasfpn")
    return report, time.perf_counter() - start


def test_matches_the_published_r50_nasfpn_figures(retinanet_nasfpn_report):
    report, seconds = retinanet_nasfpn_report
    assert report.params == 59_818_804
    assert report.macs == 138_734_355_968 and report.flops == 2 * report.macs
    assert abs(report.params / PUBLISHED_PARAMS - 1) < 0.02  # -0.80%
    assert abs(report.macs / PUBLISHED_MACS - 1) < 0.02  # -1.33%
    assert report.uncounted == []
    assert report.operators["conv"] == 138_317_235_200
    assert seconds < 20


def test_component_stack_and_cell_breakdown(retinanet_nasfpn_report):
    report, _ = retinanet_nasfpn_report
    parts = {part.name: (part.params, part.macs) for part in report.components}
    assert parts == {"backbone": (23_508_032, 33_593_344_000), "neck": (29_845_504, 49_996_128_768),
                     "head": (6_465_268, 55_144_883_200)}
    assert sum(p for p, _ in parts.values()) == report.params
    assert sum(m for _, m in parts.values()) == report.macs
    assert len(report.stacks) == 7 and len({s.macs for s in report.stacks}) == 1
    assert [c.name for c in report.cells] == ["n1", "n2", "n3", "n4", "n5", "n6", "n7"]
    stacks_macs = sum(s.macs for s in report.stacks)
    assert sum(c.macs for c in report.cells) == stacks_macs
    n3 = report.cells[2]
    # n3 = sum(n2, P3) @ P3 on 80x80: upsample n2, add, ReLU, 3x3 conv, BN
    pixels = 256 * 80 * 80
    assert n3.macs == 7 * (9 * 256 * pixels + 4 * pixels) and n3.params == 7 * (9 * 256 * 256 + 512)
    # the rest of the neck: 1x1 laterals + BN on C3..C5, and max pooling for P6 and P7
    laterals = (512 * 6400 + 1024 * 1600 + 2048 * 400) * 256 + 256 * (6400 + 1600 + 400)
    assert parts["neck"][1] - stacks_macs == laterals + 4 * 256 * (100 + 25)
    data = report.to_dict()
    assert data["image_size"] == 640 and data["uncounted"] == [] and data["macs"] == report.macs


@pytest.mark.parametrize("genotype, options", [
    ("nasfpn", dict(backbone="resnet10")),
    ("bifpn", dict(backbone="mobilenetv2", frozen_bn=True, separable=True)),
    ("panet", dict(backbone="resnet18", deep_supervision=True, head_norm="bn", exit_at=1)),
])
def test_empty_batch_counts_equal_a_real_one_image_trace(genotype, options, monkeypatch):
    torch.manual_seed(0)
    network = build_network(genotype, num_classes=5, channels=32, stack=2, **options)
    empty = count_network(network, (256, 384))
    monkeypatch.setattr(counting, "EMPTY_BATCH", 1)
    real = count_network(network, (256, 384))
    assert empty.uncounted == [] and real.uncounted == []
    assert empty.macs == real.macs > 0 and empty.operators == real.operators
    assert empty.components == real.components and empty.cells == real.cells


def test_neck_only_and_padding_of_odd_sizes():
    neck = build_neck("fpn", (128, 256, 512), channels=32, stack=2)
    report = count_neck(neck, (128, 256, 512), 200, name="fpn")
    padded = count_neck(neck, (128, 256, 512), 256)
    assert report.padded_size == (256, 256) and report.macs == padded.macs
    assert report.params == sum(p.numel() for p in neck.parameters())
    assert [p.name for p in report.components] == ["neck inputs", "stack 1", "stack 2"]
    assert sum(p.macs for p in report.components) == report.macs
    assert report.to_dict()["padded_size"] == 256 and report.uncounted == []


def test_an_op_without_a_handle_is_reported_not_skipped():
    class Cumulative(nn.Module):
        def forward(self, x):
            return torch.relu(x).cumsum(dim=1)

    analysis = counting.flop_analysis(Cumulative(), (torch.ones(2, 3),))
    assert analysis.total() == 6  # the ReLU
    assert set(analysis.unsupported_ops()) == {"aten::cumsum"}
