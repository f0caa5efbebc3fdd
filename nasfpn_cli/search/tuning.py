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
reference's cost (:data:`MAX_COST`), said to be a weak choice.

Two checks follow, each a *paired* comparison of Kendall tau on all K architectures
(:func:`.fidelity.compare_fidelity`: the same resampled architectures for both proxies):

- **never worse than the default proxy**: the rule's choice replaces the calibrated proxy only
  when it ranks as well (:func:`as_good`); on a calibration of fewer than
  :data:`MIN_ARCHITECTURES` architectures, a weak one, only a *cheaper* rung whose tau is at
  least the default's, else the default stays;
- **the precision**: where the ladder holds the chosen rung in the other numerics too (a
  calibration of the proxy with ``--proxy-amp on --proxy-channels-last on``, its reference
  trainings reused, given as ``--ladder-from``: the same seeds), the cheaper of the two is taken
  when it ranks as well as the other and as the default.

The chosen settings go to ``OUT/proxy.toml`` (``nasfpn search --proxy-config OUT/proxy.toml``)
with the paired difference from the default proxy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SearchError, UsageError
from .fidelity import Estimate, Fidelity, compare_fidelity, measure_fidelity
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
# a calibration of fewer architectures is weak: with about 5 per half no rule can choose (a
# tuning on 10 chose a proxy at tau 0.56 on all against the default's 0.87; issue 29), so it
# keeps the default unless a cheaper rung ranks at least as well on all of them
MIN_ARCHITECTURES = 16
# the settings that make a proxy's numerics: a rung's twin differs from it in these alone
NUMERICS = ("amp", "channels_last")


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
class Comparison:
    """A paired comparison of two proxies on all architectures: Kendall tau of ``first`` minus
    that of ``second``, with its interval, and whether ``first`` ranks as well (:func:`as_good`)."""

    first: str
    second: str
    difference: Estimate
    as_good: bool

    def to_dict(self) -> dict[str, Any]:
        return {"first": self.first, "second": self.second,
                "difference": self.difference.__dict__, "as_good": self.as_good}


@dataclass
class Tuning:
    target: float
    split: tuple[list[str], list[str]]  # architectures chosen on, held out
    rungs: list[RungResult]
    chosen: RungResult | None
    cleared_bar: bool = True  # False: no rung's interval cleared the bar; chosen without it
    default: RungResult | None = None  # the calibrated proxy (None: tuned without one)
    weak: bool = False  # fewer than MIN_ARCHITECTURES architectures
    ruled: str | None = None  # what the rule chose, before the checks against the default
    kept_default: str | None = None  # why the rule's choice was not taken (the default kept)
    ruled_from_default: Estimate | None = None  # the rule's choice against the default
    from_default: Comparison | None = None  # the chosen proxy against the default
    precision: Comparison | None = None  # the chosen one's twin in the other numerics
    precision_verdict: str = ""  # what became of the twin, in words

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "chosen_on": self.split[0], "held_out": self.split[1],
                "chosen": None if self.chosen is None else self.chosen.name,
                "cleared_bar": self.cleared_bar,
                "default": None if self.default is None else self.default.name,
                "weak_calibration": self.weak, "rule_chose": self.ruled,
                "kept_default": self.kept_default,
                "rule_choice_from_default": None if self.ruled_from_default is None
                else self.ruled_from_default.__dict__,
                "from_default": None if self.from_default is None else self.from_default.to_dict(),
                "precision": None if self.precision is None else {
                    **self.precision.to_dict(), "verdict": self.precision_verdict},
                "rungs": [rung.to_dict() for rung in self.rungs]}


def as_good(difference: Estimate, weak: bool) -> bool:
    """Whether a proxy ranks as well as another, from the paired difference of their tau (it
    minus the other): no worse beyond noise (the interval reaches 0), or in a weak calibration,
    where the interval says little, not worse at all (the difference itself at least 0)."""
    if difference.value is None:
        return False
    if weak or difference.high is None:
        return difference.value >= -1e-9
    return difference.high >= 0


def numerics_label(settings: dict[str, Any]) -> str:
    """A rung's numerics: ``bf16`` (mixed precision: fp16 on CUDA), or ``fp32``."""
    return "bf16" if settings.get("amp") in ("on", True) else "fp32"


def _twin_key(settings: dict[str, Any]) -> tuple:
    return tuple(sorted((key, repr(value)) for key, value in settings.items()
                        if key not in NUMERICS))


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
         fallback: str | None = "surest", default: Rung | None = None) -> Tuning:
    """Judge every rung against ``target_scores`` [architectures, seeds] and choose the
    cheapest that reaches ``target`` on the first half of a seeded split, with the low end of
    its tau interval there at least ``min_low`` (None: no such bar); when none clears the bar,
    ``fallback`` chooses among those that reach the target alone (``cleared_bar`` False):
    ``"surest"`` the one with the highest low end that costs at most :data:`MAX_COST` (else the
    cheapest), ``"cheapest"`` the cheapest, None nothing. With the ``default`` proxy (the one
    calibrated) the choice is then checked against it and the cheaper numerics taken where they
    rank as well (:func:`settle`). See the module docstring."""
    target = check_target(target)
    if len(names) < 6:
        raise SearchError(f"--tune needs at least 6 architectures to split in two halves of 3, "
                          f"got {len(names)}", hint="calibrate more (--sampled, --poor)")
    if default is not None:
        default = next((rung for rung in ladder if _same(rung, default)), default)
        if default not in ladder:
            ladder = sorted([*ladder, default], key=lambda rung: rung.cost)
    twins = _twins(ladder, default)
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
        if tau is None or tau < target or result.chosen_on.top_k_overlap < MIN_OVERLAP \
                or rung.name in twins:  # the other numerics: compared paired, not raced
            continue
        reaching.append(result)
        if chosen is None and (min_low is None or (low is not None and low >= min_low)):
            chosen = result
    cleared_bar = chosen is not None
    if chosen is None and fallback is not None and reaching:
        chosen = FALLBACKS[fallback](reaching)
    tuning = Tuning(target, ([names[i] for i in chosen_on], [names[i] for i in held_out]),
                    results, chosen, cleared_bar, weak=len(names) < MIN_ARCHITECTURES,
                    ruled=None if chosen is None else chosen.name)
    if chosen is not None and default is not None:
        settle(tuning, ladder, default, twins, target_scores, seed)
    if tuning.chosen is not None:  # the chosen one's intervals with the full bootstrap
        rung = next(r for r in ladder if r.name == tuning.chosen.name)
        tuning.chosen.all = measure_fidelity(rung.scores, target_scores, top_k=top_k, seed=seed)
        tuning.chosen.held_out = measure_fidelity(rung.scores[held_out],
                                                  target_scores[held_out], top_k=k_half,
                                                  seed=seed)
    return tuning


def _same(rung: Rung, other: Rung) -> bool:
    """The same proxy: the same settings and scores (the calibrated proxy is a ladder rung)."""
    return rung.settings == other.settings and np.array_equal(rung.scores, other.scores)


def _twins(ladder: list[Rung], default: Rung | None) -> dict[str, Rung]:
    """The rungs in other numerics than the default proxy's that have a twin in its numerics
    (the same settings but amp and channels_last), by name -> that twin."""
    if default is None:
        return {}
    home = numerics_label(default.settings)
    by_key = {_twin_key(rung.settings): rung for rung in ladder
              if numerics_label(rung.settings) == home}
    return {rung.name: by_key[_twin_key(rung.settings)] for rung in ladder
            if numerics_label(rung.settings) != home and _twin_key(rung.settings) in by_key}


def settle(tuning: Tuning, ladder: list[Rung], default: Rung, twins: dict[str, Rung],
           target_scores: np.ndarray, seed: int) -> None:
    """Check the rule's choice against the ``default`` proxy and take the cheaper numerics
    where they rank as well; updates ``tuning`` (see the module docstring)."""
    by_name = {rung.name: rung for rung in ladder}
    results = {result.name: result for result in tuning.rungs}
    home = default
    tuning.default = results[home.name]

    def compare(first: Rung, second: Rung) -> Comparison:
        if first is second:
            difference = Estimate(0.0, 0.0, 0.0)
        else:
            difference = compare_fidelity(first.scores, second.scores, target_scores, seed=seed)
        return Comparison(first.name, second.name, difference, as_good(difference, tuning.weak))

    chosen = by_name[tuning.chosen.name]
    against = compare(chosen, home)
    tuning.ruled_from_default = against.difference
    if chosen is not home and not against.as_good:
        tuning.kept_default = (f"it does not rank as well on all architectures (paired tau "
                               f"{signed(against.difference)})")
    elif chosen is not home and tuning.weak and chosen.cost >= home.cost:
        tuning.kept_default = (f"a weak calibration takes only a cheaper rung, and it costs "
                               f"{chosen.cost:.3f} against the default's {home.cost:.3f}")
    if tuning.kept_default is not None:
        chosen, against = home, compare(home, home)
    twin = next((by_name[name] for name, of in twins.items() if of is chosen), None)
    if twin is not None:
        tuning.precision = compare(twin, chosen)
        to_default = compare(twin, home)
        if twin.cost >= chosen.cost:
            tuning.precision_verdict = (f"kept: the twin is not cheaper ({twin.cost:.3f} against "
                                        f"{chosen.cost:.3f} of a reference training)")
        elif not tuning.precision.as_good:
            tuning.precision_verdict = "kept"
        elif not to_default.as_good:
            tuning.precision_verdict = "kept: the twin does not rank as well as the default"
        else:
            chosen, against = twin, to_default
            tuning.precision_verdict = "the cheaper taken"
    tuning.chosen, tuning.from_default = results[chosen.name], against


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


def tuning_comment(tuning: Tuning, out: Path) -> str:
    """What a proxy.toml says of its choice: the rung, its figures and cost, the paired
    difference from the calibrated proxy, and how its numerics were chosen."""
    chosen, count = tuning.chosen, len(tuning.split[0]) + len(tuning.split[1])
    lines = [f"chosen by nasfpn search calibrate --tune on {out}: {chosen.name}"]
    if not tuning.cleared_bar:
        lines.append(f"weak: no rung's tau interval on the chosen half stays above "
                     f"{MIN_TAU_LOW:g}")
    if tuning.weak:
        lines.append(f"weak: a calibration of {count} architectures (fewer than "
                     f"{MIN_ARCHITECTURES}); the default is kept unless a cheaper rung ranks "
                     "at least as well on all of them")
    if tuning.kept_default:
        lines.append(f"the default proxy kept: the rule chose {tuning.ruled}, but "
                     f"{tuning.kept_default}")
    lines.append(f"Kendall tau {chosen.all.kendall_tau.text(3)} on all {count} architectures, "
                 f"{chosen.held_out.kendall_tau.text(3)} on the {len(tuning.split[1])} it was "
                 f"not chosen on; cost {chosen.cost:.3f} of a reference training")
    if tuning.from_default is not None:
        lines.append(f"paired difference from the default proxy ({tuning.default.name}), "
                     f"Kendall tau on all {count}: {signed(tuning.from_default.difference)}")
    lines.append("numerics: " + numerics_text(tuning, out))
    return "\n".join(lines)


def signed(estimate: Estimate) -> str:
    """A difference with its sign and interval: ``+0.12 [-0.05, 0.30]``."""
    if estimate.value is None:
        return "undefined"
    text = f"{estimate.value:+.2f}"
    return text if estimate.low is None else f"{text} [{estimate.low:+.2f}, {estimate.high:+.2f}]"


def numerics_text(tuning: Tuning, out: Path | str = "this folder") -> str:
    """How the chosen proxy's numerics were decided, in one line (``out``: the calibration)."""
    label = numerics_label(tuning.chosen.settings)
    compared = tuning.precision
    if compared is None:
        other = "on" if label == "fp32" else "off"
        return (f"{label} (no twin of it in other numerics in the ladder; a calibration of the "
                f"same plan with --proxy-amp {other} --proxy-channels-last {other} "
                f"--reference-from {out}, given as --ladder-from, adds twins of the proxy's "
                "rungs)")
    return (f"{label} ({compared.first} against {compared.second}, paired tau on all: "
            f"{signed(compared.difference)}, {'as good' if compared.as_good else 'not as good'}"
            f"; {tuning.precision_verdict})")


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


def ladder_table(tuning: Tuning):
    """The ladder as a rich table that fits an 80-column terminal: the rung's name wraps, the
    numbers never do (tau on the two halves as points, on all with its 90% interval)."""
    from rich import box
    from rich.table import Table

    from ..console import plain

    chosen_on, held_out = (len(half) for half in tuning.split)
    table = Table(title=f"proxy ladder, cheapest first: Kendall tau on the {chosen_on} chosen "
                        f"on, {held_out} held out, all {chosen_on + held_out}",
                  box=box.SIMPLE_HEAD, padding=(0, 1), title_justify="left")
    table.add_column("proxy (< chosen)", overflow="fold")
    for column in ("cost", "chosen\non", "held\nout", "all [90%]", "top-k\nall"):
        table.add_column(column, justify="right", no_wrap=True)
    for rung in tuning.rungs:
        marks = (" (default)" if rung is tuning.default else "") + (
            " <" if rung is tuning.chosen else "")
        table.add_row(plain(rung.name) + marks, f"{rung.cost:.3f}",
                      _point(rung.chosen_on.kendall_tau), _point(rung.held_out.kendall_tau),
                      _interval(rung.all.kendall_tau), f"{rung.all.top_k_overlap:.2f}")
    return table


def _interval(estimate: Estimate) -> str:
    """``0.56 [-0.02,0.81]``: a point with its interval, compactly."""
    if estimate.value is None or estimate.low is None:
        return _point(estimate)
    return f"{estimate.value:.2f} [{estimate.low:.2f},{estimate.high:.2f}]"


def _point(estimate: Estimate) -> str:
    return "-" if estimate.value is None else f"{estimate.value:.2f}"


def tuning_lines(tuning: Tuning, output_dir: Path) -> list[tuple[str, bool]]:
    """What ``--tune`` says after the table, as (line, is a warning)."""
    config = output_dir / "proxy.toml"
    if tuning.chosen is None:
        return [(f"no rung reaches Kendall tau >= {tuning.target:g} with top-k overlap >= 2/3 "
                 f"on the architectures it is chosen on; {config} not written", False)]
    chosen, count = tuning.chosen, len(tuning.split[0]) + len(tuning.split[1])
    lines = [(f"chosen: {chosen.name} at {chosen.cost:.3f} of a reference training; Kendall "
              f"tau {chosen.held_out.kendall_tau.text(2)} on the architectures it was not "
              f"chosen on, {chosen.all.kendall_tau.text(2)} on all; wrote {config} (nasfpn "
              f"search --proxy-config {config})", False)]
    if tuning.from_default is not None and chosen is not tuning.default:
        lines.append((f"against the default proxy, paired Kendall tau on all {count}: "
                      f"{signed(tuning.from_default.difference)}", False))
    if tuning.kept_default:
        lines.append((f"kept the default proxy: the rule chose {tuning.ruled}, but "
                      f"{tuning.kept_default}", False))
    lines.append(("numerics: " + numerics_text(tuning, output_dir), False))
    if tuning.weak:
        lines.append((f"a weak calibration: {count} architectures, fewer than "
                      f"{MIN_ARCHITECTURES}; with so few per half no rule can choose, so the "
                      "default proxy stays unless a cheaper rung ranks at least as well on all "
                      "of them; calibrate more architectures (--sampled) to tune", True))
    if not tuning.cleared_bar:
        lines.append((f"a weak choice: no rung's 90% interval of tau on the architectures it is "
                      f"chosen on stays above {MIN_TAU_LOW:g}, so this one may have reached the "
                      "target by luck; calibrate more architectures to be sure", True))
    return lines


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


__all__ = ["Comparison", "Rung", "RungResult", "Tuning", "as_good", "build_ladder",
           "ladder_table", "proxy_toml", "tune", "tuning_lines"]
