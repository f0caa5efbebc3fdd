"""Trial throughput of ``nasfpn search``: cheap trials against per-trial setup, and 2 workers
against 1.

Cheap trials (``--compare setup``): the proxy reward as it is (data read and checked once per
process, decoded images cached, the model built from the Genotype object, no files written)
against the proxy as it was (every trial writes its genotype to a temporary file that training
parses, reads and checks the annotations, decodes every image from disk and writes
checkpoints), the same architectures on one worker, interleaved; printed as trials per hour.

Workers (``--compare workers``): does ``--workers 2`` finish trials faster than ``--workers 1``?

Runs the same small proxy search (random controller, fixed seed, so both runs train the same
architectures on the same synthetic data) with 1 worker (trials in this process, all cores) and
with 2 workers (a process pool, cores // 2 torch threads each), and prints the trial throughput
of each and their ratio, two ways: end to end (wall time of the whole search, with starting the
workers and their imports, as a user sees it) and steady state (trials finished after each
worker's first one, over the time from the first such finish to the last; this is what a long
search runs at). Target on 2 cores: >= 1.6x steady state. On a machine shared with other work the
ratio is noisy; ``--repeats`` alternates the order and keeps each side's best run.

    python benchmarks/search_workers.py [--compare setup|workers|both] [--trials 16] [--repeats 2]
"""
from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasfpn_cli.data.synth import make_synthetic_dataset  # noqa: E402
from nasfpn_cli.search.executors import available_cores  # noqa: E402
from nasfpn_cli.search.rewards import RewardSpec, register_reward  # noqa: E402
from nasfpn_cli.search.rewards.proxy import ProxyReward, ProxySettings  # noqa: E402
from nasfpn_cli.search.runner import SearchConfig, run_search  # noqa: E402

TARGET_RATIO = 1.6
# a fixed small proxy workload: a few seconds per trial on one core
PROXY = {"image_size": 64, "channels": 16, "stack": 1, "epochs": 2, "batch_size": 4}


@register_reward("proxy-per-trial-setup")
def per_trial_setup(argument, space, options):
    """The proxy reward before trials got cheap (see the module docstring)."""
    from nasfpn_cli.engine import train

    proxy = ProxyReward(ProxySettings.from_options(options), Path(options["output_dir"]))

    def reward(candidate):
        with tempfile.TemporaryDirectory(prefix="nasfpn-proxy-") as scratch:
            genotype_file = Path(scratch) / "genotype.txt"
            genotype_file.write_text(candidate.genotype.source)
            config = dataclasses.replace(proxy.task.train_config(candidate.seed),
                                         genotype=str(genotype_file),
                                         output_dir=str(Path(scratch) / "run"))
            return max(0.0, float(train(config, progress=False).best_ap))

    reward.prepare = proxy.prepare
    return reward


def proxy_options(data: Path) -> dict:
    return {**PROXY, "train_ann": str(data / "annotations" / "instances_train2017.json"),
            "train_images": str(data / "train2017"),
            "val_ann": str(data / "annotations" / "instances_val2017.json"),
            "val_images": str(data / "val2017")}


def trials_per_minute(work: Path, data: Path, workers: int, trials: int,
                      reward: str = "proxy", threads: int | None = None) -> tuple[float, float]:
    """(end to end, steady state) trials per minute of one search."""
    out = work / f"search-{workers}-{reward}"
    shutil.rmtree(out, ignore_errors=True)
    config = SearchConfig(out, RewardSpec(reward, options=proxy_options(data),
                                          modules=(Path(__file__).stem,)),
                          "random", seed=0, trials=trials, workers=workers, threads=threads)
    start = time.perf_counter()
    summary = run_search(config, progress=False)
    end_to_end = trials / (time.perf_counter() - start) * 60
    finished = sorted(record.finished_at for record in summary.records)
    steady = (len(finished) - workers) / (finished[-1] - finished[workers - 1]) * 60
    return end_to_end, steady


def compare_setup(work: Path, args) -> None:
    best = {"proxy-per-trial-setup": (0.0, 0.0), "proxy": (0.0, 0.0)}
    for repeat in range(args.repeats):
        order = list(best) if repeat % 2 == 0 else list(reversed(best))
        for reward in order:
            rates = trials_per_minute(work, work / "data", 1, args.trials, reward, threads=1)
            print(f"repeat {repeat + 1}: {reward}: {rates[0] * 60:.0f} trials/hour end to end, "
                  f"{rates[1] * 60:.0f} steady state", flush=True)
            best[reward] = tuple(map(max, best[reward], rates))
    before, after = best["proxy-per-trial-setup"], best["proxy"]
    for index, kind in enumerate(("end to end", "steady state")):
        print(f"{kind:>12}: before {before[index] * 60:.0f}, after {after[index] * 60:.0f} "
              f"trials/hour (1 worker, 1 thread), ratio {after[index] / before[index]:.2f}x")


def compare_workers(work: Path, args) -> None:
    best = {1: (0.0, 0.0), 2: (0.0, 0.0)}
    for repeat in range(args.repeats):
        for workers in ((1, 2) if repeat % 2 == 0 else (2, 1)):
            rates = trials_per_minute(work, work / "data", workers, args.trials)
            print(f"repeat {repeat + 1}: {workers} worker(s): {rates[0]:.1f} trials/min end "
                  f"to end, {rates[1]:.1f} steady state", flush=True)
            best[workers] = tuple(map(max, best[workers], rates))
    for index, kind in enumerate(("end to end", "steady state")):
        ratio = best[2][index] / best[1][index]
        print(f"{kind:>12}: 1 worker {best[1][index]:.1f}, 2 workers {best[2][index]:.1f} "
              f"trials/min, ratio {ratio:.2f}x")
    print(f"target: steady-state ratio >= {TARGET_RATIO}x on 2 cores")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", choices=("setup", "workers", "both"), default="both")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # workers import this module
    with tempfile.TemporaryDirectory(prefix="nasfpn-bench-") as scratch:
        work = Path(scratch)
        make_synthetic_dataset(work / "data", num_images=24, image_size=64, seed=0,
                               val_fraction=0.25)
        print(f"cores: {available_cores()}, trials per run: {args.trials}")
        if args.compare in ("setup", "both"):
            compare_setup(work, args)
        if args.compare in ("workers", "both"):
            compare_workers(work, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
