"""Cost-aware search (``--macs-target M --macs-weight w``): MnasNet's soft constraint on MACs.

The reward of an architecture whose neck needs more than ``M`` multiply-adds is its score times
``(MACs / M) ** w`` (``w`` < 0: the further above the target, the lower); at or below the target
the score is the reward. MACs are the neck's alone, counted with the fvcore counter
(:func:`nasfpn_cli.analysis.counting.count_neck`) for the model the proxy trains (its backbone's
channels, ``--proxy-channels``, ``--proxy-stack``, ``--proxy-image-size``): once per architecture,
in the worker that scores it, and stored with its reward in ``trials.jsonl``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..errors import SearchError

DEFAULT_WEIGHT = -0.07  # MnasNet's soft-constraint exponent
REFERENCE_GENOTYPES = ("fpn", "panet", "nasfpn", "bifpn")  # hand-designed points of comparison


@dataclass(frozen=True)
class MacsObjective:
    target: float  # neck multiply-adds
    weight: float = DEFAULT_WEIGHT

    def __post_init__(self) -> None:
        if not self.target > 0:
            raise SearchError(f"--macs-target must be > 0 multiply-adds, got {self.target}")
        if self.weight > 0:
            raise SearchError(f"--macs-weight must be <= 0 (a penalty above the target), got "
                              f"{self.weight}")

    def reward(self, score: float, macs: int) -> float:
        """``score x (MACs / target) ** weight`` above the target, the score below it."""
        if macs <= self.target:
            return score
        return score * (macs / self.target) ** self.weight

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "MacsObjective | None":
        return None if data is None else cls(float(data["target"]), float(data["weight"]))


def neck_macs(genotype, config) -> int:
    """Multiply-adds per image of ``genotype``'s neck as the training ``config`` (a TrainConfig,
    e.g. a proxy's) builds it, at its image size."""
    from ..analysis.counting import count_neck

    spec = config.model_spec(genotype, num_classes=1)  # the neck does not depend on classes
    return int(count_neck(spec, image_size=config.image_size).macs)
