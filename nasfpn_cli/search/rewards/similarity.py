"""``similarity:GENOTYPE``: the fraction of decisions that match a target genotype.

Instant, so it shows whether a controller learns at all: a controller that cannot climb to a
known architecture under this reward cannot be trusted with an expensive one.
"""
from __future__ import annotations

from typing import Any

from ...errors import NasfpnError, SearchError
from ...genotype import load_genotype
from ..space import SearchSpace
from . import Candidate, register_reward


class SimilarityReward:
    def __init__(self, space: SearchSpace, target: tuple[int, ...]):
        self.space = space
        self.target = target

    def __call__(self, candidate: Candidate) -> float:
        return self.space.similarity(candidate.decisions, self.target)


@register_reward("similarity", uses=())  # trains nothing: no --proxy-* flags
def similarity_reward(argument: str | None, space: SearchSpace,
                      options: dict[str, Any]) -> SimilarityReward:
    if not argument:
        raise SearchError("--reward similarity needs a target: --reward similarity:GENOTYPE",
                          hint="e.g. --reward similarity:nasfpn")
    try:
        target = space.encode(load_genotype(argument))
    except NasfpnError as exc:
        raise SearchError(f"--reward similarity:{argument}: {exc}") from exc
    return SimilarityReward(space, target)
