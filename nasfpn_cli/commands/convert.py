"""``nasfpn convert FILE --from F --to T [-o OUT]``: DSL <-> TF block specs <-> JSON.

``--from`` defaults to what FILE's extension says (``.json``, ``.py``/``.specs``, else dsl) and
``--to`` to what OUT's says. The result goes to stdout, or atomically to ``-o OUT``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import UsageError
from ..genotype import FORMATS


@click.command("convert")
@click.argument("genotype", metavar="FILE|NAME")
@click.option("--from", "source_format", type=click.Choice(FORMATS), default=None,
              help="Format of FILE (default: from its extension; else dsl).")
@click.option("--to", "target_format", type=click.Choice(FORMATS), default=None,
              help="Format to write (default: from the extension of OUT).")
@click.option("-o", "--output", "output", default=None, metavar="OUT",
              help="Write here (atomically) instead of to stdout.")
def command(genotype: str, source_format: str | None, target_format: str | None,
            output: str | None) -> int:
    """Convert a genotype between dsl, block-specs (TF NAS-FPN) and json."""
    from ..console import print_diagnostics, print_warning
    from ..errors import GenotypeError
    from ..genotype import check_file, infer_format, write_genotype_text
    from ..genotype.convert import lost_in
    from ..genotype.library import raise_for_errors
    from ..utils import atomic_write

    if target_format is None:
        target_format = infer_format(output) if output else None
        if target_format is None:
            raise UsageError("say which format to write with --to " + "|".join(FORMATS)
                             + (f" (the extension of {output} names none)" if output else ""))
    checked = check_file(genotype, source_format)
    raise_for_errors(checked.diagnostics, checked.genotype.path)
    print_diagnostics(checked.warnings)
    text, diagnostics = write_genotype_text(checked.genotype, target_format)
    if any(d.is_error for d in diagnostics):
        errors = [d for d in diagnostics if d.is_error]
        raise GenotypeError(diagnostics, f"cannot write {checked.spec} as {target_format} "
                            f"({len(errors)} problem{'s' * (len(errors) != 1)}):\n"
                            + "\n".join(d.render() for d in errors))
    for item in lost_in(checked.genotype, target_format):
        print_warning(f"{target_format} cannot record the {item}; it is left out")
    if output is None:
        sys.stdout.write(text)
    else:
        atomic_write(Path(output), text, inputs=[checked.path])  # never onto its own input
    return 0
