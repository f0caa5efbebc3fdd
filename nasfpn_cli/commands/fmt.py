"""``nasfpn fmt FILE... [--check | --write]``: the one canonical formatting of genotype files.

Without options the formatted text goes to stdout. ``--check`` only reports (exit 1 when a
file would change), ``--write`` rewrites files in place, atomically. Comments are kept; see
:mod:`nasfpn_cli.genotype.format` for the rules.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import UsageError


@click.command("fmt")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a file is not formatted.")
@click.option("--write", "-w", "write", is_flag=True, help="Rewrite the files in place.")
def command(files: tuple[str, ...], check: bool, write: bool) -> int:
    """Format genotype files canonically (comments kept); print, --check or --write."""
    from ..console import err_console
    from ..genotype import format_source, infer_format
    from ..genotype.library import STDIN, STDIN_NAME, read_source, read_stdin, resolve_path
    from ..utils import atomic_write

    if check and write:
        raise UsageError("--check and --write exclude each other")
    changed = []
    for spec in files:
        if spec == STDIN:  # standard input: formatted to stdout, or checked
            if write:
                raise UsageError("-: --write cannot rewrite standard input",
                                 hint="without --write the formatted text goes to stdout")
            source = read_stdin()
            formatted = format_source(source, STDIN_NAME)
            if formatted != source:
                changed.append(STDIN_NAME)
                if check:
                    err_console.print(f"would reformat {STDIN_NAME}", markup=False)
            if not check:
                sys.stdout.write(formatted)
            continue
        path = resolve_path(spec)
        if write and not Path(spec).is_file():
            raise UsageError(f"{spec} is a bundled genotype; --write only rewrites files you "
                             "name by path")
        other = infer_format(path)
        if other not in (None, "dsl"):
            raise UsageError(f"{spec}: fmt formats DSL files and this is {other} (by its "
                             "extension); 'nasfpn convert' turns it into the DSL")
        display = spec if Path(spec).is_file() else str(path)
        source = read_source(path, display)
        formatted = format_source(source, display)
        if formatted != source:
            changed.append(display)
        if check:
            if formatted != source:
                err_console.print(f"would reformat {display}", markup=False)
        elif write:
            if formatted != source:
                atomic_write(path, formatted)
                err_console.print(f"reformatted {display}", markup=False)
        else:
            sys.stdout.write(formatted)
    if check or write:
        unchanged = len(files) - len(changed)
        verb = "would be reformatted" if check else "reformatted"
        err_console.print(f"{len(changed)} file{'s' * (len(changed) != 1)} {verb}, {unchanged} "
                          f"already formatted", markup=False, style="dim")
    return 1 if check and changed else 0
