"""Count parameters, multiply-adds (MACs) and FLOPs of a network or a neck with fvcore.

Every ATen op the trace contains must have a handle in :data:`~.handles.HANDLES`; fvcore's
built-in ignore list is emptied so that an op without one is reported in ``uncounted`` rather than
silently skipped. FLOPs are reported as 2 x MACs.

Counting traces the model once in eval mode under ``torch.no_grad`` on an *empty batch* of the
given image size: the trace has every shape of a one-image run but executes no arithmetic (torch's
tracer does not support meta tensors), and the handles count the empty batch as one image.
Counts are therefore per image.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from fvcore.nn import FlopCountAnalysis, parameter_count
from torch import nn

from ..data.image_io import padded_size
from ..errors import ModelError
from ..modeling.backbones import backbone_spec
from ..modeling.neck import build_neck
from ..modeling.network import build_network
from ..modeling.spec import ModelSpec
from ..utils import eval_mode
from .handles import HANDLES

EMPTY_BATCH = 0  # traced batch size: shapes without arithmetic (see the module docstring)


@dataclass(frozen=True)
class PartCost:
    """Parameters and MACs of one named part of the model."""

    name: str
    params: int
    macs: int

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def to_dict(self) -> dict:
        return {"name": self.name, "params": self.params, "macs": self.macs, "flops": self.flops}


@dataclass(frozen=True)
class CellCost:
    """One genotype cell summed over all stacks (every stack holds the same cell)."""

    name: str
    op: str
    level: int
    stacks: int
    params: int  # all stacks
    macs: int  # all stacks

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def to_dict(self) -> dict:
        return {"name": self.name, "op": self.op, "level": self.level, "stacks": self.stacks,
                "params": self.params, "macs": self.macs, "flops": self.flops,
                "params_per_stack": self.params // self.stacks,
                "macs_per_stack": self.macs // self.stacks}


@dataclass(frozen=True)
class FlopReport:
    """What ``nasfpn flops`` prints: totals, a breakdown per component, per stack and per cell."""

    model: str
    image_size: tuple[int, int]
    params: int
    macs: int
    uncounted: list[str]
    components: list[PartCost]
    stacks: list[PartCost]
    cells: list[CellCost]
    operators: dict[str, int] = field(default_factory=dict)
    padded_size: tuple[int, int] | None = None  # the size actually computed (a multiple of the stride)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def to_dict(self) -> dict:
        height, width = self.image_size
        padded_h, padded_w = self.padded_size or self.image_size
        return {
            "model": self.model,
            "image_size": height if height == width else [height, width],
            "padded_size": padded_h if padded_h == padded_w else [padded_h, padded_w],
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "uncounted": list(self.uncounted),
            "components": [part.to_dict() for part in self.components],
            "stacks": [part.to_dict() for part in self.stacks],
            "cells": [cell.to_dict() for cell in self.cells],
            "operators": dict(self.operators),
        }


def image_hw(image_size: int | Sequence[int]) -> tuple[int, int]:
    """(height, width) from a side or a pair; ModelError unless positive."""
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or any(not isinstance(s, int) or s < 1 for s in size):
        raise ModelError(f"image size must be a positive integer or a (height, width) pair "
                         f"(got {image_size!r})")
    return size  # type: ignore[return-value]


def flop_analysis(model: nn.Module, inputs: tuple) -> FlopCountAnalysis:
    """An fvcore analysis of ``model(*inputs)`` with our handles and no silently ignored ops."""
    analysis = FlopCountAnalysis(model, inputs)
    analysis.set_op_handle(**HANDLES)
    analysis._ignored_ops = set()  # fvcore has no public setter; we want every op accounted for
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    return analysis


def _neck_breakdown(neck: nn.Module, prefix: str, by_module: dict[str, int],
                    params: dict[str, int]) -> tuple[list[PartCost], list[CellCost]]:
    stacks = [PartCost(f"stack {k + 1}", params[f"{prefix}stacks.{k}"], by_module[f"{prefix}stacks.{k}"])
              for k in range(len(neck.stacks))]
    cells = []
    first = neck.stacks[0].cells
    for i, cell in enumerate(first):
        keys = [f"{prefix}stacks.{k}.cells.{i}" for k in range(len(neck.stacks))]
        cells.append(CellCost(cell.name, cell.op, cell.level, len(keys),
                              sum(params[key] for key in keys), sum(by_module[key] for key in keys)))
    return stacks, cells


def _run(model: nn.Module, inputs: tuple) -> tuple[FlopCountAnalysis, dict[str, int], dict[str, int]]:
    with eval_mode(model), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = flop_analysis(model, inputs)
        by_module = dict(analysis.by_module())
    return analysis, by_module, dict(parameter_count(model))


def _operators(analysis: FlopCountAnalysis) -> dict[str, int]:
    """Counts by operator, in-place variants merged (``relu_`` -> ``relu``), largest first."""
    merged: dict[str, int] = {}
    for name, count in analysis.by_operator().items():
        name = "conv" if name == "_convolution" else name.rstrip("_")
        merged[name] = merged.get(name, 0) + count
    return dict(sorted(merged.items(), key=lambda item: -item[1]))


def _uncounted(analysis: FlopCountAnalysis) -> list[str]:
    return sorted(analysis.unsupported_ops().keys())


def count_network(network: nn.Module | ModelSpec, image_size: int | Sequence[int] = 640, *,
                  name: str | None = None) -> FlopReport:
    """Count a :class:`~nasfpn_cli.modeling.network.RetinaNetNetwork` on one image; given a
    :class:`~nasfpn_cli.modeling.spec.ModelSpec`, the network it describes is built first."""
    if isinstance(network, ModelSpec):
        name = name or network.name
        network = build_network(network)
    name = name or "network"
    height, width = image_hw(image_size)
    parameter = next(network.parameters())
    images = torch.zeros(EMPTY_BATCH, 3, height, width, dtype=parameter.dtype, device=parameter.device)
    analysis, by_module, params = _run(network, (images,))
    heads = "heads" if hasattr(network, "heads") else "head"
    components = [PartCost(part, params[part], by_module[part]) for part in ("backbone", "neck", heads)]
    stacks, cells = _neck_breakdown(network.neck, "neck.", by_module, params)
    return FlopReport(name, (height, width), params[""], by_module[""], _uncounted(analysis),
                      components, stacks, cells, _operators(analysis),
                      padded_size(height, width, network.size_divisor))


def count_neck(neck: nn.Module | ModelSpec, in_channels: Sequence[int] | None = None,
               image_size: int | Sequence[int] = 640, *, name: str | None = None) -> FlopReport:
    """Count a :class:`~nasfpn_cli.modeling.neck.Neck` alone, fed backbone-shaped features of an
    image of ``image_size`` (C3 at stride 8, C4 at 16, ...), padded as the network pads it.
    Given a ModelSpec (``count_neck(spec, image_size=640)``), its neck is built on the spec's
    backbone channels."""
    if isinstance(neck, ModelSpec):
        spec = neck
        name = name or spec.name
        in_channels = backbone_spec(spec.backbone).out_channels
        neck = build_neck(spec.genotype, in_channels, spec.channels, spec.stack,
                          norm=spec.neck_norm, separable=spec.separable)
    if in_channels is None:
        raise ModelError("count_neck needs the backbone's in_channels for a built neck")
    name = name or "neck"
    height, width = image_hw(image_size)
    padded_h, padded_w = padded_size(height, width, neck.size_divisor)
    parameter = next(neck.parameters())
    features = [torch.zeros(EMPTY_BATCH, channels, padded_h // 2 ** level, padded_w // 2 ** level,
                            dtype=parameter.dtype, device=parameter.device)
                for level, channels in zip(neck.inputs.in_levels, in_channels)]
    neck.inputs.check_sizes(features)
    analysis, by_module, params = _run(neck, (features,))
    stacks, cells = _neck_breakdown(neck, "", by_module, params)
    inputs = PartCost("neck inputs", params["inputs"], by_module["inputs"])
    return FlopReport(name, (height, width), params[""], by_module[""], _uncounted(analysis),
                      [inputs, *stacks], stacks, cells, _operators(analysis), (padded_h, padded_w))
