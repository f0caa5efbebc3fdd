"""A search's results, as ``nasfpn search report OUT`` shows them: the best architectures
found, and the search's convergence plots.

``reward.png``: the reward of every trial by step, with the running best (the paper's Figure 4
shows the same kind of curve); ``unique.png``: how many distinct architectures had been seen by
each step; a search that has converged keeps proposing architectures it already knows. A
cost-aware search (``--macs-target``) also gets ``pareto.png``: score against neck MACs of every
distinct architecture, the Pareto front, and the bundled genotypes' MACs for reference.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import SearchError
from ..untrusted import chart_text
from .cost import REFERENCE_GENOTYPES
from .runner import described, load_config
from .store import SearchStore
from .spaces import Space, space_from_dict
from .trials import TrialRecord, read_trials


@dataclass
class RankedArchitecture:
    """One distinct architecture: its reward (first evaluation), when it was first seen, how
    often it was proposed."""

    hash: str
    reward: float
    first_trial: int
    first_step: int
    count: int
    decisions: list[int]
    score: float | None = None  # before the MACs penalty (cost-aware searches)
    macs: int | None = None


def load_trials(output_dir: Path) -> list[TrialRecord]:
    """The trials of a search folder; SearchError when there is none."""
    store = SearchStore(output_dir)
    records = read_trials(store.trials)
    if not records:
        raise SearchError(f"{output_dir}: no finished trials (no {store.name('trials')} or it "
                          "is empty)")
    return records


def rank_architectures(records: list[TrialRecord]) -> list[RankedArchitecture]:
    """Distinct architectures, best reward first (ties: the one found first)."""
    by_hash: dict[str, RankedArchitecture] = {}
    for record in records:
        known = by_hash.get(record.hash)
        if known is None:
            by_hash[record.hash] = RankedArchitecture(record.hash, record.reward, record.trial,
                                                      record.step, 1, record.decisions,
                                                      record.score, record.macs)
        else:
            known.count += 1
    return sorted(by_hash.values(), key=lambda arch: (-arch.reward, arch.first_step))


def pareto_front(ranked: list[RankedArchitecture]) -> list[RankedArchitecture]:
    """The architectures no other beats on both counts (higher score, fewer MACs), by MACs."""
    counted = sorted((arch for arch in ranked if arch.macs is not None),
                     key=lambda arch: (arch.macs, -arch.score))
    front: list[RankedArchitecture] = []
    for arch in counted:
        if not front or arch.score > front[-1].score:
            front.append(arch)
    return front


def bundled_macs(output_dir: Path) -> dict[str, int]:
    """Neck MACs of the bundled genotypes as the search's proxy builds them."""
    from ..genotype import load_genotype
    from .rewards import RewardSpec, build_reward

    identity = load_config(output_dir)["identity"]
    reward = build_reward(RewardSpec.from_dict(identity["reward"]),
                          space_from_dict(identity["space"]), output_dir)
    return {name: reward.cost(load_genotype(name)) for name in REFERENCE_GENOTYPES}


def write_pareto_plot(ranked: list[RankedArchitecture], references: dict[str, int],
                      path: Path, title: str = "") -> Path:
    from ..engine.plotting import new_figure, save_figure

    counted = [arch for arch in ranked if arch.macs is not None]
    front = pareto_front(ranked)
    fig, ax = new_figure()
    ax.scatter([a.macs for a in counted], [a.score for a in counted], s=8, alpha=0.4,
               label="architectures")
    ax.step([a.macs for a in front], [a.score for a in front], where="post", color="tab:red",
            marker="o", label="Pareto front")
    for name, macs in references.items():
        ax.axvline(macs, color="grey", linestyle=":", linewidth=1)
        ax.annotate(chart_text(name), (macs, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                    va="top", ha="right", fontsize=8, color="grey")
    ax.set(xlabel="neck multiply-adds", ylabel="score (before the MACs penalty)",
           title=chart_text(f"{title} score vs MACs".strip()))
    ax.legend(loc="lower right")
    return save_figure(fig, path)


def compact_cells(space, decisions: list[int]) -> str:
    """A whole architecture on one line (the space's :meth:`compact`)."""
    return space.compact(decisions)


def curves(records: list[TrialRecord]) -> tuple[list[float], list[float], list[int]]:
    """Per step: the reward, the running best reward, the number of distinct architectures."""
    rewards, best, unique = [], [], []
    seen: set[str] = set()
    for record in records:
        rewards.append(record.reward)
        best.append(max(record.reward, best[-1]) if best else record.reward)
        seen.add(record.hash)
        unique.append(len(seen))
    return rewards, best, unique


def write_plots(records: list[TrialRecord], plots_dir: Path, title: str = "") -> list[Path]:
    """``reward.png`` and ``unique.png`` in ``plots_dir``; returns their paths."""
    from ..engine.plotting import new_figure, save_figure

    steps = [record.step for record in records]
    rewards, best, unique = curves(records)
    fig, ax = new_figure()
    ax.scatter(steps, rewards, s=6, alpha=0.4, label="trial reward")
    ax.plot(steps, best, color="tab:red", label="best so far")
    ax.set(xlabel="step (finished trials)", ylabel="reward", title=chart_text(f"{title} reward".strip()))
    ax.legend(loc="lower right")
    paths = [save_figure(fig, plots_dir / "reward.png")]
    fig, ax = new_figure()
    ax.plot(steps, unique, label="distinct architectures")
    ax.plot(steps, [step + 1 for step in steps], color="grey", linestyle=":", label="trials")
    ax.set(xlabel="step (finished trials)", ylabel="architectures",
           title=chart_text(f"{title} unique architectures".strip()))
    ax.legend(loc="upper left")
    paths.append(save_figure(fig, plots_dir / "unique.png"))
    return paths


def write_cost_plot(records: list[TrialRecord], output_dir: Path, plots_dir: Path,
                    title: str = "") -> Path | None:
    """``pareto.png`` when the trials carry MACs (a cost-aware search), else None."""
    ranked = rank_architectures(records)
    if not any(arch.macs is not None for arch in ranked):
        return None
    return write_pareto_plot(ranked, bundled_macs(output_dir), plots_dir / "pareto.png", title)


def seed_hashes(output_dir: Path) -> set[str]:
    """The hashes of a seeded search's seed pyramids (its anchors); empty for another search."""
    seeds = load_config(output_dir)["identity"].get("seed_from") or ()
    if not seeds:
        return set()
    space = search_space_of(output_dir)
    return {space.hash(tuple(seed["decisions"])) for seed in seeds}


def search_space_of(output_dir: Path) -> Space:
    identity = load_config(output_dir)["identity"]
    return described(output_dir, lambda: space_from_dict(identity["space"]))
