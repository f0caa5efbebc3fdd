"""Charts of the comparison page as SVG text (matplotlib's SVG backend, glyphs as paths, so the
page needs no fonts or scripts): AP against a cost with the Pareto front, and training curves."""
from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from ..untrusted import chart_text

POINT_COLOUR = "tab:blue"
FRONT_COLOUR = "tab:red"


def pareto_front(costs: Sequence[float], scores: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats (cost <= and score >=, one strictly), by
    rising cost: the best accuracy each budget can buy."""
    order = sorted(range(len(costs)), key=lambda i: (costs[i], -scores[i]))
    front: list[int] = []
    best = float("-inf")
    for index in order:
        if scores[index] > best:
            front.append(index)
            best = scores[index]
    return front


def _figure(width: float = 6.0, height: float = 3.6, columns: int = 1):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, columns, figsize=(width, height), dpi=100)


def figure_svg(fig) -> str:
    """The figure as an ``<svg>`` element (no XML prolog), ready to inline in HTML."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.tight_layout()
    fig.savefig(buffer, format="svg", metadata={"Creator": None, "Date": None})
    plt.close(fig)
    return strip_prolog(buffer.getvalue())


def strip_prolog(svg: str) -> str:
    """Drop everything before ``<svg`` (XML declaration, DOCTYPE, comments)."""
    start = svg.find("<svg")
    if start < 0:
        raise ValueError("not an SVG document")
    return svg[start:]


def scatter_svg(names: Sequence[str], costs: Sequence[float], scores: Sequence[float], *,
                xlabel: str, ylabel: str = "AP", title: str = "") -> str:
    """AP against a cost, one labelled point per model, the Pareto front as a red step line."""
    fig, ax = _figure()
    ax.scatter(costs, scores, color=POINT_COLOUR, zorder=3)
    for name, x, y in zip(names, costs, scores):
        ax.annotate(chart_text(name), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    front = pareto_front(costs, scores)
    ax.plot([costs[i] for i in front], [scores[i] for i in front], color=FRONT_COLOUR,
            drawstyle="steps-post", label="Pareto front", zorder=2)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=chart_text(title))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return figure_svg(fig)


def curves_svg(records: Sequence[dict[str, Any]], title: str = "") -> str | None:
    """Training loss by step (left) and evaluation AP by step (right) of one run's
    metrics.jsonl records; None when there is no training record."""
    train = [r for r in records if r.get("kind") == "train" and "loss" in r]
    if not train:
        return None
    evals = [r for r in records if r.get("kind") == "eval" and "AP" in r]
    fig, (loss_ax, ap_ax) = _figure(8.0, 3.0, columns=2)
    loss_ax.plot([r["step"] for r in train], [r["loss"] for r in train], color=POINT_COLOUR)
    loss_ax.set(xlabel="step", ylabel="loss", title=chart_text(f"{title} loss".strip()))
    loss_ax.grid(alpha=0.3)
    if evals:
        ap_ax.plot([r["step"] for r in evals], [r["AP"] for r in evals], marker="o",
                   color=FRONT_COLOUR, label="AP")
        if all("AP50" in r for r in evals):
            ap_ax.plot([r["step"] for r in evals], [r["AP50"] for r in evals], marker="s",
                       color="tab:green", label="AP50")
        ap_ax.legend(fontsize=8)
    ap_ax.set(xlabel="step", ylabel="AP", title=chart_text(f"{title} validation".strip()))
    ap_ax.grid(alpha=0.3)
    return figure_svg(fig)
