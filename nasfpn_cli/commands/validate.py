"""``nasfpn validate FILE|NAME...``: check genotypes and summarise them.

Every diagnostic is printed compiler style (``FILE:LINE:COL: error: MESSAGE``, the line, a
caret) to stderr, all of them in source order; a one-line summary per file goes to stdout.
Exit status: 0 when every genotype is valid, 1 when any is not, 2 for bad usage.
"""
from __future__ import annotations

import json
from collections import Counter

import click

from ..errors import GenotypeError, GenotypeNotFound
from ..genotype import FORMATS, Diagnostic, Genotype, check_file, level_name
from ..genotype.diagnostics import file_diagnostic


def summary(genotype: Genotype) -> dict:
    """What a valid genotype amounts to: cell and op counts, levels, who makes each output."""
    producers = genotype.output_cells()
    levels = sorted(set(genotype.inputs) | {cell.level for cell in genotype.cells})
    return {
        "name": genotype.name,
        "cells": len(genotype.cells),
        "ops": dict(Counter(cell.op for cell in genotype.cells).most_common()),
        "levels": [level_name(level) for level in levels],
        "inputs": [level_name(level) for level in genotype.inputs],
        "outputs": {level_name(level): producers[level].name
                    for level in sorted(genotype.outputs) if level in producers},
        "residual": genotype.residual,
        **({"stack": genotype.stack} if genotype.stack else {}),
        **({"channels": genotype.channels} if genotype.channels else {}),
    }


def summary_line(spec: str, info: dict, warnings: int) -> str:
    """``nasfpn: valid, 7 cells (gp 4, sum 3), levels P3-P7, outputs P3=n3 ...``."""
    ops = ", ".join(f"{op} {count}" for op, count in info["ops"].items())
    levels = info["levels"]
    span = f"{levels[0]}-{levels[-1]}" if len(levels) > 1 else "".join(levels)
    outputs = " ".join(f"{level}={name}" for level, name in info["outputs"].items())
    text = f"{spec}: valid, {info['cells']} cells ({ops}), levels {span}, outputs {outputs}"
    for key in ("stack", "channels"):
        if key in info:
            text += f", {key} {info[key]}"
    if warnings:
        text += f" ({warnings} warning{'s' if warnings > 1 else ''})"
    return text


def _check(spec: str, fmt: str | None) -> tuple[Genotype | None, list[Diagnostic]]:
    """The genotype (None when unreadable) and every diagnostic for one argument."""
    try:
        checked = check_file(spec, fmt)
    except GenotypeNotFound as exc:
        return None, [file_diagnostic(spec, str(exc).removeprefix(f"{spec}: "), exc.hint)]
    except GenotypeError as exc:  # a binary file: one located diagnostic
        return None, list(exc.diagnostics)
    return checked.genotype, checked.diagnostics


@click.command("validate")
@click.argument("genotypes", nargs=-1, required=True, metavar="FILE|NAME...")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report instead of text.")
@click.option("--from", "fmt", type=click.Choice(FORMATS), default=None,
              help="Read the files in this format (default: from the extension; else dsl).")
def command(genotypes: tuple[str, ...], as_json: bool, fmt: str | None) -> int:
    """Check genotype files or bundled names: references, arity, levels, cycles, outputs.

    Prints every problem as FILE:LINE:COL: error: MESSAGE with the line and a caret, then a
    summary per file. Exit 0 if all are valid, 1 if any is not.
    """
    from ..console import console, err_console, print_diagnostics, safe_json

    reports = []
    all_valid = True
    for spec in genotypes:
        genotype, diagnostics = _check(spec, fmt)
        errors = [d for d in diagnostics if d.is_error]
        warnings = [d for d in diagnostics if not d.is_error]
        valid = genotype is not None and not errors
        all_valid &= valid
        report = {"file": spec, "valid": valid,
                  "errors": [d.to_dict() for d in errors],
                  "warnings": [d.to_dict() for d in warnings]}
        if valid:
            report.update(summary(genotype))
        reports.append(report)
        if as_json:
            continue
        print_diagnostics(diagnostics, more_hint="--json lists them all")
        if valid:
            console.print(summary_line(spec, report, len(warnings)), markup=False)
        else:
            count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
            err_console.print(f"{spec}: invalid ({count})", markup=False)
    if as_json:
        click.echo(safe_json(json.dumps({"valid": all_valid, "files": reports}, indent=2,
                                        ensure_ascii=False)))
    return 0 if all_valid else 1
