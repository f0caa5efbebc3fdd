"""Does ``nasfpn search --workers 2`` finish trials faster than ``--workers 1``?

Runs the same small proxy search (random controller, fixed seed, so both runs train the same
architectures on the same synthetic data) with 1 worker (trials in this process, all cores) and
with 2 workers (a process pool, cores // 2 torch threads each), and prints the trial throughput
of each and their ratio. Wall time includes starting the workers and their imports, as a user
would see it. Target on 2 cores: >= 1.6x. On a machine shared with other work the ratio is
noisy; ``--repeats`` alternates the order and keeps each side's best run.

    python benchmarks/search_workers.py [--trials 8] [--repeats 1]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasfpn_cli.data.synth import make_synthetic_dataset  # noqa: E402
from nasfpn_cli.search.executors import available_cores  # noqa: E402
from nasfpn_cli.search.rewards import RewardSpec  # noqa: E402
from nasfpn_cli.search.runner import SearchConfig, run_search  # noqa: E402

TARGET_RATIO = 1.6
# a fixed small proxy workload: a few seconds per trial on one core
PROXY = {"image_size": 64, "channels": 16, "stack": 1, "epochs": 1, "batch_size": 4}


def proxy_options(data: Path) -> dict:
    return {**PROXY, "train_ann": str(data / "annotations" / "instances_train2017.json"),
            "train_images": str(data / "train2017"),
            "val_ann": str(data / "annotations" / "instances_val2017.json"),
            "val_images": str(data / "val2017")}


def trials_per_minute(work: Path, data: Path, workers: int, trials: int) -> float:
    out = work / f"search-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    config = SearchConfig(out, RewardSpec("proxy", options=proxy_options(data)), "random",
                          seed=0, trials=trials, workers=workers)
    start = time.perf_counter()
    run_search(config, progress=False)
    return trials / (time.perf_counter() - start) * 60


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nasfpn-bench-") as scratch:
        work = Path(scratch)
        make_synthetic_dataset(work / "data", num_images=24, image_size=64, seed=0,
                               val_fraction=0.25)
        best = {1: 0.0, 2: 0.0}
        for repeat in range(args.repeats):
            for workers in ((1, 2) if repeat % 2 == 0 else (2, 1)):
                rate = trials_per_minute(work, work / "data", workers, args.trials)
                print(f"repeat {repeat + 1}: {workers} worker(s): {rate:.1f} trials/min",
                      flush=True)
                best[workers] = max(best[workers], rate)
    ratio = best[2] / best[1]
    print(f"cores: {available_cores()}, trials per run: {args.trials}")
    print(f"1 worker : {best[1]:.1f} trials/min")
    print(f"2 workers: {best[2]:.1f} trials/min")
    print(f"ratio 2/1: {ratio:.2f}x (target >= {TARGET_RATIO}x on 2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
