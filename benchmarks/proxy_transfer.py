"""Does a proxy chosen on one dataset carry over to another? (issue 17: judge every default on
data it was not chosen on.)

Reads two or more tuned calibrations (``nasfpn search calibrate`` then ``--tune``, each folder
holding ``tuning.json``) and prints, for the rung chosen on each, its Kendall tau on every
folder: on its own architectures (all, and the half it was not chosen on) and on the other
datasets, where it was not chosen at all. Rungs are matched by name ("reference stopped at epoch
4/12, ap50"), so the folders must share their schedules' epochs.

    python benchmarks/proxy_transfer.py runs/cal-digits runs/cal-shapes [--markdown]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nasfpn_cli.search.store import CalibrationStore  # noqa: E402


def load(folder: Path) -> dict:
    path = CalibrationStore(folder).tuning
    if not path.is_file():
        sys.exit(f"{path}: not found; run nasfpn search calibrate --tune -o {folder} first")
    return json.loads(path.read_text())


def tau_text(fidelity: dict) -> str:
    tau = fidelity["kendall_tau"]
    if tau["value"] is None:
        return "undefined"
    if tau["low"] is None:
        return f"{tau['value']:.2f}"
    return f"{tau['value']:.2f} [{tau['low']:.2f}, {tau['high']:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    tunings = {folder.name: load(folder) for folder in args.folders}
    rows = []
    for source, tuning in tunings.items():
        chosen = tuning["chosen"]
        if chosen is None:
            rows.append([f"chosen on {source}", "(no rung reached the target)", "", ""]
                        + [""] * len(tunings))
            continue
        own = next(rung for rung in tuning["rungs"] if rung["name"] == chosen)
        cells = []
        for target, other in tunings.items():
            rung = next((r for r in other["rungs"] if r["name"] == chosen), None)
            cells.append("-" if rung is None else tau_text(rung["all"]) + (
                " (own)" if target == source else ""))
        rows.append([f"chosen on {source}", chosen, f"{own['cost']:.3f}",
                     tau_text(own["held_out"])] + cells)
    header = ["", "rung", "cost", "tau held out"] + [f"tau on {name} (all)" for name in tunings]
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        for row in [header] + rows:
            print("  ".join(f"{cell:<28}" for cell in row).rstrip())


if __name__ == "__main__":
    main()
