"""The comparison page: one self-contained HTML file (inline CSS and SVG, no scripts, no links
to anything outside it)."""
from __future__ import annotations

import html
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..console import safe_text
from .charts import curves_svg, scatter_svg, strip_prolog
from .entries import Entry

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
th { background: #f0f0f0; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure svg { max-width: 100%; height: auto; }
figure.scatter { width: 46%; }
figure.drawing svg { max-width: 360px; max-height: 420px; }
figcaption { font-size: 0.85em; text-align: center; color: #555; }
.note { color: #777; font-size: 0.9em; }
"""


def _text(value: Any) -> str:
    """Untrusted text (class, run, file names) for the page: HTML-escaped, and control
    characters (NUL, ESC), DEL and bidi overrides shown as ``\\xNN``/``\\uNNNN``, as on the
    terminal, so none reaches the page raw."""
    return html.escape(safe_text(value), quote=True)


def _number(value: float | int | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def genotype_svg(genotype, stacks: int = 1) -> str | None:
    """The genotype's pyramid drawing as inline SVG; None without graphviz."""
    from ..render import GraphvizMissing, layout_to_dot, pyramid_layout, render_dot

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "drawing.svg"
        try:
            render_dot(layout_to_dot(pyramid_layout(genotype, stacks)), out)
        except GraphvizMissing:
            return None
        return strip_prolog(out.read_text(encoding="utf-8"))


def _class_names(entries: Sequence[Entry]) -> list[str]:
    names: dict[str, None] = {}
    for entry in entries:
        for name in (entry.best_eval or {}).get("per_class", {}):
            names.setdefault(name)
    return list(names)


def summary_table(entries: Sequence[Entry]) -> str:
    """Params, MACs, latency, AP, search reward and per-class AP of every entry."""
    classes = _class_names(entries)
    head = ["model", "kind", "params (M)", "GMACs", "latency ms", "AP", "AP50", "reward",
            *(f"AP {name}" for name in classes)]
    rows = []
    for entry in entries:
        best = entry.best_eval or {}
        per_class = best.get("per_class", {})
        cells = [f'<td class="text">{_text(entry.name)}</td>',
                 f'<td class="text" title="{_text(entry.path)}">{_text(entry.kind)}</td>',
                 f"<td>{entry.params / 1e6:.3f}</td>", f"<td>{entry.macs / 1e9:.3f}</td>",
                 f"<td>{_number(entry.latency_ms, 2)}</td>", f"<td>{_number(best.get('AP'))}</td>",
                 f"<td>{_number(best.get('AP50'))}</td>", f"<td>{_number(entry.reward, 4)}</td>",
                 *(f"<td>{_number(per_class.get(name))}</td>" for name in classes)]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    header = "".join(f"<th>{_text(name)}</th>" for name in head)
    return f'<table id="summary"><tr>{header}</tr>{"".join(rows)}</table>'


def _scores(entries: Sequence[Entry]) -> tuple[str, list[Entry], list[float]] | None:
    """What the scatter plots show: AP of the trained entries, else the search reward."""
    trained = [e for e in entries if e.ap is not None]
    if trained:
        return "AP (best validation)", trained, [float(e.ap) for e in trained]
    searched = [e for e in entries if e.reward is not None]
    if searched:
        return "search reward", searched, [float(e.reward) for e in searched]
    return None


def scatter_section(entries: Sequence[Entry]) -> str:
    chosen = _scores(entries)
    if chosen is None:
        return ('<p class="note">No AP to plot: accuracy comes from run folders (nasfpn train) '
                "or search folders.</p>")
    ylabel, shown, scores = chosen
    names = [e.name for e in shown]
    figures = [("ap-vs-macs", scatter_svg(names, [e.macs / 1e9 for e in shown], scores,
                                          xlabel="GMACs", ylabel=ylabel,
                                          title=f"{ylabel} vs multiply-adds"))]
    if all(e.latency_ms is not None for e in shown):
        figures.append(("ap-vs-latency", scatter_svg(
            names, [float(e.latency_ms) for e in shown], scores, xlabel="latency ms",
            ylabel=ylabel, title=f"{ylabel} vs latency")))
    return "".join(f'<figure class="scatter" id="{key}">{svg}'
                   f"<figcaption>{_text(key.replace('-', ' '))}; red: Pareto front</figcaption>"
                   "</figure>" for key, svg in figures)


def drawings_section(entries: Sequence[Entry]) -> str:
    parts = []
    for entry in entries:
        svg = genotype_svg(entry.genotype)
        body = svg if svg is not None else '<p class="note">graphviz is not installed</p>'
        parts.append(f'<figure class="drawing" data-model="{_text(entry.name)}">{body}'
                     f"<figcaption>{_text(entry.name)}</figcaption></figure>")
    return "".join(parts)


def curves_section(entries: Sequence[Entry]) -> str:
    parts = []
    for entry in entries:
        svg = curves_svg(entry.records, entry.name) if entry.records else None
        if svg is not None:
            parts.append(f'<figure class="curves" data-model="{_text(entry.name)}">{svg}'
                         f"<figcaption>{_text(entry.name)}: {_text(entry.path)}</figcaption>"
                         "</figure>")
    return "".join(parts) or '<p class="note">No training curves: no run folder given.</p>'


def render_page(entries: Sequence[Entry], *, image_size: int, device: str,
                title: str = "nasfpn compare") -> str:
    """The whole HTML document."""
    setting = (f"costs of the raw network on one {image_size}x{image_size} image; latency: "
               f"median at batch 1 on {device}; AP: the best validation evaluation of a run")
    sections = [("Summary", f'<p class="note">{_text(setting)}</p>' + summary_table(entries)),
                ("Accuracy against cost", scatter_section(entries)),
                ("Genotypes", drawings_section(entries)),
                ("Training curves", curves_section(entries))]
    body = "".join(f"<section><h2>{_text(heading)}</h2>{content}</section>"
                   for heading, content in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_text(title)}</title><style>{STYLE}</style></head>"
            f"<body><h1>{_text(title)}</h1>{body}</body></html>\n")


def write_compare_page(entries: Sequence[Entry], out: str | Path, *, image_size: int,
                       device: str, title: str = "nasfpn compare") -> Path:
    """Write :func:`render_page` atomically to ``out``, never over a file the entries stand for
    (a run's checkpoint, a genotype file); returns the path."""
    from ..utils import atomic_write
    from .entries import entry_sources

    out = Path(out)
    atomic_write(out, render_page(entries, image_size=image_size, device=device, title=title),
                 inputs=entry_sources(entries))
    return out
