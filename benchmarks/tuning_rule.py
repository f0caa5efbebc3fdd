"""Which rule should ``calibrate --tune`` choose its proxy by? Judged on every recorded table.

For each calibration folder (default: the committed ones under docs/runs/), runs the tuning
three times on the recorded curves (nothing is trained): the cheapest rung whose tau on the
chosen half reaches ``--target`` with top-3 overlap >= 2/3; the same with the low end of that
tau's 90% interval at least ``MIN_TAU_LOW`` (issue 17's own bar), no choice when none clears
it; and the default, the bar with the first rule as its fallback. Prints one markdown row per
table and rule: the chosen rung, its cost, its tau on the held-out half and on all. A rule is
right when what it chooses holds on the half it did not see.

    python benchmarks/tuning_rule.py [FOLDER ...] [--target 0.6]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasfpn_cli.search.calibration import Calibration, resumed_config  # noqa: E402
from nasfpn_cli.search.tuning import MIN_TAU_LOW  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TABLES = ["docs/runs/calibration-curves-digits", "docs/runs/calibration-curves-shapes",
          "docs/runs/calibration-k16-digits", "docs/runs/calibration-k16-shapes"]
RULES = {"tau >= target": {"min_low": None},
         f"and low end >= {MIN_TAU_LOW:g}": {"fallback": False},
         "the bar, else tau >= target (default)": {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", default=TABLES)
    parser.add_argument("--target", type=float, default=0.6)
    args = parser.parse_args()
    print("| table | K | rule | chosen | cost | tau held out | tau all |")
    print("|---|---|---|---|---|---|---|")
    for folder in map(Path, args.folders):
        if not (ROOT / folder / "trainings.jsonl").exists() and not folder.exists():
            print(f"| {folder} | - | - | not recorded | | | |")
            continue
        calibration = Calibration(resumed_config(folder), resume=True, prepare=False)
        for rule, options in RULES.items():
            tuning = calibration.tuning(args.target, **options)
            chosen = tuning.chosen
            if chosen is None:
                row = "none reaches it | | |"
            else:
                weak = "" if tuning.cleared_bar else " (fallback)"
                row = (f"{chosen.name}{weak} | {chosen.cost:.3f} | "
                       f"{chosen.held_out.kendall_tau.text(2)} | {chosen.all.kendall_tau.text(2)} |")
            print(f"| {folder.name} | {len(calibration.architectures)} | {rule} | {row}")


if __name__ == "__main__":
    main()
