"""Training curves from ``OUT/metrics.jsonl``: losses, learning rate and AP, as PNG files
(matplotlib's Agg backend: no display needed)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..utils import atomic_write
from ..utils import read_jsonl

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


def plot_run(run_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Write ``losses.png``, ``lr.png`` and (with evaluations) ``ap.png`` for a run folder;
    returns their paths. Raises UsageError when there is nothing to plot."""
    run_dir = Path(run_dir)
    metrics_file = run_dir / "metrics.jsonl" if run_dir.is_dir() else run_dir
    records = read_jsonl(metrics_file)
    train = [r for r in records if r.get("kind") == "train"]
    evals = [r for r in records if r.get("kind") == "eval"]
    if not train and not evals:
        raise UsageError(f"{metrics_file}: no metrics to plot",
                         hint="give a run folder written by 'nasfpn train'")
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
