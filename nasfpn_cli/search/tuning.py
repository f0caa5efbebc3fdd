"""``nasfpn search calibrate --tune``: choose the cheapest proxy that ranks like the reference,
from a calibration's recorded trainings alone (nothing is trained again).

Every training of a calibration records its learning curve (AP and AP50 after each epoch), so
one calibration already holds a ladder of cheaper proxies, each one a setting a search can run:

- the proxy or the reference *stopped at epoch e* (``stop_epoch``: the schedule still planned
  for all its epochs), scoring AP or AP50;
- the same, its last two points *extrapolated* linearly to the end of the schedule.

Each rung is judged against the reference's final score (its mean over seeds) by Kendall's tau,
Spearman's rho and the top-k overlap (:mod:`.fidelity`). Choosing on all K architectures would
flatter the winner, so the architectures are split in two seeded halves: the rung is chosen on
one and its figures on the other half are reported beside the ones on all. The rule: the
cheapest rung whose tau on that half reaches the target, whose top-k overlap there is at least
2/3, and whose tau interval there does not reach below :data:`MIN_TAU_LOW` (a rung that
reaches the target by the luck of a few pairs is passed over); when no rung clears that bar,
of those that meet the rest the one whose interval reaches highest, within a third of the
reference's cost (:data:`MAX_COST`), said to be a weak choice. The chosen settings go to
``OUT/proxy.toml`` (``nasfpn search --proxy-config OUT/proxy.toml``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SearchError, UsageError
from .fidelity import Fidelity, measure_fidelity
from .proxy_task import extrapolate

MIN_OVERLAP = 2 / 3  # top-k overlap a chosen proxy needs on the architectures it is chosen on
# the low end of the chosen half's 90% interval of tau a rung must clear (issue 17's own bar),
# with the rule without it as the fallback: on the K = 16 tables the bar chose the rung that held
# out on shapes (0.86 against 0.57), and on digits no rung clears it, so the fallback chose the
# one that held out there (0.93); the shapes search with the bar-less choice found pyramids far
# below the bundled ones (benchmarks/tuning_rule.py, docs/search.md)
MIN_TAU_LOW = 0.2
# the fallback's cost limit, as a fraction of one reference training (issue 17's cost goal):
# when no rung clears the bar, the cheapest rung that reaches the target is the luckiest of many
# on the chosen half, and more so the longer the ladder (on the K = 16 digits table with the e8,
# i600e2 and s96 rungs it held out at 0.57 where the surest within this cost held 0.86)
MAX_COST = 1 / 3
LADDER_RESAMPLES = 300  # bootstrap resamples per rung (the chosen one gets the full count)
CURVE_ORDER = ("ap", "ap50")  # the metrics of a recorded curve, in the order of the tables


@dataclass(frozen=True)
class Rung:
    """One candidate proxy: what it is, the settings that run it, its cost as a fraction of one
    reference training, and its score per architecture and seed."""

    name: str
    settings: dict[str, Any]
    cost: float
    scores: np.ndarray = field(repr=False)


@dataclass
class RungResult:
    name: str
    settings: dict[str, Any]
    cost: float
    all: Fidelity
    chosen_on: Fidelity
    held_out: Fidelity

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "settings": self.settings, "cost": self.cost,
                "all": self.all.to_dict(), "chosen_on": self.chosen_on.to_dict(),
                "held_out": self.held_out.to_dict()}


@dataclass
class Tuning:
    target: float
    split: tuple[list[str], list[str]]  # architectures chosen on, held out
    rungs: list[RungResult]
    chosen: RungResult | None
    cleared_bar: bool = True  # False: no rung's interval cleared the bar; chosen without it

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "chosen_on": self.split[0], "held_out": self.split[1],
                "chosen": None if self.chosen is None else self.chosen.name,
                "cleared_bar": self.cleared_bar,
                "rungs": [rung.to_dict() for rung in self.rungs]}


def check_target(target: float) -> float:
    if not (isinstance(target, (int, float)) and math.isfinite(target) and 0 < target <= 1):
        raise UsageError(f"--target must be in (0, 1], got {target}")
    return float(target)


def build_ladder(curves: dict[str, np.ndarray], settings: dict[str, dict[str, Any]],
                 seconds: dict[str, float]) -> list[Rung]:
    """The rungs recorded ``curves`` give. ``curves[schedule]`` is [architectures, seeds,
    metrics, epochs] in :data:`CURVE_ORDER` metric order; ``settings[schedule]`` the options
    that schedule ran with; ``seconds`` the mean seconds of one training per schedule."""
    reference_seconds = seconds["reference"]
    rungs = []
    for schedule, table in curves.items():
        total = table.shape[3]
        for m, metric in enumerate(CURVE_ORDER):
            for epoch in range(1, total + 1):
                if schedule == "reference" and epoch == total:
                    continue  # the reference itself
                cost = seconds[schedule] * epoch / total / reference_seconds
                stop = {"stop_epoch": epoch} if epoch < total else {}
                base = {**settings[schedule], **stop, "score": metric}
                rungs.append(Rung(f"{schedule} stopped at epoch {epoch}/{total}, {metric}",
                                  base, cost, table[:, :, m, epoch - 1]))
                if 2 <= epoch < total:
                    values = np.apply_along_axis(
                        lambda c: extrapolate(list(c), epoch, total), 2, table[:, :, m, :])
                    rungs.append(Rung(f"{schedule} at epoch {epoch}/{total} extrapolated, "
                                      f"{metric}", {**base, "extrapolate": True}, cost, values))
    return sorted(rungs, key=lambda rung: rung.cost)


def split_architectures(names: list[str], seed: int) -> tuple[list[int], list[int]]:
    """Two halves of the architectures, drawn with ``seed`` (the first is chosen on)."""
    order = np.random.default_rng(seed).permutation(len(names)).tolist()
    half = (len(names) + 1) // 2
    return sorted(order[:half]), sorted(order[half:])


def tune(names: list[str], target_scores: np.ndarray, ladder: list[Rung], *, target: float,
         top_k: int, seed: int, min_low: float | None = MIN_TAU_LOW,
         fallback: str | None = "surest") -> Tuning:
    """Judge every rung against ``target_scores`` [architectures, seeds] and choose the
    cheapest that reaches ``target`` on the first half of a seeded split, with the low end of
    its tau interval there at least ``min_low`` (None: no such bar); when none clears the bar,
    ``fallback`` chooses among those that reach the target alone (``cleared_bar`` False):
    ``"surest"`` the one with the highest low end that costs at most :data:`MAX_COST` (else the
    cheapest), ``"cheapest"`` the cheapest, None nothing. See the module docstring."""
    target = check_target(target)
    if len(names) < 6:
        raise SearchError(f"--tune needs at least 6 architectures to split in two halves of 3, "
                          f"got {len(names)}", hint="calibrate more (--sampled, --poor)")
    chosen_on, held_out = split_architectures(names, seed)
    k_half = max(1, min(top_k, len(chosen_on) - 1))
    results: list[RungResult] = []
    chosen: RungResult | None = None
    reaching: list[RungResult] = []  # those that reach the target, bar or not, cheapest first
    for rung in ladder:
        def judge(rows: list[int], k: int, resamples: int = LADDER_RESAMPLES) -> Fidelity:
            return measure_fidelity(rung.scores[rows], target_scores[rows], top_k=k,
                                    resamples=resamples, seed=seed)

        every = list(range(len(names)))
        result = RungResult(rung.name, rung.settings, round(rung.cost, 4),
                            judge(every, top_k), judge(chosen_on, k_half),
                            judge(held_out, k_half))
        results.append(result)
        tau, low = result.chosen_on.kendall_tau.value, result.chosen_on.kendall_tau.low
        if tau is None or tau < target or result.chosen_on.top_k_overlap < MIN_OVERLAP:
            continue
        reaching.append(result)
        if chosen is None and (min_low is None or (low is not None and low >= min_low)):
            chosen = result
    cleared_bar = chosen is not None
    if chosen is None and fallback is not None and reaching:
        chosen = FALLBACKS[fallback](reaching)
    if chosen is not None:  # the chosen one's intervals with the full bootstrap
        rung = next(r for r in ladder if r.name == chosen.name)
        chosen.all = measure_fidelity(rung.scores, target_scores, top_k=top_k, seed=seed)
        chosen.held_out = measure_fidelity(rung.scores[held_out], target_scores[held_out],
                                           top_k=k_half, seed=seed)
    return Tuning(target, ([names[i] for i in chosen_on], [names[i] for i in held_out]),
                  results, chosen, cleared_bar)


def _surest(reaching: list[RungResult]) -> RungResult:
    """The rung whose tau interval on the chosen half reaches highest at its low end, within
    :data:`MAX_COST` (ties: the cheaper); the cheapest when none is within it."""
    affordable = [r for r in reaching if r.cost <= MAX_COST + 1e-9]
    if not affordable:
        return reaching[0]
    return max(affordable, key=lambda r: (r.chosen_on.kendall_tau.low
                                          if r.chosen_on.kendall_tau.low is not None
                                          else -math.inf, -r.cost))


# how a rung is chosen when none clears the bar, from those that reach the target (cheapest first)
FALLBACKS = {"surest": _surest, "cheapest": lambda reaching: reaching[0]}


def proxy_toml(settings: dict[str, Any], comment: str) -> str:
    """The chosen settings as a ``--proxy-config`` file: a ``[proxy]`` table of ProxySettings
    fields (TOML values written by hand: strings, numbers, booleans)."""
    lines = [f"# {line}" for line in comment.splitlines()] + ["[proxy]"]
    for key, value in settings.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float)):
            text = repr(value)
        else:
            text = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def write_tuning_plot(tuning: Tuning, path: Path) -> Path:
    """Kendall tau (all architectures, 90% interval) against cost, one point per rung."""
    from ..engine.plotting import new_figure, save_figure

    fig, ax = new_figure()
    for rung in tuning.rungs:
        tau = rung.all.kendall_tau
        if tau.value is None:
            continue
        colour = "tab:red" if tuning.chosen is rung else (
            "tab:blue" if rung.name.startswith("reference") else "tab:orange")
        # a bootstrap percentile interval need not contain the point estimate: clamp the bars
        low = max(0.0, tau.value - (tau.low if tau.low is not None else tau.value))
        high = max(0.0, (tau.high if tau.high is not None else tau.value) - tau.value)
        ax.errorbar(rung.cost, tau.value, yerr=[[low], [high]], fmt="o", color=colour,
                    alpha=0.8 if tuning.chosen is rung else 0.35, capsize=2)
    ax.axhline(tuning.target, color="grey", linestyle="--", linewidth=1)
    for label, colour in (("reference stopped early", "tab:blue"),
                          ("proxy stopped early", "tab:orange"), ("chosen", "tab:red")):
        ax.plot([], [], "o", color=colour, label=label)
    ax.set(xlabel="cost (fraction of one reference training)",
           ylabel="Kendall tau against the reference", title="proxy ladder")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return save_figure(fig, path)


__all__ = ["Rung", "RungResult", "Tuning", "build_ladder", "proxy_toml", "tune"]
