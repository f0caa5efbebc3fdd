"""``nasfpn list``: the genotypes bundled with nasfpn, usable by name (``nasfpn show fpn``)."""
from __future__ import annotations

from collections import Counter

import click


def bundled_rows() -> list[dict]:
    """Name, cell count, ops and description (the file's first comment) of each bundled genotype."""
    from ..genotype.library import bundled_dir, bundled_names, check_text, first_comment

    rows = []
    for name in bundled_names():
        path = bundled_dir() / f"{name}.txt"
        text = path.read_text(encoding="utf-8")
        genotype, diagnostics = check_text(text, str(path))
        ops = Counter(cell.op for cell in genotype.cells)
        rows.append({
            "name": name,
            "cells": len(genotype.cells),
            "ops": ", ".join(f"{op} {count}" for op, count in ops.most_common()),
            "description": first_comment(text),
            "valid": not any(d.is_error for d in diagnostics),
        })
    return rows


@click.command("list")
def command() -> int:
    """List the bundled genotypes: name, cells, ops and description."""
    from rich.table import Table

    from ..console import console

    table = Table(title="bundled genotypes (use the name wherever a FILE is asked for)",
                  title_justify="left")
    table.add_column("name", style="bold cyan")
    table.add_column("cells", justify="right")
    table.add_column("ops")
    table.add_column("description")
    for row in bundled_rows():
        table.add_row(row["name"], str(row["cells"]), row["ops"],
                      row["description"] + ("" if row["valid"] else " (INVALID)"))
    console.print(table)
    return 0
