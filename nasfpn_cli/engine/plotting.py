"""Training curves from ``OUT/metrics.jsonl``: losses, learning rate and AP, as PNG files
(matplotlib's Agg backend: no display needed). Records are read through the run's
:class:`~.run_store.RunStore`, checked: a damaged line is an error naming it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import RunFileError, UsageError
from ..untrusted import chart_text
from ..utils import atomic_write
from .metrics_log import read_metrics
from .run_store import RunStore

# keys of a train record that are bookkeeping, not curves
_NOT_LOSSES = {"kind", "epoch", "step", "lr", "images_per_s", "time"}
_AP_KEYS = ("AP", "AP50", "AP75")


def new_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7, 4), dpi=100)


def save_figure(fig, path: Path) -> Path:
    import io

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    atomic_write(path, buffer.getvalue())
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def _series(records: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    points = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float))]
    return [p[0] for p in points], [p[1] for p in points]


def _records(run_dir: str | Path) -> tuple[Path, list[dict[str, Any]], list[dict[str, Any]]]:
    """A run's metrics file, its train records and its eval records; UsageError when empty."""
    run_dir = Path(run_dir)
    metrics_file = RunStore(run_dir).metrics_path if run_dir.is_dir() else run_dir
    records = read_metrics(metrics_file)
    train = [r for r in records if r.get("kind") == "train"]
    evals = [r for r in records if r.get("kind") == "eval"]
    if not train and not evals:  # no run here is a usage error; a run without records, bad input
        error = RunFileError if metrics_file.is_file() else UsageError
        raise error(f"{metrics_file}: no metrics to plot",
                    hint="give a run folder written by 'nasfpn train'")
    return metrics_file, train, evals


def _training_seconds(train: list[dict[str, Any]], step: int) -> float | None:
    """Wall seconds from the run's first logged step to the last one logged at or before
    ``step`` (the time an evaluation of that step had trained for)."""
    times = [(r["step"], r["time"]) for r in train if isinstance(r.get("time"), (int, float))]
    before = [t for s, t in times if s <= step]
    return before[-1] - times[0][1] if before and times else None


def plot_runs(run_dirs: list[str | Path], out_dir: str | Path) -> list[Path]:
    """Several runs on one chart each: ``compare_ap.png`` (validation AP and AP50 against
    training seconds) and ``compare_loss.png`` (training loss against seconds); the legend
    names each run by its folder."""
    runs = [(Path(d).name if Path(d).is_dir() else Path(d).parent.name, *_records(d)[1:])
            for d in run_dirs]
    out_dir = Path(out_dir)
    written: list[Path] = []
    fig, ax = new_figure()
    for index, (name, train, evals) in enumerate(runs):
        colour = f"C{index}"
        points = [(_training_seconds(train, r["step"]), r) for r in evals]
        points = [(s, r) for s, r in points if s is not None]
        for key, style in (("AP", "-o"), ("AP50", "--s")):
            ax.plot([s for s, _ in points], [r.get(key, 0.0) for _, r in points], style,
                    color=colour, label=chart_text(f"{name} {key}"))
    ax.set(xlabel="training seconds", ylabel="COCO bbox AP (fraction)",
           title="validation AP, runs side by side")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    written.append(save_figure(fig, out_dir / "compare_ap.png"))
    fig, ax = new_figure()
    for index, (name, train, _) in enumerate(runs):
        points = [(_training_seconds(train, r["step"]), r["loss"]) for r in train
                  if isinstance(r.get("loss"), (int, float))]
        ax.plot([s for s, _ in points if s is not None], [v for s, v in points if s is not None],
                color=f"C{index}", label=chart_text(name))
    ax.set(xlabel="training seconds", ylabel="loss", title="training loss, runs side by side")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    written.append(save_figure(fig, out_dir / "compare_loss.png"))
    return written


def plot_run(run_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Write ``losses.png``, ``lr.png`` and (with evaluations) ``ap.png`` for a run folder;
    returns their paths. Raises UsageError when there is nothing to plot."""
    metrics_file, train, evals = _records(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else metrics_file.parent
    written: list[Path] = []
    if train:
        loss_keys = sorted({k for r in train for k in r if k not in _NOT_LOSSES},
                           key=lambda k: (k != "loss", k))
        fig, ax = new_figure()
        for key in loss_keys:
            ax.plot(*_series(train, key), label=key, linewidth=2 if key == "loss" else 1)
        ax.set(xlabel="step", ylabel="loss", title="training losses")
        if all(v > 0 for k in loss_keys for v in _series(train, k)[1]):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
        written.append(save_figure(fig, out_dir / "losses.png"))
        fig, ax = new_figure()
        ax.plot(*_series(train, "lr"))
        ax.set(xlabel="step", ylabel="learning rate", title="learning rate")
        ax.grid(alpha=0.3)
        written.append(save_figure(fig, out_dir / "lr.png"))
    if evals:
        fig, ax = new_figure()
        for key in _AP_KEYS:
            epochs = [r["epoch"] for r in evals if key in r]
            ax.plot(epochs, [r[key] for r in evals if key in r], marker="o", label=key)
        ax.set(xlabel="epoch", ylabel="COCO bbox AP (fraction)", title="validation AP",
               ylim=(0, 1))
        ax.grid(alpha=0.3)
        ax.legend()
        written.append(save_figure(fig, out_dir / "ap.png"))
    return written
