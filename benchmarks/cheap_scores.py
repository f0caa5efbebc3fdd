"""Every cheap score of a recorded calibration side by side, against its reference (issue 17,
item 5): how well each ranks the architectures, and what it costs per candidate.

The scores, on the calibration's architectures and seeds:

* the proxy ladder the recorded curves give (``Calibration.ladder``: the proxy and the reference
  stopped at each epoch; with ``--ladder-from`` the proxies of other calibrations of the same
  plan), each at its recorded cost;
* the proxy's *training loss* after its first epochs (the mean of the last ``--window`` steps of
  each epoch, lower ranked higher) and its *validation loss* after each, measured here: the
  proxy's training of each architecture at the calibration's own seed, stopped after
  ``--loss-epochs`` epochs, so it is the very training whose early AP50 the ladder holds. Appended to ``--out`` as each finishes, so a killed run
  resumes without training anything twice;
* from ``--supernet`` folders of ``benchmarks/supernet_fidelity.py`` run against this
  calibration: the supernet's scores (one row per supernet training) and the training-free
  scores, params and neck MACs (the same at every seed, taken from the first).

Prints one markdown table, cheapest first: Kendall's tau with its 90% bootstrap interval over
all architectures a score can rank and over the working ones (reference mean above
``--working``), Spearman's rho, top-3 overlap, seconds per candidate and that as a fraction of
one reference training, and the difference of tau from the default proxy's with a *paired*
interval (the same resampled architectures for both). One torch thread.

    python benchmarks/cheap_scores.py docs/runs/calibration-k16-shapes --working 0.35 \\
        --supernet out/sn-k16-shapes-seed0 out/sn-k16-shapes-seed1 \\
        --ladder-from docs/runs/calibration-k16-shapes-e8 --out out/cheap-shapes.jsonl
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from nasfpn_cli.genotype import parse_genotype  # noqa: E402
from nasfpn_cli.search.calibration import Calibration, resumed_config, training_seed  # noqa: E402
from nasfpn_cli.search.fidelity import compare_fidelity, measure_fidelity  # noqa: E402
from nasfpn_cli.search.proxy_task import (ProxyTask, stop_after_epoch,  # noqa: E402
                                          validation_loss)
from nasfpn_cli.search.tuning import MAX_COST  # noqa: E402
from nasfpn_cli.utils import read_jsonl  # noqa: E402

# the supernet benchmark's columns: (its name, the name shown, seed-dependent)
SUPERNET_COLUMNS = [("supernet loss", "supernet 1/(1+val loss)", True),
                    ("supernet ap50", "supernet AP50, recalibrated", True),
                    ("naive ap50", "supernet AP50, no recalibration", True),
                    ("synflow", "synflow (untrained)", False),
                    ("naswot", "NASWOT (untrained)", False),
                    ("grad_norm", "grad-norm (untrained)", False),
                    ("params", "neck params", False), ("neck MACs", "neck MACs", False)]


@dataclasses.dataclass
class Score:
    """One cheap score: [architectures, seeds] with NaN where it cannot score (outside the
    supernet's space), and its seconds per candidate (None: free)."""

    name: str
    table: np.ndarray
    seconds: float | None


def epoch_losses(task: ProxyTask, genotype, seed: int, epochs: int, window: int
                 ) -> tuple[list[float], list[float]]:
    """The proxy's training of ``genotype`` at ``seed`` (as its reward trains it), stopped after
    ``epochs``: the mean training loss of the last ``window`` steps of each epoch, and the
    validation loss after each epoch."""
    from nasfpn_cli.engine import train
    from nasfpn_cli.engine.trainer import Hook

    class Losses(Hook):
        def __init__(self) -> None:
            self.steps: list[float] = []
            self.by_epoch: list[float] = []
            self.validation: list[float] = []

        def after_step(self, trainer) -> None:
            self.steps.append(float(trainer.last_losses["loss"]))

        def after_epoch(self, trainer) -> None:
            self.by_epoch.append(float(np.mean(self.steps[-window:])))
            self.validation.append(validation_loss(trainer.eval_module, validation, config))
            trainer.model.train()  # validation_loss left it in eval mode

    config, run = task.trial_training(seed)  # exactly as a trial of the proxy trains
    validation = task.data().val
    losses = Losses()
    train(config, progress=False, genotype=genotype, write_files=False, data=run,
          extra_hooks=(losses, stop_after_epoch(epochs)))
    return losses.by_epoch, losses.validation


def loss_scores(calibration: Calibration, out: Path, epochs: int, window: int) -> list[Score]:
    """Training and validation loss after each of the first ``epochs`` proxy epochs, measured
    (resumed from ``out``, a JSON-lines file of finished trainings)."""
    from rich.progress import Progress

    proxy = ProxyTask(calibration.config.schedule("proxy"), calibration.out)
    proxy.prepare()  # the proxy's data, in the calibration's own folder (git-ignored)
    done = {(r["architecture"], r["seed_index"]): r for r in read_jsonl(out)}
    seeds = calibration.config.seeds
    jobs = [(arch, i) for arch in calibration.architectures for i in range(seeds)
            if (arch.name, i) not in done]
    with Progress(transient=True) as progress, out.open("a") as log:
        task = progress.add_task("training loss", total=len(jobs))
        for arch, seed_index in jobs:
            start = time.perf_counter()
            losses, validation = epoch_losses(
                proxy, parse_genotype(arch.genotype, f"<{arch.name}>"),
                training_seed(calibration.config.seed, seed_index, arch), epochs, window)
            record = {"architecture": arch.name, "seed_index": seed_index, "losses": losses,
                      "validation": validation, "seconds": time.perf_counter() - start}
            done[(arch.name, seed_index)] = record
            log.write(json.dumps(record) + "\n")
            log.flush()
            progress.advance(task)
    per_epoch = np.mean([r["seconds"] for r in done.values()]) / epochs
    return [Score(f"proxy {shown} after epoch {e + 1}/{proxy.settings.epochs}",
                  np.array([[-done[(arch.name, i)][key][e] for i in range(seeds)]
                            for arch in calibration.architectures]), per_epoch * (e + 1))
            for e in range(epochs)
            for key, shown in (("losses", "training loss"), ("validation", "validation loss"))]


def supernet_scores(calibration: Calibration, folders: list[Path]) -> list[Score]:
    """The supernet benchmark's scores of these architectures: a row per supernet training for
    its own scores, one for the training-free ones."""
    names = [arch.name for arch in calibration.architectures]
    runs = [json.loads((folder / "fidelity.json").read_text()) for folder in folders]
    for folder, run in zip(folders, runs):
        if [str(calibration.out)] != [str(Path(p)) for p in run["calibration"]]:
            sys.exit(f"{folder}: ranked against {run['calibration']}, not {calibration.out}")
    scores = []
    for key, shown, per_supernet in SUPERNET_COLUMNS:
        for folder, run in zip(folders, runs) if per_supernet else [(folders[0], runs[0])]:
            rows = run["rows"]
            column = np.array([[rows.get(name, {}).get(key, np.nan)] for name in names])
            seconds = [rows[name].get(f"{key} seconds") for name in names
                       if f"{key} seconds" in rows.get(name, {})]
            label = f"{shown}, {supernet_label(run)}" if per_supernet else shown
            scores.append(Score(label, column, float(np.mean(seconds)) if seconds else None))
    return scores


def supernet_label(run: dict[str, Any]) -> str:
    """Which supernet training: its seed, and its norm scope where not the default."""
    scope = run.get("norm_scope", "level")
    return f"seed {run['seed']}" + ("" if scope == "level" else f", norm per {scope}")


def supernet_pairs(calibration: Calibration, folders: list[Path], resamples: int) -> list[str]:
    """Paired differences of tau that decide the supernet's settings: within each supernet
    training, the loss and the naive AP50 against the recalibrated AP50 (the default score); for
    each score, every other training against the first (another seed or norm scope)."""
    reference = calibration.score_table("reference")
    scores = supernet_scores(calibration, folders)
    by_name = {score.name: score for score in scores}
    labels = [supernet_label(json.loads((f / "fidelity.json").read_text())) for f in folders]
    pairs = [(f"{a}, {label}", f"{b}, {label}") for label in labels
             for a, b in (("supernet 1/(1+val loss)", "supernet AP50, recalibrated"),
                          ("supernet AP50, no recalibration", "supernet AP50, recalibrated"))]
    pairs += [(f"{shown}, {label}", f"{shown}, {labels[0]}") for label in labels[1:]
              for _, shown, _ in SUPERNET_COLUMNS[:3]]
    lines = []
    for first, second in pairs:
        a, b = by_name[first].table, by_name[second].table
        rows = ~(np.isnan(a).any(axis=1) | np.isnan(b).any(axis=1))
        paired = compare_fidelity(a[rows], b[rows], reference[rows], resamples=resamples)
        lines.append(f"| {first} | {second} | {rows.sum()} | {paired.text(2)} |")
    return lines


def ladder_scores(calibration: Calibration, ladder_from: list[str]) -> list[Score]:
    """The ladder's rungs that stop early and are not extrapolated, at their recorded cost."""
    reference_seconds = calibration.seconds_per_training()["reference"]
    return [Score(rung.name, rung.scores, rung.cost * reference_seconds)
            for rung in calibration.ladder(tuple(ladder_from))
            if "extrapolated" not in rung.name and rung.cost <= MAX_COST + 1e-9]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("calibration", type=Path)
    parser.add_argument("--supernet", type=Path, nargs="*", default=[])
    parser.add_argument("--ladder-from", nargs="*", default=[])
    parser.add_argument("--loss-epochs", type=int, default=2)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--working", type=float, default=None)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--out", type=Path, required=True,
                        help="JSON lines of the loss trainings (resumed when it exists)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    calibration = Calibration(resumed_config(args.calibration), resume=True, prepare=False)
    reference = calibration.score_table("reference")
    reference_seconds = calibration.seconds_per_training()["reference"]
    default = calibration.score_table("proxy")
    scores = ladder_scores(calibration, args.ladder_from)
    scores += loss_scores(calibration, args.out, args.loss_epochs, args.window)
    scores += supernet_scores(calibration, args.supernet) if args.supernet else []
    scores.sort(key=lambda s: -1.0 if s.seconds is None else s.seconds)
    working = reference.mean(axis=1) > args.working if args.working is not None else None
    print(f"{args.calibration}: {len(reference)} architectures x {reference.shape[1]} seeds; "
          f"reference training {reference_seconds:.0f} s; 90% intervals, {args.resamples} "
          f"resamples\n")
    print("| score | n | tau [90%] | tau, working | rho | top-3 | s/candidate | "
          "x reference | tau minus the default proxy's (paired) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for score in scores:
        rows = ~np.isnan(score.table).any(axis=1)
        table, truth = score.table[rows], reference[rows]
        fidelity = measure_fidelity(table, truth, resamples=args.resamples)
        working_tau = "-"
        if working is not None and (working & rows).sum() >= 3:
            working_tau = measure_fidelity(score.table[working & rows], reference[working & rows],
                                           resamples=args.resamples).kendall_tau.text(2)
        paired = compare_fidelity(table, default[rows], truth, resamples=args.resamples).text(2)
        seconds = "-" if score.seconds is None else f"{score.seconds:.1f}"
        share = "-" if score.seconds is None else f"{score.seconds / reference_seconds:.3f}"
        print(f"| {score.name} | {rows.sum()} | {fidelity.kendall_tau.text(2)} | {working_tau} | "
              f"{fidelity.spearman_rho.text(2)} | {fidelity.top_k_overlap:.2f} | {seconds} | "
              f"{share} | {paired} |")
    if args.supernet:
        print("\nPaired differences of tau between supernet scores and trainings:\n")
        print("| tau of | minus tau of | n | difference (paired) |\n|---|---|---|---|")
        print("\n".join(supernet_pairs(calibration, args.supernet, args.resamples)))


if __name__ == "__main__":
    main()
