"""``nasfpn show FILE``: a genotype's cells as a table.

One row per cell, in written order: its op, level, inputs (with the resize each one needs to
reach the cell's level), the same-level features the residual rule adds (the implicit edges,
drawn dashed by ``nasfpn draw``) and whether it is an output. Cells that reach no output are
dimmed: the compiler drops them.
"""
from __future__ import annotations

import click

from ..genotype import FORMATS, Genotype, level_name
from ..genotype.graph import reaching_outputs, residual_inputs


def resize_note(source_level: int, target_level: int) -> str:
    """How a feature is brought to the cell's level: ``up x4`` (nearest) or ``pool /2`` (max)."""
    if source_level == target_level:
        return ""
    factor = 2 ** abs(source_level - target_level)
    return f"up x{factor}" if source_level > target_level else f"pool /{factor}"


def cell_rows(genotype: Genotype) -> list[dict]:
    """Table rows (plain data, so tests can read them without rich)."""
    levels = dict(zip(genotype.input_names, genotype.inputs))
    residuals = residual_inputs(genotype)
    alive = reaching_outputs(genotype)
    rows = []
    for index, cell in enumerate(genotype.cells, start=1):
        inputs = []
        for name in cell.input_names:
            note = resize_note(levels[name], cell.level)
            inputs.append(f"{name} ({note})" if note else name)
        rows.append({
            "index": index,
            "name": cell.name,
            "op": cell.op,
            "level": level_name(cell.level),
            "inputs": inputs,
            "residual": list(residuals[cell.name]),
            "output": cell.is_output,
            "alive": cell.name in alive,
        })
        levels[cell.name] = cell.level
    return rows


@click.command("show")
@click.argument("genotype", metavar="FILE|NAME")
@click.option("--from", "fmt", type=click.Choice(FORMATS), default=None,
              help="Read the file in this format (default: from the extension; else dsl).")
def command(genotype: str, fmt: str | None) -> int:
    """Show a genotype's cells as a table: op, level, inputs, implicit residual edges, outputs."""
    from rich.table import Table
    from rich.text import Text

    from ..console import console, print_diagnostics
    from ..genotype import check_file
    from ..genotype.library import raise_for_errors

    checked = check_file(genotype, fmt)
    raise_for_errors(checked.diagnostics, checked.genotype.path)
    print_diagnostics(checked.warnings)
    model = checked.genotype
    title = model.name or checked.spec
    facts = [f"inputs {' '.join(model.input_names)}",
             f"outputs {' '.join(level_name(level) for level in sorted(model.outputs))}",
             f"residual {model.residual} (+ implicit: unused same-level features it adds)"]
    if model.stack:
        facts.append(f"stack {model.stack}")
    if model.channels:
        facts.append(f"channels {model.channels}")
    table = Table(title=Text(f"{title}: {len(model.cells)} cells", style="bold"),
                  caption=Text("; ".join(facts)),
                  title_justify="left", caption_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column("cell", style="bold")
    table.add_column("op")
    table.add_column("level")
    table.add_column("inputs (resize)")
    table.add_column("+ implicit", style="red")
    table.add_column("output", justify="center")
    for row in cell_rows(model):
        table.add_row(str(row["index"]), row["name"], row["op"], row["level"],
                      ", ".join(row["inputs"]), ", ".join(row["residual"]),
                      row["level"] if row["output"] else ("dropped" if not row["alive"] else ""),
                      style=None if row["alive"] else "dim")
    console.print(table)
    return 0
