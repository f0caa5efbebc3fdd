"""The RetinaNet head: a classification and a box-regression branch shared across pyramid levels."""
from __future__ import annotations

import math
from typing import List, Tuple

from torch import Tensor, nn

from ..errors import ModelError
from .layers import ConvNormAct, make_norm


def _branch(channels: int, num_convs: int, norm: str) -> nn.Sequential:
    """``num_convs`` x (Conv3x3 -> norm -> ReLU); the conv has a bias only without a norm."""
    return nn.Sequential(*(
        ConvNormAct(nn.Conv2d(channels, channels, 3, padding=1, bias=norm == "none"),
                    make_norm(norm, channels))
        for _ in range(num_convs)))


class RetinaHead(nn.Module):
    """Shared RetinaNet head.

    ``forward([P3..P7])`` returns ``(cls_logits, box_deltas)``: per level, tensors of shape
    B x (A*K) x H x W and B x (A*4) x H x W (A anchors per location, K classes). Convs start from
    N(0, 0.01); the classification bias starts at -log((1 - p) / p) so every anchor first predicts
    foreground with probability ``prior_prob`` (focal-loss initialisation).
    """

    def __init__(self, in_channels: int, num_classes: int, num_anchors: int = 9, num_convs: int = 4,
                 norm: str = "gn", prior_prob: float = 0.01):
        super().__init__()
        if num_classes < 1:
            raise ModelError(f"num_classes must be at least 1 (got {num_classes})")
        if num_anchors < 1 or num_convs < 0:
            raise ModelError(f"bad head shape: num_anchors={num_anchors}, num_convs={num_convs}")
        if not 0.0 < prior_prob < 1.0:
            raise ModelError(f"prior_prob must be in (0, 1) (got {prior_prob})")
        self.num_classes = num_classes
        self.num_anchors = num_anchors
        self.cls_subnet = _branch(in_channels, num_convs, norm)
        self.box_subnet = _branch(in_channels, num_convs, norm)
        self.cls_score = nn.Conv2d(in_channels, num_anchors * num_classes, 3, padding=1)
        self.box_pred = nn.Conv2d(in_channels, num_anchors * 4, 3, padding=1)
        self.reset_parameters(prior_prob)

    def reset_parameters(self, prior_prob: float = 0.01) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, std=0.01)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.constant_(self.cls_score.bias, -math.log((1.0 - prior_prob) / prior_prob))

    def forward(self, features: List[Tensor]) -> Tuple[List[Tensor], List[Tensor]]:
        cls_logits: List[Tensor] = []
        box_deltas: List[Tensor] = []
        for feature in features:
            cls_logits.append(self.cls_score(self.cls_subnet(feature)))
            box_deltas.append(self.box_pred(self.box_subnet(feature)))
        return cls_logits, box_deltas
