"""Where a model to measure comes from: a genotype (file or bundled name, built fresh with the
command's model options) or a training checkpoint (its stored model and weights).

Used by ``bench`` and ``compare``, which accept either on the command line.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


@dataclass(frozen=True)
class ModelOptions:
    """The model options of commands that build a detector from a bare genotype."""

    backbone: str = "resnet50"
    stack: int | None = None
    channels: int | None = None
    num_classes: int = 80
    head_norm: str = "gn"
    deep_supervision: bool = False

    def build(self, genotype: Any) -> nn.Module:
        from ..modeling.detector import build_detector

        return build_detector(genotype, self.num_classes, self.backbone, self.channels,
                              self.stack, deep_supervision=self.deep_supervision,
                              head_norm=self.head_norm)


@dataclass
class ModelSource:
    """A detector with its name, what it was made from, and (for checkpoints) the stored
    configuration."""

    name: str
    kind: str  # "genotype" or "checkpoint"
    path: str
    detector: nn.Module
    genotype: Any
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def training_image_size(self) -> int | None:
        size = self.config.get("train", {}).get("image_size")
        return int(size) if size else None

    @property
    def backbone_channels(self) -> list[int]:
        from ..modeling.backbones import backbone_spec

        return list(backbone_spec(self.detector.config["backbone"]).out_channels)


def is_checkpoint(spec: str) -> bool:
    """A checkpoint file (by suffix) rather than a genotype file or name."""
    return Path(spec).suffix.lower() in CHECKPOINT_SUFFIXES


def load_source(spec: str, options: ModelOptions) -> ModelSource:
    """The detector ``spec`` names: a checkpoint's (weights loaded) or one built from a
    genotype with ``options``; CheckpointError / GenotypeNotFound otherwise."""
    if is_checkpoint(spec):
        from ..genotype import parse_genotype
        from ..modeling.restore import detector_from_checkpoint, read_checkpoint

        state = read_checkpoint(spec)
        detector = detector_from_checkpoint(state, spec)
        config = dict(state["config"])
        genotype = parse_genotype(config["genotype_text"], f"{spec}:genotype_text")
        return ModelSource(genotype.name or Path(spec).stem, "checkpoint", spec, detector.eval(),
                           genotype, config)
    from ..modeling.neck import resolve_genotype

    genotype = resolve_genotype(spec)
    return ModelSource(genotype.name or Path(spec).stem, "genotype", spec,
                       options.build(genotype).eval(), genotype)


def unique_names(names: list[str]) -> list[str]:
    """Repeated names get ``#2``, ``#3``... so rows and points stay distinguishable."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        result.append(name if count == 1 else f"{name}#{count}")
    return result
