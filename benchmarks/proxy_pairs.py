"""Which of several proxies ranks like the reference? Paired on the same architectures.

Give calibration folders of one plan that share their reference trainings (the later ones run
with another proxy and ``--reference-from`` the first). For each folder's proxy this prints the
settings in which it differs from the first's, Kendall's tau against the reference's final score
over all architectures and over the working ones (reference mean above ``--working``), seconds
per proxy training as recorded, and the difference of its tau from the first proxy's with a
*paired* bootstrap interval (the same architectures drawn for both in every resample), which is
what says whether one proxy ranks better than another. Nothing is trained.

    python benchmarks/proxy_pairs.py docs/runs/calibration-k16-shapes \\
        docs/runs/calibration-k16-shapes-e8 docs/runs/calibration-k16-shapes-fast --working 0.35
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasfpn_cli.search.calibration import Calibration, resumed_config  # noqa: E402
from nasfpn_cli.search.fidelity import compare_fidelity, measure_fidelity  # noqa: E402


def differences(base: dict, other: dict) -> str:
    """The proxy settings in which ``other`` differs from ``base``, as ``key=value``."""
    changed = [f"{key}={other.get(key)}" for key in sorted(set(base) | set(other))
               if base.get(key) != other.get(key)]
    return ", ".join(changed) or "(the first)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--working", type=float, default=None,
                        help="also tau over the architectures whose reference mean is above this")
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    calibrations = [Calibration(resumed_config(folder), resume=True, prepare=False)
                    for folder in args.folders]
    names = [arch.name for arch in calibrations[0].architectures]
    for folder, calibration in zip(args.folders[1:], calibrations[1:]):
        if [arch.name for arch in calibration.architectures] != names:
            sys.exit(f"{folder}: other architectures than {args.folders[0]}")
    reference = calibrations[0].score_table("reference")
    working = (reference.mean(axis=1) > args.working) if args.working is not None else None
    base_proxy = calibrations[0].score_table("proxy")
    base_settings = calibrations[0].config.settings("proxy")
    print(f"{len(names)} architectures x {reference.shape[1]} seeds; paired bootstrap "
          f"({args.resamples} resamples, 90% intervals)\n")
    title = "| proxy | tau, all | " + ("tau, working | " if working is not None else "")
    print(title + "s/training | tau minus the first's (paired) |")
    print("|---" * (title.count("|") + 1) + "|")
    for folder, calibration in zip(args.folders, calibrations):
        proxy = calibration.score_table("proxy")
        tau = measure_fidelity(proxy, reference, resamples=args.resamples).kendall_tau
        changed = differences(base_settings, calibration.config.settings("proxy"))
        row = f"| {folder.name}: {changed} | {tau.text(2)} | "
        if working is not None:
            kept = measure_fidelity(proxy[working], reference[working],
                                    resamples=args.resamples).kendall_tau
            row += f"{kept.text(2)} ({int(working.sum())}) | "
        seconds = calibration.seconds_per_training()["proxy"]
        delta = "" if calibration is calibrations[0] else compare_fidelity(
            proxy, base_proxy, reference, resamples=args.resamples).text(2)
        print(row + f"{seconds:.1f} | {delta} |")


if __name__ == "__main__":
    main()
