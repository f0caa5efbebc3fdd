"""``ImageIO``: the detector's view of images, in one object (as torchvision's detection
transform): resize the longer side to ``size``, pad to a square canvas, normalise with the
ImageNet statistics, and map predicted boxes back to the original image's pixels.

Evaluation, prediction and FLOP counting take their image geometry from here, so a detection always lands on the pixel it was predicted for.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from ..modeling.boxes import clip_boxes
from .transforms import EvalTransform, to_normalized_tensor


@dataclass(frozen=True)
class Prepared:
    """One image made ready for the detector: the normalised ``tensor`` [3, S, S], the resize
    ``scale`` (transformed / original) and the original ``(height, width)``."""

    tensor: torch.Tensor
    scale: float
    original_size: tuple[int, int]


def padded_size(height: int, width: int, divisor: int) -> tuple[int, int]:
    """``height`` x ``width`` rounded up to multiples of ``divisor`` (the network pads so)."""
    return -(-height // divisor) * divisor, -(-width // divisor) * divisor


def to_original(boxes: torch.Tensor, scale: Any, original_size: tuple[int, int]) -> torch.Tensor:
    """Boxes (xyxy, network-input pixels) in the original image's pixels: divided by the resize
    ``scale`` (a number or an (x, y) pair) and clipped to the image."""
    values = torch.as_tensor(scale, dtype=torch.float32).flatten().tolist()
    sx, sy = (values[0], values[-1])  # one number, or an (x, y) pair
    boxes = boxes.detach().float().cpu() / torch.tensor([sx, sy, sx, sy])
    height, width = (int(v) for v in original_size)
    return clip_boxes(boxes, height, width)


@dataclass(frozen=True)
class ImageIO:
    """Images in and boxes out for a detector run at ``size`` x ``size`` pixels."""

    size: int

    def prepare(self, image: Image.Image) -> Prepared:
        """An RGB image resized, padded and normalised as evaluation sees it."""
        empty = {"boxes": torch.zeros(0, 4).numpy(), "labels": torch.zeros(0).long().numpy()}
        resized, info = EvalTransform(self.size)(image.convert("RGB"), empty)
        return Prepared(to_normalized_tensor(resized), float(info["scale"]),
                        (image.height, image.width))

    def detect(self, detector: torch.nn.Module, image: Image.Image) -> dict[str, torch.Tensor]:
        """The detector's detections of one image, boxes in the image's own pixels."""
        prepared = self.prepare(image)
        device = next(detector.parameters()).device
        output = detector(prepared.tensor.unsqueeze(0).to(device))[0]
        return {**output, "boxes": to_original(output["boxes"], prepared.scale,
                                               prepared.original_size)}
