"""The RetinaNet detector: the raw network plus anchors, losses (training) and decoding (eval).

The detector only orchestrates: :class:`~nasfpn_cli.modeling.network.RetinaNetNetwork` computes
raw head outputs, :class:`~nasfpn_cli.modeling.anchors.AnchorGenerator` lays anchors under them,
:class:`~nasfpn_cli.modeling.losses.RetinaNetLoss` trains them and
:class:`~nasfpn_cli.modeling.postprocess.DetectionPostprocessor` turns them into boxes.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ModelError
from ..genotype import Genotype
from .anchors import DEFAULT_RATIOS, DEFAULT_SCALES, AnchorGenerator, flatten_head_output
from .boxes import BoxCoder
from .losses import MatchedTargets, RetinaNetLoss
from .network import RetinaNetNetwork, build_network
from .postprocess import DetectionPostprocessor

Detections = list[dict[str, Tensor]]
# build_network arguments that build_detector sets itself rather than passing through
OWN_NETWORK_ARGUMENTS = ("deep_supervision", "exit_at", "backbone_weights", "num_anchors")


def network_option_defaults() -> dict[str, Any]:
    """The pass-through options of :func:`build_network` with their defaults (recorded in
    ``detector.config`` so a checkpoint describes its model fully)."""
    return {name: parameter.default
            for name, parameter in inspect.signature(build_network).parameters.items()
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY
            and name not in OWN_NETWORK_ARGUMENTS}


class Detector(nn.Module):
    """RetinaNet around a raw network.

    Train mode: ``detector(images, targets)`` -> ``{"cls", "box", "loss"}`` scalar losses (with
    deep supervision the sums over all stacks' exits, plus ``"cls/exitK"``, ``"box/exitK"`` per
    1-based stack ``K``). Targets are dicts with ``boxes`` (``[N, 4]`` xyxy pixels), ``labels``
    (``[N]``, 0-based) and optional ``iscrowd`` / ``ignore`` flags; ``N`` may be 0.
    Eval mode: ``detector(images)`` -> per image ``{"boxes", "scores", "labels"}``, computed at
    stack :attr:`exit_at` (anytime prediction). ``config`` holds the JSON-able build arguments
    (without the genotype) that :func:`build_detector` takes to rebuild the same detector.
    """

    def __init__(self, network: RetinaNetNetwork, *, loss: RetinaNetLoss | None = None,
                 postprocessor: DetectionPostprocessor | None = None,
                 anchor_generator: AnchorGenerator | None = None,
                 config: Mapping[str, Any] | None = None):
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
        self.config: dict[str, Any] = dict(config or {})

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


def _json_ready(name: str, value: Any) -> Any:
    """Option values as plain JSON (dataclasses become dicts); ModelError otherwise."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, tuple):
        value = list(value)
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise ModelError(f"detector option {name}={value!r} cannot be stored in a checkpoint "
                         "(not JSON-able)") from None
    return value


def build_detector(genotype: Genotype | str | Path, num_classes: int = 80,
                   backbone: str = "resnet50", channels: int | None = 256, stack: int | None = 7, *,
                   deep_supervision: bool = False, exit_at: int | None = None,
                   focal_alpha: float = 0.25, focal_gamma: float = 1.5,
                   box_loss: str = "smooth_l1", smooth_l1_beta: float = 0.11,
                   box_loss_weight: float = 1.0, positive_iou: float = 0.5,
                   negative_iou: float = 0.4, allow_low_quality: bool = True,
                   anchor_scales: Sequence[float] = DEFAULT_SCALES,
                   anchor_ratios: Sequence[float] = DEFAULT_RATIOS, anchor_size: float = 4.0,
                   score_threshold: float = 0.05, nms_threshold: float = 0.5,
                   topk_per_level: int = 1000, detections_per_image: int = 100,
                   backbone_weights: str | Path | None = None,
                   **network_options: Any) -> Detector:
    """A RetinaNet detector with the neck compiled from ``genotype``.

    ``network_options`` (``head_norm``, ``neck_norm``, ``separable``, ``dropblock``,
    ``frozen_stages``, ``frozen_bn``, ``num_convs``, ``prior_prob``) go to
    :func:`~nasfpn_cli.modeling.network.build_network`; ``channels``/``stack`` None take the
    genotype's directives. ``detector.config`` records every argument except the genotype and
    ``backbone_weights`` (a checkpoint's state dict supersedes the initial weights).
    """
    if "num_anchors" in network_options:
        raise ModelError("num_anchors follows from anchor_scales x anchor_ratios; do not pass it")
    for name, value in (("score_threshold", score_threshold), ("nms_threshold", nms_threshold)):
        if not 0.0 <= value <= 1.0:
            raise ModelError(f"{name} must lie in [0, 1] (got {value})")
    if topk_per_level < 1 or detections_per_image < 1:
        raise ModelError("topk_per_level and detections_per_image must be at least 1")
    network = build_network(genotype, num_classes, backbone, channels, stack,
                            deep_supervision=deep_supervision, exit_at=exit_at,
                            backbone_weights=backbone_weights,
                            num_anchors=len(anchor_scales) * len(anchor_ratios), **network_options)
    anchors = AnchorGenerator(network.strides, anchor_scales, anchor_ratios, anchor_size)
    box_coder = BoxCoder()
    loss = RetinaNetLoss(num_classes, box_coder, focal_alpha=focal_alpha, focal_gamma=focal_gamma,
                         box_loss=box_loss, smooth_l1_beta=smooth_l1_beta,
                         box_loss_weight=box_loss_weight, positive_iou=positive_iou,
                         negative_iou=negative_iou, allow_low_quality=allow_low_quality)
    postprocessor = DetectionPostprocessor(box_coder, score_threshold=score_threshold,
                                           topk_per_level=topk_per_level,
                                           nms_threshold=nms_threshold,
                                           detections_per_image=detections_per_image)
    options = dict(
        num_classes=num_classes, backbone=backbone, channels=network.neck.channels,
        stack=network.num_stacks, deep_supervision=deep_supervision, exit_at=exit_at,
        focal_alpha=focal_alpha, focal_gamma=focal_gamma, box_loss=box_loss,
        smooth_l1_beta=smooth_l1_beta, box_loss_weight=box_loss_weight, positive_iou=positive_iou,
        negative_iou=negative_iou, allow_low_quality=allow_low_quality,
        anchor_scales=anchor_scales, anchor_ratios=anchor_ratios, anchor_size=anchor_size,
        score_threshold=score_threshold, nms_threshold=nms_threshold,
        topk_per_level=topk_per_level, detections_per_image=detections_per_image,
        **{**network_option_defaults(), **network_options})
    config = {name: _json_ready(name, value) for name, value in options.items()}
    return Detector(network, loss=loss, postprocessor=postprocessor, anchor_generator=anchors,
                    config=config)
