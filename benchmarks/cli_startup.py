"""How fast does ``nasfpn validate`` start? Median wall time of

    python -m nasfpn_cli validate nasfpn

over that of ``python -c "import networkx, click, rich"`` (the libraries a CLI like this
needs anyway), run alternately in one session so both see the same machine load. The aim is a
ratio of at most 1.5; the genotype package imports neither torch, lark (only used to explain
syntax errors) nor networkx (only for graphs), which is what makes it possible.

    python benchmarks/cli_startup.py [--repeats 21] [--command "validate nasfpn"]
"""
from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = [sys.executable, "-c", "import networkx, click, rich"]
TARGET_RATIO = 1.5


def wall_time(argv: list[str]) -> float:
    """Seconds one run of ``argv`` takes; a failing run is an error, not a fast sample."""
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{shlex.join(argv)} failed ({result.returncode}):\n{result.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=21, help="timed runs of each (default 21)")
    parser.add_argument("--command", default="validate nasfpn",
                        help="nasfpn arguments to time (default: 'validate nasfpn')")
    args = parser.parse_args()
    target = [sys.executable, "-m", "nasfpn_cli", *shlex.split(args.command)]
    for argv in (BASELINE, target):  # warm the file cache (and lark's grammar cache)
        wall_time(argv)
    baseline, nasfpn = [], []
    for _ in range(args.repeats):
        baseline.append(wall_time(BASELINE))
        nasfpn.append(wall_time(target))
    base, ours = statistics.median(baseline), statistics.median(nasfpn)
    ratio = ours / base
    print(f"baseline  {shlex.join(BASELINE[1:])}: median {base * 1000:.0f} ms "
          f"over {args.repeats} runs")
    print(f"nasfpn    {args.command}: median {ours * 1000:.0f} ms")
    print(f"ratio     {ratio:.2f}x (aim <= {TARGET_RATIO}x): "
          + ("ok" if ratio <= TARGET_RATIO else "TOO SLOW"))


if __name__ == "__main__":
    main()
