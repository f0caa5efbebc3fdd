"""Rich tables for flop reports: one model (summary, components, cells) or several side by side."""
from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table

from .counting import FlopReport

UNITS = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))


def human(value: float) -> str:
    """``138734355968`` -> ``138.73 G``."""
    for scale, suffix in UNITS:
        if abs(value) >= scale:
            return f"{value / scale:.2f} {suffix}"
    return f"{value:.0f}"


def _share(part: int, total: int) -> str:
    return f"{100.0 * part / total:.1f}%" if total else "-"


def _size_text(report: FlopReport) -> str:
    height, width = report.image_size
    text = f"{height}x{width}"
    if report.padded_size and report.padded_size != report.image_size:
        text += f" (padded to {report.padded_size[0]}x{report.padded_size[1]})"
    return text


def summary_table(report: FlopReport) -> Table:
    table = Table(title=f"{report.model} at {_size_text(report)}", title_justify="left")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_column("exact", justify="right")
    table.add_row("parameters", human(report.params), f"{report.params:,}")
    table.add_row("MACs (multiply-adds)", human(report.macs), f"{report.macs:,}")
    table.add_row("FLOPs (2 x MACs)", human(report.flops), f"{report.flops:,}")
    conv = report.operators.get("conv", 0)
    table.add_row("  of which conv MACs", human(conv), f"{conv:,}")
    table.add_row("uncounted ops", ", ".join(report.uncounted) or "none", "")
    return table


def components_table(report: FlopReport) -> Table:
    table = Table(title="per component", title_justify="left")
    for column in ("component", "params", "MACs", "FLOPs", "share of MACs"):
        table.add_column(column, justify="left" if column == "component" else "right")
    for part in report.components:
        table.add_row(part.name, human(part.params), human(part.macs), human(part.flops),
                      _share(part.macs, report.macs))
    return table


def cells_table(report: FlopReport) -> Table:
    stacks = report.cells[0].stacks if report.cells else 0
    table = Table(title=f"per cell ({stacks} stacks)", title_justify="left")
    for column in ("cell", "op", "level", "params/stack", "MACs/stack", f"MACs x{stacks}",
                   "share of MACs"):
        table.add_column(column, justify="left" if column in ("cell", "op") else "right")
    for cell in report.cells:
        table.add_row(cell.name, cell.op, f"P{cell.level}", human(cell.params // cell.stacks),
                      human(cell.macs // cell.stacks), human(cell.macs), _share(cell.macs, report.macs))
    return table


def render_report(report: FlopReport) -> Group:
    """Summary, components and cells of one model."""
    return Group(summary_table(report), components_table(report), cells_table(report))


def comparison_table(reports: Sequence[FlopReport]) -> Table:
    """Several models side by side: totals and each component's MACs."""
    table = Table(title="comparison", title_justify="left")
    table.add_column("quantity")
    for report in reports:
        table.add_column(report.model, justify="right")
    rows: list[tuple[str, list[str]]] = [
        ("image size", [f"{r.image_size[0]}x{r.image_size[1]}" for r in reports]),
        ("computed at (padded)", [f"{h}x{w}" for h, w in (r.padded_size or r.image_size for r in reports)]),
        ("parameters", [human(r.params) for r in reports]),
        ("MACs (multiply-adds)", [human(r.macs) for r in reports]),
        ("FLOPs (2 x MACs)", [human(r.flops) for r in reports]),
        ("cells per stack", [str(len(r.cells)) for r in reports]),
        ("stacks", [str(len(r.stacks)) for r in reports]),
    ]
    names = list(dict.fromkeys(part.name for r in reports for part in r.components))
    for name in names:
        values = []
        for report in reports:
            part = next((p for p in report.components if p.name == name), None)
            values.append(human(part.macs) if part else "-")
        rows.append((f"{name} MACs", values))
    for label, values in rows:
        table.add_row(label, *values)
    return table
