"""Where a model to measure comes from: a genotype (file or bundled name, built fresh from a
:class:`~nasfpn_cli.modeling.spec.ModelSpec` of the command's model options) or a training
checkpoint (its stored spec and weights). Used by ``bench`` and ``compare``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from ..modeling.spec import ModelSpec

# training checkpoints, and detector weights files (`nasfpn export --to safetensors`)
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors")


@dataclass
class ModelSource:
    """A detector with its name, what it was made from and the size it was trained at."""

    name: str
    kind: str  # "genotype" or "checkpoint"
    path: str
    spec: ModelSpec
    detector: nn.Module
    training_image_size: int | None = None

    @property
    def backbone_channels(self) -> list[int]:
        from ..modeling.backbones import backbone_spec

        return list(backbone_spec(self.spec.backbone).out_channels)


def is_checkpoint(argument: str) -> bool:
    """A checkpoint file (by suffix) rather than a genotype file or name."""
    return Path(argument).suffix.lower() in CHECKPOINT_SUFFIXES


def load_source(argument: str, spec_for: Callable[[str], ModelSpec]) -> ModelSource:
    """The detector ``argument`` names: a checkpoint's (weights loaded) or the one
    ``spec_for(argument)`` describes for a genotype; CheckpointError / GenotypeNotFound."""
    from ..modeling.detector import build_detector
    from .checkpoint import Checkpoint

    if is_checkpoint(argument):
        stored = Checkpoint.read(argument)
        spec = stored.spec
        return ModelSource(spec.genotype.name or Path(argument).stem, "checkpoint", argument,
                           spec, stored.detector(), stored.image_size)
    spec = spec_for(argument)
    return ModelSource(spec.genotype.name or Path(argument).stem, "genotype", argument, spec,
                       build_detector(spec).eval())
