"""The RetinaNet detector: the raw network plus anchors, losses (training) and decoding (eval).

The detector only orchestrates: :class:`~nasfpn_cli.modeling.network.RetinaNetNetwork` computes
raw head outputs, :class:`~nasfpn_cli.modeling.anchors.AnchorGenerator` lays anchors under them,
:class:`~nasfpn_cli.modeling.losses.RetinaNetLoss` trains them and
:class:`~nasfpn_cli.modeling.postprocess.DetectionPostprocessor` turns them into boxes.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ModelError
from ..genotype import Genotype
from .anchors import AnchorGenerator, flatten_head_output
from .boxes import BoxCoder
from .losses import MatchedTargets, RetinaNetLoss
from .network import RetinaNetNetwork, build_network
from .postprocess import DetectionPostprocessor
from .spec import ModelSpec

Detections = list[dict[str, Tensor]]


class Detector(nn.Module):
    """RetinaNet around a raw network.

    Train mode: ``detector(images, targets)`` -> ``{"cls", "box", "loss"}`` scalar losses (with
    deep supervision the sums over all stacks' exits, plus ``"cls/exitK"``, ``"box/exitK"`` per
    1-based stack ``K``). Targets are dicts with ``boxes`` (``[N, 4]`` xyxy pixels), ``labels``
    (``[N]``, 0-based) and optional ``iscrowd`` / ``ignore`` flags; ``N`` may be 0.
    Eval mode: ``detector(images)`` -> per image ``{"boxes", "scores", "labels"}``, computed at
    stack :attr:`exit_at` (anytime prediction). ``spec`` is the
    :class:`~nasfpn_cli.modeling.spec.ModelSpec` it was built from (None when assembled by hand).
    """

    def __init__(self, network: RetinaNetNetwork, *, loss: RetinaNetLoss | None = None,
                 postprocessor: DetectionPostprocessor | None = None,
                 anchor_generator: AnchorGenerator | None = None,
                 spec: ModelSpec | None = None):
        super().__init__()
        self.network = network
        self.anchor_generator = anchor_generator or AnchorGenerator(strides=network.strides)
        if self.anchor_generator.num_anchors != network.num_anchors:
            raise ModelError(f"the anchor generator lays {self.anchor_generator.num_anchors} anchors "
                             f"per position but the head predicts {network.num_anchors}")
        if tuple(self.anchor_generator.strides) != tuple(network.strides):
            raise ModelError(f"anchor strides {self.anchor_generator.strides} differ from the "
                             f"network's output strides {tuple(network.strides)}")
        box_coder = BoxCoder()
        self.loss = loss or RetinaNetLoss(network.num_classes, box_coder)
        self.postprocessor = postprocessor or DetectionPostprocessor(box_coder)
        self.spec = spec

    @property
    def config(self) -> dict[str, Any]:
        """The spec as plain JSON without the genotype (the :func:`build_detector` options that
        rebuild this detector from it; empty for a detector assembled by hand)."""
        if self.spec is None:
            return {}
        values = self.spec.to_dict()
        del values["genotype_text"]
        return values

    @property
    def num_classes(self) -> int:
        return self.network.num_classes

    @property
    def exit_at(self) -> int:
        """The 1-based stack whose head answers in eval mode (the last one by default)."""
        return self.network.exit_at

    @exit_at.setter
    def exit_at(self, stack: int | None) -> None:
        self.network.set_exit(stack)

    def forward(self, images: Tensor, targets: Sequence[dict] | None = None,
                image_sizes: Sequence[tuple[int, int]] | None = None) -> dict[str, Tensor] | Detections:
        """Losses in train mode, detections in eval mode (see the class docstring).

        ``image_sizes``: each image's ``(height, width)`` before batch padding, to clip boxes to;
        default: the batch tensor's size.
        """
        if self.training:
            if targets is None:
                raise ModelError("the detector is in training mode and needs targets; "
                                 "call detector.eval() to get detections")
            if len(targets) != len(images):
                raise ModelError(f"{len(images)} images but {len(targets)} targets")
            return self.losses(images, targets)
        return self.detect(images, image_sizes)

    def _anchors(self, cls_logits: Sequence[Tensor]) -> list[Tensor]:
        sizes = [(t.shape[-2], t.shape[-1]) for t in cls_logits]
        return self.anchor_generator(sizes, cls_logits[0].device, torch.float32)

    def losses(self, images: Tensor, targets: Sequence[dict]) -> dict[str, Tensor]:
        """Training losses of every exit (one unless the network has deep supervision)."""
        if self.network.deep_supervision:
            exits = self.network.forward_exits(images)
        else:
            exits = [self.network(images)]
        anchors = torch.cat(self._anchors(exits[0][0]))
        matched: MatchedTargets = self.loss.match(anchors, targets)
        results: dict[str, Tensor] = {}
        totals = {"cls": anchors.new_zeros(()), "box": anchors.new_zeros(())}
        for stack, (cls_list, box_list) in enumerate(exits, start=1):
            cls_flat = torch.cat([flatten_head_output(t, self.num_classes) for t in cls_list], dim=1)
            box_flat = torch.cat([flatten_head_output(t, 4) for t in box_list], dim=1)
            exit_losses = self.loss(cls_flat, box_flat, anchors, matched)
            for name, value in exit_losses.items():
                totals[name] = totals[name] + value
                if len(exits) > 1:
                    results[f"{name}/exit{stack}"] = value.detach()
        results.update(totals)
        results["loss"] = totals["cls"] + totals["box"]
        return results

    def detect(self, images: Tensor,
               image_sizes: Sequence[tuple[int, int]] | None = None) -> Detections:
        """Detections per image at stack :attr:`exit_at`."""
        cls_list, box_list = self.network(images)
        anchors = self._anchors(cls_list)
        if image_sizes is None:
            image_sizes = [(images.shape[-2], images.shape[-1])] * len(images)
        return self.postprocessor([flatten_head_output(t, self.num_classes) for t in cls_list],
                                  [flatten_head_output(t, 4) for t in box_list], anchors,
                                  image_sizes)


def build_detector(spec: ModelSpec | Genotype | str | Path, num_classes: int | None = None,
                   backbone: str | None = None, channels: int | None = None,
                   stack: int | None = None, *, backbone_weights: str | Path | None = None,
                   **options: Any) -> Detector:
    """The RetinaNet detector a :class:`~nasfpn_cli.modeling.spec.ModelSpec` describes.

    Also takes a genotype (object, file or bundled name) with the spec's fields as keyword
    options, for scripts: ``build_detector("nasfpn", num_classes=10, backbone="resnet18")``;
    N@C follow the one rule (explicit > the file's directives > 7@256).
    ``backbone_weights`` (ImageNet weights) are not part of the spec: a checkpoint's state dict
    supersedes them. ``detector.spec`` is the spec it was built from.
    """
    if isinstance(spec, ModelSpec):
        given = {k: v for k, v in dict(num_classes=num_classes, backbone=backbone,
                                       channels=channels, stack=stack).items() if v is not None}
        if given or options:
            spec = spec.replace(**given, **options)
    else:
        if "num_anchors" in options:
            raise ModelError("num_anchors follows from anchor_scales x anchor_ratios; "
                             "do not pass it")
        given = {k: v for k, v in dict(num_classes=num_classes, backbone=backbone).items()
                 if v is not None}
        spec = ModelSpec.create(spec, stack=stack, channels=channels, **given, **options)
    network = build_network(spec, backbone_weights=backbone_weights)
    anchors = AnchorGenerator(network.strides, spec.anchor_scales, spec.anchor_ratios,
                              spec.anchor_size)
    box_coder = BoxCoder()
    loss = RetinaNetLoss(spec.num_classes, box_coder, focal_alpha=spec.focal_alpha,
                         focal_gamma=spec.focal_gamma, box_loss=spec.box_loss,
                         smooth_l1_beta=spec.smooth_l1_beta,
                         box_loss_weight=spec.box_loss_weight, positive_iou=spec.positive_iou,
                         negative_iou=spec.negative_iou,
                         allow_low_quality=spec.allow_low_quality)
    postprocessor = DetectionPostprocessor(box_coder, score_threshold=spec.score_threshold,
                                           topk_per_level=spec.topk_per_level,
                                           nms_threshold=spec.nms_threshold,
                                           detections_per_image=spec.detections_per_image)
    return Detector(network, loss=loss, postprocessor=postprocessor, anchor_generator=anchors,
                    spec=spec)
