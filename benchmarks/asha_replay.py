"""Does ``--scheduler asha`` keep the top architectures, and at what share of the full cost?

Replays nasfpn's own :class:`~nasfpn_cli.search.asha.AshaScheduler` on trainings that were
really run: calibration folders (``nasfpn search calibrate``) over the same architectures whose
schedules together cover the rung budgets (say one folder with a 1-epoch proxy and a 9-epoch
reference, one with a 3-epoch proxy). The score of an architecture at a budget is the mean over
its seeds. Architectures arrive in a random order (``--orders`` of them) and go through the rungs
as a one-worker search runs them: trained at the smallest budget, promoted or stopped, trained
from scratch at the next budget... The reward is the score at the highest budget reached.

Per order it counts the epochs trained against training every architecture at the top budget,
whether every architecture of the full-budget top k reached the top rung, and whether ASHA's
best (and its top k) are the full-budget best (top k). Prints the means and writes a PNG: the
score of every architecture against the budget, each point sized by how often ASHA trained it
there.

    python benchmarks/asha_replay.py RUN_1_9 RUN_3 [--eta 3] [--top-k 3] [--orders 1000]
        [--plot docs/figures/asha-replay.png]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasfpn_cli.search.asha import AshaScheduler  # noqa: E402
from nasfpn_cli.search.proxy_task import ProxySettings  # noqa: E402
from nasfpn_cli.search.store import CalibrationStore  # noqa: E402
from nasfpn_cli.utils import read_jsonl  # noqa: E402


def recorded_scores(folders: list[Path]) -> dict[str, dict[int, float]]:
    """architecture -> {epochs: mean score over seeds}, from the folders' plan and trainings."""
    seeds: dict[tuple[str, int], list[float]] = defaultdict(list)
    for folder in folders:
        plan = json.loads(CalibrationStore(folder).plan.read_text())
        proxy = ProxySettings.from_options(plan["proxy"])
        epochs = {"proxy": proxy.epochs,
                  "reference": ProxySettings.from_options({**plan["proxy"],
                                                           **plan["reference"]}).epochs}
        for record in read_jsonl(CalibrationStore(folder).trainings):
            if record.get("error") is None:
                seeds[record["architecture"], epochs[record["schedule"]]].append(record["score"])
    scores: dict[str, dict[int, float]] = defaultdict(dict)
    for (arch, budget), values in seeds.items():
        scores[arch][budget] = sum(values) / len(values)
    return dict(scores)


def replay(scores: dict[str, dict[int, float]], budgets: tuple[int, ...], eta: int,
           order: list[str]) -> tuple[dict[str, int], int]:
    """One arrival order: architecture -> index of the highest rung reached; epochs trained."""
    scheduler = AshaScheduler(budgets, eta)
    reached: dict[str, int] = {}
    epochs = 0
    for arch in order:
        rung = 0
        while True:
            epochs += budgets[rung]
            if not scheduler.promote(rung, scores[arch][budgets[rung]]):
                break
            rung += 1
        reached[arch] = rung
    return reached, epochs


def top(ranking: dict[str, float], k: int) -> list[str]:
    return sorted(ranking, key=lambda arch: -ranking[arch])[:k]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="calibration output folders")
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--orders", type=int, default=1000, help="random arrival orders")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=None, help="write the figure here")
    args = parser.parse_args()

    scores = recorded_scores(args.folders)
    budgets = tuple(sorted(set.intersection(*(set(s) for s in scores.values()))))
    if len(budgets) < 2:
        parser.error(f"the folders share fewer than two budgets: {budgets}")
    full = {arch: s[budgets[-1]] for arch, s in scores.items()}
    best_k = set(top(full, args.top_k))
    rng = random.Random(args.seed)
    kept, best_found, overlap, cost = 0, 0, 0.0, 0.0
    visits: dict[tuple[str, int], int] = defaultdict(int)
    for _ in range(args.orders):
        order = list(scores)
        rng.shuffle(order)
        reached, epochs = replay(scores, budgets, args.eta, order)
        for arch, rung in reached.items():
            for r in range(rung + 1):
                visits[arch, r] += 1
        reward = {arch: scores[arch][budgets[rung]] for arch, rung in reached.items()}
        kept += all(reached[arch] == len(budgets) - 1 for arch in best_k)
        best_found += top(reward, 1)[0] == top(full, 1)[0]
        overlap += len(set(top(reward, args.top_k)) & best_k) / args.top_k
        cost += epochs / (len(scores) * budgets[-1])
    n = args.orders
    print(f"{len(scores)} architectures, budgets {budgets} epochs, eta {args.eta}, {n} orders")
    print(f"{'architecture':<14}" + "".join(f"{b:>9}ep" for b in budgets) + "  reached top")
    for arch in top(full, len(full)):
        cells = "".join(f"{scores[arch][b]:>11.4f}" for b in budgets)
        print(f"{arch:<14}{cells}  {visits[arch, len(budgets) - 1] / n:>10.0%}")
    print(f"cost: {cost / n:.2f} of training every architecture at {budgets[-1]} epochs")
    print(f"full-budget top {args.top_k} all reach the top rung: {kept / n:.0%} of orders")
    print(f"ASHA's best is the full-budget best: {best_found / n:.0%}; top-{args.top_k} "
          f"overlap {overlap / n:.2f}")
    if args.plot:
        plot(scores, budgets, visits, n, best_k, args.plot)
        print(f"wrote {args.plot}")
    return 0


def plot(scores, budgets, visits, orders, best_k, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=120)
    styles = ["-", "--", ":", "-."]
    ranked = sorted(scores.items(), key=lambda item: -item[1][budgets[-1]])
    for index, (arch, values) in enumerate(ranked):
        ys = [values[b] for b in budgets]
        colour = None if arch in best_k else "0.55"
        line, = ax.plot(budgets, ys, styles[index % len(styles)], color=colour, lw=1.2,
                        zorder=1, label=f"{arch} ({ys[-1]:.3f})")
        sizes = [10 + 140 * visits[arch, r] / orders for r in range(len(budgets))]
        ax.scatter(budgets, ys, s=sizes, color=line.get_color(), zorder=2)
    ax.legend(fontsize=7, loc="upper left", title="full-budget score", title_fontsize=7)
    ax.set_xscale("log")
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.set_xlabel("budget (epochs, each a training from scratch)")
    ax.set_ylabel("validation score (as the trainings recorded it)")
    ax.set_title("ASHA replayed: point size = share of orders that trained it there; "
                 f"colour: the full-budget top {len(best_k)}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


if __name__ == "__main__":
    raise SystemExit(main())
