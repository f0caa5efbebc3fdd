"""Every winner judged against the best anchor: a seeded search's final selection scores the
anchors (its seed pyramids) beside its best at the same seeds, and this module says, for each
winner, which anchor it is nearest to, how far (edits), at what neck cost relative to it, and
by how much it beats or trails the best anchor, paired seed by seed, with an interval.

Beyond noise means: the paired mean difference exceeds both two of its standard errors and
0.005 (the goal the anchored search is held to). With 2 repeats an interval is wide; say so
rather than call a winner.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from .final import FinalArchitecture

MIN_LEAD = 0.005  # a lead smaller than this is no lead, however tight its interval


@dataclass(frozen=True)
class AnchorComparison:
    """One winner against the anchors: its nearest anchor (name, edits, MACs ratio) and its
    paired difference from the best anchor (mean, two standard errors, the repeats paired)."""

    hash: str
    mean: float
    nearest: str
    distance: int | None
    macs_ratio: float | None
    best_anchor: str
    difference: float
    error: float  # two standard errors of the paired difference (nan with one pair)
    pairs: int

    @property
    def beats(self) -> bool:
        return self.pairs >= 2 and self.difference > max(self.error, MIN_LEAD)

    @property
    def trails(self) -> bool:
        return self.pairs >= 2 and -self.difference > max(self.error, MIN_LEAD)


def paired_difference(ours: Sequence[float], theirs: Sequence[float]) -> tuple[float, float, int]:
    """Mean of ``ours[i] - theirs[i]`` over the pairs both have, two standard errors, pairs."""
    pairs = [a - b for a, b in zip(ours, theirs)]
    if not pairs:
        return math.nan, math.nan, 0
    mean = sum(pairs) / len(pairs)
    if len(pairs) < 2:
        return mean, math.nan, 1
    std = math.sqrt(sum((d - mean) ** 2 for d in pairs) / (len(pairs) - 1))
    return mean, 2 * std / math.sqrt(len(pairs)), len(pairs)


def compare_to_anchors(final: list[FinalArchitecture], anchors: dict[str, str],
                       distance: Callable[[tuple[int, ...], tuple[int, ...]], int] | None,
                       macs: Callable[[tuple[int, ...]], int] | None = None
                       ) -> list[AnchorComparison]:
    """The winners of ``final`` (those that are not anchors; ``anchors`` maps hash -> name)
    against the anchors scored beside them. ``distance`` gives the edits between two points
    (None: the space has no edits), ``macs`` a point's neck MACs (None: not shown)."""
    scored = [arch for arch in final if arch.hash in anchors]
    if not scored:
        return []
    best = max(scored, key=lambda arch: arch.mean)
    anchor_macs = {arch.hash: macs(arch.decisions) for arch in scored} if macs else {}
    comparisons = []
    for arch in final:
        if arch.hash in anchors:
            continue
        if distance is not None:
            steps = {a.hash: distance(arch.decisions, a.decisions) for a in scored}
            nearest = min(scored, key=lambda a: (steps[a.hash], -a.mean))
            edits: int | None = steps[nearest.hash]
        else:
            nearest, edits = best, None
        ratio = (macs(arch.decisions) / anchor_macs[nearest.hash]
                 if macs and anchor_macs.get(nearest.hash) else None)
        difference, error, pairs = paired_difference(arch.repeats, best.repeats)
        comparisons.append(AnchorComparison(arch.hash, arch.mean, anchors[nearest.hash], edits,
                                            ratio, anchors[best.hash], difference, error, pairs))
    return comparisons


def judge_search(output_dir, final: list[FinalArchitecture]) -> list[AnchorComparison]:
    """:func:`compare_to_anchors` for the search in ``output_dir``: its seeds are the anchors,
    edits measure the distance (the anchored space), MACs are the search's reward's."""
    from .rewards import RewardSpec, build_reward
    from .runner import load_config
    from .spaces import space_from_dict

    identity = load_config(output_dir)["identity"]
    seeds = identity.get("seed_from") or []
    if not seeds or not final:
        return []
    space = space_from_dict(identity["space"])
    anchors = {space.hash(tuple(seed["decisions"])): seed["name"] for seed in seeds}
    distance = None
    if hasattr(space, "cell_count"):  # the anchored space has edits
        from .edits import edit_distance

        def distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
            return edit_distance(space, a, b)
    reward = build_reward(RewardSpec.from_dict(identity["reward"]), space, output_dir)
    return compare_to_anchors(final, anchors, distance,
                              lambda decisions: reward.cost(space.to_genotype(decisions)))


def verdict(comparisons: list[AnchorComparison]) -> str:
    """One line: did any winner beat the best anchor beyond noise?"""
    if not comparisons:
        return ""
    best = comparisons[0].best_anchor
    winners = [c for c in comparisons if c.beats]
    if winners:
        top = max(winners, key=lambda c: c.difference)
        return (f"{top.hash} beats the best anchor {best} by {top.difference:+.4f} "
                f"(+- {top.error:.4f}, {top.pairs} paired seeds)")
    return (f"nothing beat the best anchor {best} beyond noise (a lead above two standard errors "
            f"and {MIN_LEAD:g}, paired seed by seed)")


__all__ = ["AnchorComparison", "compare_to_anchors", "judge_search", "paired_difference",
           "verdict"]
