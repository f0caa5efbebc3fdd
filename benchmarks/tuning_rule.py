"""Which rule should ``calibrate --tune`` choose its proxy by? Judged on every recorded table.

For each calibration folder (default: the committed ones under docs/runs/, the K = 16 ones
also with the proxies of their e8, i600e2 and s96 calibrations in the ladder, as
``--ladder-from`` puts them), runs the tuning once per rule on the recorded curves (nothing is
trained): the cheapest rung whose tau on the chosen half reaches ``--target`` with top-3
overlap >= 2/3; the same with the low end of that tau's 90% interval at least ``MIN_TAU_LOW``
(issue 17's own bar), no choice when none clears it; the bar with the first rule as its
fallback; and the bar with the surest rung within ``MAX_COST`` as its fallback (the default).
Prints one markdown row per table and rule: the chosen rung, its cost, its tau on the held-out
half and on all. A rule is right when what it chooses holds on the half it did not see.

    python benchmarks/tuning_rule.py [FOLDER[:LADDER_FROM,...] ...] [--target 0.6]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasfpn_cli.search.calibration import Calibration, resumed_config  # noqa: E402
from nasfpn_cli.search.store import CalibrationStore  # noqa: E402
from nasfpn_cli.search.tuning import MAX_COST, MIN_TAU_LOW  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
K16 = "docs/runs/calibration-k16-{}"
RUNGS = ",".join(K16 + f"-{tag}" for tag in ("e8", "i600e2", "s96"))
TABLES = ["docs/runs/calibration-curves-digits", "docs/runs/calibration-curves-shapes",
          K16.format("digits"), K16.format("shapes"),
          f"{K16.format('digits')}:{RUNGS.format(*['digits'] * 3)}",
          f"{K16.format('shapes')}:{RUNGS.format(*['shapes'] * 3)}"]
RULES = {"tau >= target": {"min_low": None, "fallback": "cheapest"},
         f"and low end >= {MIN_TAU_LOW:g}": {"fallback": None},
         "the bar, else the cheapest >= target": {"fallback": "cheapest"},
         f"the bar, else the surest >= target within {MAX_COST:.2f} (default)": {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", default=TABLES)
    parser.add_argument("--target", type=float, default=0.6)
    args = parser.parse_args()
    print("| table | K | rungs | rule | chosen | cost | tau held out | tau all |")
    print("|---|---|---|---|---|---|---|---|")
    for table in args.folders:
        folder, _, extra = table.partition(":")
        folder, ladder_from = Path(folder), tuple(filter(None, extra.split(",")))
        if not CalibrationStore(ROOT / folder).trainings.exists() and not folder.exists():
            print(f"| {folder} | - | - | - | not recorded | | | |")
            continue
        calibration = Calibration(resumed_config(folder), resume=True, prepare=False)
        rungs = "+ " + ", ".join(Path(f).name.rsplit("-", 1)[-1] for f in ladder_from) \
            if ladder_from else "its own"
        for rule, options in RULES.items():
            tuning = calibration.tuning(args.target, ladder_from, **options)
            chosen = tuning.chosen
            if chosen is None:
                row = "none reaches it | | |"
            else:
                weak = "" if tuning.cleared_bar else " (fallback)"
                row = (f"{chosen.name}{weak} | {chosen.cost:.3f} | "
                       f"{chosen.held_out.kendall_tau.text(2)} | {chosen.all.kendall_tau.text(2)} |")
            print(f"| {folder.name} | {len(calibration.architectures)} | {rungs} | {rule} | "
                  f"{row}")


if __name__ == "__main__":
    main()
