"""Does PPO search the anchored space better when it first imitates the anchors?

Runs ``nasfpn search`` with the supernet reward (a trained supernet reused, ``--supernet-path``)
for each controller arm, search seed and dataset, one search at a time, and compares what the
searches found within the same number of candidates:

* ``evolution``: the default controller, seeded from the four anchors (population 20, tournament
  5, as in the demonstrations);
* ``ppo-cold``: PPO from a random policy (``--seed-from none``);
* ``ppo-seeded``: PPO that proposes the anchors first, then samples from its random policy;
* ``ppo-warm``: the same after ``--imitation-steps`` Adam steps on the anchors' log-likelihood
  (``--ppo-imitation-steps``), so warm minus seeded is what the imitation adds.

Per search: the best reward of a pyramid other than the anchors (the search's objective: the
supernet's score with the ``--macs-target`` penalty), the mean reward of the second half, the
first such pyramid whose reward beat the best anchor's, the distinct pyramids, and the best one's
edit distance from its nearest anchor. Arms are compared paired by search seed. A search already
complete in ``--out`` is read, not run again (a partial one is resumed), so the script can be
stopped and rerun.

    python benchmarks/controller_warm_start.py --out out/ppo-warm-start \
        --dataset digits=out/sn-k16-digits-anchored/supernet.pt:1.38e7 \
        --dataset shapes=out/sn-k16-shapes-anchored/supernet.pt:1.39e7 \
        --trials 200 --seeds 0 1 2 --record docs/runs/ppo-warm-start
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from statistics import mean

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasfpn_cli.search.anchored import ANCHORS  # noqa: E402
from nasfpn_cli.search.anchoring import paired_difference  # noqa: E402
from nasfpn_cli.search.edits import edit_distance  # noqa: E402
from nasfpn_cli.search.results import load_trials  # noqa: E402
from nasfpn_cli.search.spaces import space_from_dict  # noqa: E402

ARMS = {
    "evolution": ["--controller", "evolution", "--population-size", "20", "--sample-size", "5"],
    "ppo-cold": ["--controller", "ppo", "--seed-from", "none"],
    "ppo-seeded": ["--controller", "ppo", "--ppo-imitation-steps", "0"],  # the anchors first
    "ppo-warm": ["--controller", "ppo"],  # + --ppo-imitation-steps N
}


def parse_dataset(text: str) -> tuple[str, Path, str]:
    """``KIND=SUPERNET:MACS`` -> (kind, supernet path, MACs target)."""
    kind, _, rest = text.partition("=")
    path, _, macs = rest.rpartition(":")
    if not kind or not path or not macs:
        raise argparse.ArgumentTypeError(f"--dataset {text!r}: expected KIND=SUPERNET:MACS")
    return kind, Path(path), macs


def run_search(folder: Path, kind: str, supernet: Path, macs: str, arm: str, seed: int,
               trials: int, imitation_steps: int, workers: int) -> None:
    """The search of one arm, seed and dataset in ``folder`` (resumed when begun)."""
    done = folder / "trials.jsonl"
    if done.exists() and sum(1 for _ in done.open()) >= trials:
        return
    command = [sys.executable, "-m", "nasfpn_cli", "search"]
    if (folder / "search.json").exists():
        command += ["--resume", "-o", str(folder)]
    else:
        command += [*ARMS[arm], "--space", "anchored", "--reward", "supernet",
                    "--proxy-data", kind, "--supernet-path", str(supernet.resolve()),
                    "--macs-target", macs, "--trials", str(trials), "--final-top-k", "0",
                    "--workers", str(workers), "--threads", "1", "--seed", str(seed),
                    "-o", str(folder)]
        if arm == "ppo-warm":
            command += ["--ppo-imitation-steps", str(imitation_steps)]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def load_search(folder: Path):
    """A search folder's space, its anchors as points of it, and its trial records."""
    identity = json.loads((folder / "search.json").read_text())["identity"]
    space = space_from_dict(identity["space"])
    return space, dict(zip(ANCHORS, space.anchors())), load_trials(folder)


def summarise(folder: Path, anchor_rewards: dict[str, float]) -> dict:
    """What one search found, the anchors themselves left out (see the module docstring)."""
    space, anchors, records = load_search(folder)
    rewards = [record.reward for record in records]
    bar = max(anchor_rewards.values())
    anchor_hashes = {space.hash(point) for point in anchors.values()}
    # the search's own finds: an anchor proposed as a seed is no find
    found = [record for record in records if record.hash not in anchor_hashes]
    best = max(found, key=lambda record: record.reward)
    distances = {name: edit_distance(space, best.decisions, point)
                 for name, point in anchors.items()}
    nearest = min(distances, key=distances.get)
    first_beat = next((record.trial for record in found if record.reward > bar + 1e-12), None)
    return {"best_reward": best.reward, "best_score": best.score, "best_macs": best.macs,
            "second_half_mean": mean(rewards[len(rewards) // 2:]),
            "first_trial_above_best_anchor": first_beat,
            "distinct": len({record.hash for record in records}), "trials": len(records),
            "nearest_anchor": nearest, "edit_distance": distances[nearest],
            "best_hash": best.hash}


def anchor_rewards(folders: list[Path]) -> dict[str, float]:
    """The anchors' rewards (the supernet is deterministic), from any search that scored them."""
    found: dict[str, float] = {}
    for folder in folders:
        space, anchors, records = load_search(folder)
        names = {space.hash(point): name for name, point in anchors.items()}
        for record in records:
            if record.hash in names:
                found[names[record.hash]] = record.reward
    return found


def paired(values: dict[int, float], other: dict[int, float]) -> str:
    """Mean ± SE of ``values - other`` over the seeds both have."""
    seeds = sorted(set(values) & set(other))
    diff, two_se, pairs = paired_difference([values[s] for s in seeds], [other[s] for s in seeds])
    if pairs < 2:
        return f"{diff:+.4f}" if pairs else "-"
    return f"{diff:+.4f} +- {two_se / 2:.4f} (n={pairs})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dataset", type=parse_dataset, action="append", required=True,
                        help="KIND=SUPERNET:MACS, e.g. digits=out/sn/supernet.pt:1.38e7")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--imitation-steps", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--record", type=Path, default=None,
                        help="Copy each search's search.json and trials.jsonl, and the summary, "
                             "here (e.g. docs/runs/ppo-warm-start).")
    args = parser.parse_args()

    results: dict = {}
    for kind, supernet, macs in args.dataset:
        for arm in args.arms:
            for seed in args.seeds:
                folder = args.out / f"{kind}-{arm}-s{seed}"
                run_search(folder, kind, supernet, macs, arm, seed, args.trials,
                           args.imitation_steps, args.workers)
        folders = [args.out / f"{kind}-{arm}-s{seed}" for arm in args.arms for seed in args.seeds]
        anchors = anchor_rewards(folders)
        results[kind] = {"anchors": anchors, "searches": {}}
        for folder in folders:
            results[kind]["searches"][folder.name] = summarise(folder, anchors)
            if args.record:
                target = args.record / folder.name
                target.mkdir(parents=True, exist_ok=True)
                for name in ("search.json", "trials.jsonl"):
                    shutil.copy2(folder / name, target / name)

    lines = [f"trials per search: {args.trials}; imitation steps: {args.imitation_steps}", ""]
    for kind, result in results.items():
        anchors = result["anchors"]
        lines += [f"## {kind}", "", "anchors' rewards: " + ", ".join(
            f"{name} {value:.4f}" for name, value in sorted(anchors.items(), key=lambda x: -x[1])),
            "", "| arm | seed | best reward (no anchor) | mean reward, 2nd half | first trial "
            "above the best anchor | distinct | best: nearest anchor, edits |",
            "|---|---|---|---|---|---|---|"]
        by_arm: dict[str, dict[str, dict[int, float]]] = {}
        for arm in args.arms:
            for seed in args.seeds:
                row = result["searches"][f"{kind}-{arm}-s{seed}"]
                for key in ("best_reward", "second_half_mean"):
                    by_arm.setdefault(arm, {}).setdefault(key, {})[seed] = row[key]
                lines.append(f"| {arm} | {seed} | {row['best_reward']:.4f} | "
                             f"{row['second_half_mean']:.4f} | "
                             f"{row['first_trial_above_best_anchor']} | {row['distinct']} | "
                             f"{row['nearest_anchor']}, {row['edit_distance']} |")
        lines.append("")
        for left, right in (("ppo-warm", "ppo-seeded"), ("ppo-warm", "ppo-cold"),
                            ("ppo-warm", "evolution"), ("evolution", "ppo-cold")):
            if left in by_arm and right in by_arm:
                for key in ("best_reward", "second_half_mean"):
                    lines.append(f"- {left} minus {right}, {key} (paired by seed, +- SE): "
                                 f"{paired(by_arm[left][key], by_arm[right][key])}")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.record:
        args.record.mkdir(parents=True, exist_ok=True)
        (args.record / "summary.md").write_text(text + "\n")
        (args.record / "summary.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
