"""Box geometry in plain torch: areas, IoU, GIoU, clipping, and the anchor box coder.

Boxes are ``[..., 4]`` tensors in ``(x1, y1, x2, y2)`` pixel coordinates; a box's width is
``x2 - x1`` (no "+1" convention).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

# exp() of a larger log-scale would give boxes over 1000/16 times the anchor: clamp before it
DEFAULT_SCALE_CLAMP = math.log(1000.0 / 16)


def box_area(boxes: Tensor) -> Tensor:
    """Areas of ``[N, 4]`` boxes (zero for degenerate ones)."""
    return (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)


def _pairwise_intersection(a: Tensor, b: Tensor) -> Tensor:
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    return wh[..., 0] * wh[..., 1]


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise intersection over union, ``[N, M]``; 0 where the union is empty."""
    inter = _pairwise_intersection(a, b)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=torch.finfo(union.dtype).tiny),
                       torch.zeros_like(inter))


def box_ioa(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise intersection over the area of ``a``, ``[N, M]``: how much of each ``a`` box lies
    inside each ``b`` box (used for crowd regions, which may cover many objects)."""
    inter = _pairwise_intersection(a, b)
    area = box_area(a)[:, None]
    return torch.where(area > 0, inter / area.clamp(min=torch.finfo(area.dtype).tiny),
                       torch.zeros_like(inter))


def paired_giou(a: Tensor, b: Tensor, eps: float = 1e-7) -> Tensor:
    """Generalised IoU of ``a[i]`` with ``b[i]`` (element-wise, ``[N]``), in ``[-1, 1]``."""
    inter_wh = (torch.minimum(a[:, 2:], b[:, 2:]) - torch.maximum(a[:, :2], b[:, :2])).clamp(min=0)
    inter = inter_wh[:, 0] * inter_wh[:, 1]
    union = box_area(a) + box_area(b) - inter
    iou = inter / (union + eps)
    hull_wh = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])).clamp(min=0)
    hull = hull_wh[:, 0] * hull_wh[:, 1]
    return iou - (hull - union) / (hull + eps)


def clip_boxes(boxes: Tensor, height: int, width: int) -> Tensor:
    """Boxes clipped to an image of ``height`` x ``width`` pixels."""
    x = boxes[..., 0::2].clamp(min=0, max=width)
    y = boxes[..., 1::2].clamp(min=0, max=height)
    return torch.stack((x[..., 0], y[..., 0], x[..., 1], y[..., 1]), dim=-1)


class BoxCoder:
    """Encodes boxes as deltas ``(dx, dy, dw, dh)`` relative to anchors, and back.

    ``dx = wx * (cx - cx_a) / w_a``, ``dw = ww * log(w / w_a)`` (and likewise for y/h);
    decoding clamps ``dw``/``dh`` at ``scale_clamp`` so ``exp`` cannot overflow.
    """

    def __init__(self, weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0),
                 scale_clamp: float = DEFAULT_SCALE_CLAMP):
        self.weights = tuple(float(w) for w in weights)
        self.scale_clamp = float(scale_clamp)

    @staticmethod
    def _centre_size(boxes: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        widths = boxes[..., 2] - boxes[..., 0]
        heights = boxes[..., 3] - boxes[..., 1]
        return boxes[..., 0] + 0.5 * widths, boxes[..., 1] + 0.5 * heights, widths, heights

    def encode(self, boxes: Tensor, anchors: Tensor) -> Tensor:
        """Deltas ``[..., 4]`` that turn ``anchors`` into ``boxes`` (same shapes)."""
        wx, wy, ww, wh = self.weights
        cx, cy, w, h = self._centre_size(boxes)
        acx, acy, aw, ah = self._centre_size(anchors)
        return torch.stack((wx * (cx - acx) / aw, wy * (cy - acy) / ah,
                            ww * torch.log(w / aw), wh * torch.log(h / ah)), dim=-1)

    def decode(self, deltas: Tensor, anchors: Tensor) -> Tensor:
        """Boxes ``[..., 4]`` from ``deltas`` applied to ``anchors`` (broadcasting)."""
        wx, wy, ww, wh = self.weights
        acx, acy, aw, ah = self._centre_size(anchors.to(deltas.dtype))
        dx, dy = deltas[..., 0] / wx, deltas[..., 1] / wy
        dw = (deltas[..., 2] / ww).clamp(max=self.scale_clamp)
        dh = (deltas[..., 3] / wh).clamp(max=self.scale_clamp)
        cx, cy = dx * aw + acx, dy * ah + acy
        half_w, half_h = 0.5 * torch.exp(dw) * aw, 0.5 * torch.exp(dh) * ah
        return torch.stack((cx - half_w, cy - half_h, cx + half_w, cy + half_h), dim=-1)
