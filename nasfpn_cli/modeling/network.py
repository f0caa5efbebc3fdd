"""The raw RetinaNet network: backbone -> compiled neck -> shared head(s), up to raw head outputs.

This is what ``nasfpn flops`` counts and what ONNX export writes; the detector adds anchors,
losses and decoding around it. Input normalisation is not part of it (the data pipeline does it).

Input sizes: images whose sides are not a multiple of ``size_divisor`` (the stride of the coarsest
level of the genotype: 128 = P7 for the default pyramid) are zero-padded at the bottom and right before the backbone, so every pyramid
level has an exact size; outputs then describe the padded image (box coordinates are unchanged
because padding is only added after the last row and column).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ModelError
from ..genotype import Genotype
from .backbone_base import Backbone
from .backbones import build_backbone
from .head import RetinaHead
from .neck import Neck, build_neck
from .spec import ModelSpec

HeadOutputs = Tuple[List[Tensor], List[Tensor]]


def _static_size(images: Tensor) -> tuple[int, int]:
    """Height and width as Python ints; a trace records them as constants (static shapes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return int(images.shape[-2]), int(images.shape[-1])


class RetinaNetNetwork(nn.Module):
    """``forward(images) -> (cls_logits, box_deltas)``, lists over levels P3..P7.

    With deep supervision there is one head per stack (``heads``) and ``forward_exits`` returns
    the outputs of every stack; otherwise one ``head``. ``exit_at`` (1-based stack, None = last)
    picks the stack whose outputs ``forward`` returns: later stacks are not computed.
    """

    def __init__(self, backbone: Backbone, neck: Neck, heads: list[RetinaHead], *,
                 exit_at: int | None = None):
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        if len(heads) == 1:
            self.head = heads[0]
        else:
            self.heads = nn.ModuleList(heads)
        self.deep_supervision = len(heads) > 1
        self.num_classes = heads[0].num_classes
        self.num_anchors = heads[0].num_anchors
        self.strides = tuple(neck.strides)
        self.size_divisor = neck.size_divisor
        self.num_stacks = neck.num_stacks
        self.exit_stack = self.num_stacks
        self.set_exit(exit_at)

    def set_exit(self, exit_at: int | None) -> None:
        """Make ``forward`` return the outputs of stack ``exit_at`` (1-based; None: the last)."""
        if exit_at is None:
            exit_at = self.num_stacks
        if not isinstance(exit_at, int) or not 1 <= exit_at <= self.num_stacks:
            raise ModelError(f"exit_at must be a stack between 1 and {self.num_stacks} (got {exit_at!r})")
        self.exit_stack = exit_at

    @property
    def exit_at(self) -> int:
        return self.exit_stack

    def pad(self, images: Tensor) -> Tensor:
        """Zero-pad bottom/right so both sides are a multiple of ``size_divisor``."""
        if torch.jit.is_scripting():
            height, width = images.shape[-2], images.shape[-1]
        else:
            height, width = _static_size(images)
        pad_h = (self.size_divisor - height % self.size_divisor) % self.size_divisor
        pad_w = (self.size_divisor - width % self.size_divisor) % self.size_divisor
        if pad_h > 0 or pad_w > 0:
            images = F.pad(images, [0, pad_w, 0, pad_h])
        return images

    def _check_images(self, images: Tensor) -> None:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ModelError(f"images must be a B x 3 x H x W tensor (got shape {tuple(images.shape)})")

    def _pyramids(self, images: Tensor, num_stacks: int) -> List[List[Tensor]]:
        if not torch.jit.is_scripting() and not torch.jit.is_tracing():
            self._check_images(images)
        return self.neck.forward_stacks(self.backbone(self.pad(images)), num_stacks)

    def _apply_head(self, stack_index: int, pyramid: List[Tensor]) -> HeadOutputs:
        if hasattr(self, "heads"):
            result: Optional[HeadOutputs] = None
            for index, head in enumerate(self.heads):
                if index == stack_index:
                    result = head(pyramid)
            assert result is not None
            return result
        return self.head(pyramid)

    def forward(self, images: Tensor) -> HeadOutputs:
        pyramids = self._pyramids(images, self.exit_stack)
        return self._apply_head(self.exit_stack - 1, pyramids[-1])

    @torch.jit.export
    def forward_exits(self, images: Tensor) -> List[HeadOutputs]:
        """Head outputs after every stack (each stack's own head with deep supervision, else the
        one shared head), first stack first."""
        pyramids = self._pyramids(images, -1)
        return [self._apply_head(index, pyramid) for index, pyramid in enumerate(pyramids)]


def build_network(spec: ModelSpec | Genotype | str | Path, num_classes: int | None = None,
                  backbone: str | None = None, channels: int | None = None,
                  stack: int | None = None, *, backbone_weights: str | Path | None = None,
                  **options: Any) -> RetinaNetNetwork:
    """Backbone + the neck compiled from the genotype + RetinaNet head(s), as ``spec`` says.

    Like :func:`~nasfpn_cli.modeling.detector.build_detector`, also takes a genotype with the
    spec's fields as keyword options (N@C: explicit > the file's directives > 7@256).
    """
    if not isinstance(spec, ModelSpec):
        given = {k: v for k, v in dict(num_classes=num_classes, backbone=backbone).items()
                 if v is not None}
        spec = ModelSpec.create(spec, stack=stack, channels=channels, **given, **options)
    trunk = build_backbone(spec.backbone, weights=backbone_weights,
                           frozen_stages=spec.frozen_stages, frozen_bn=spec.frozen_bn)
    neck = build_neck(spec.genotype, trunk.out_channels, spec.channels, spec.stack,
                      norm=spec.neck_norm, separable=spec.separable, dropblock=spec.dropblock)
    head_count = neck.num_stacks if spec.deep_supervision else 1
    heads = [RetinaHead(neck.channels, spec.num_classes, spec.num_anchors, spec.num_convs,
                        spec.head_norm, spec.prior_prob) for _ in range(head_count)]
    return RetinaNetNetwork(trunk, neck, heads, exit_at=spec.exit_at)
