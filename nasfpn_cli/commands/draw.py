"""``nasfpn draw FILE -o OUT.svg|png|pdf|dot [--stack N]``: a pyramid diagram, paper style.

One row per level (P7 on top), inputs left, cells in written order, outputs right; op shown by
shape and colour, implicit residual edges dashed, a legend underneath. ``--stack N`` chains N
copies. Without graphviz installed the ``.dot`` file is written and the exit status is 1.
"""
from __future__ import annotations

import click

from ..genotype import FORMATS

MAX_DRAWN_STACKS = 64


@click.command("draw")
@click.argument("genotype", metavar="FILE|NAME")
@click.option("-o", "--output", "output", required=True, metavar="OUT",
              help="Output file: .svg, .png, .pdf or .dot (the format follows the extension).")
@click.option("--stack", "stack", type=click.IntRange(1, MAX_DRAWN_STACKS), default=None,
              help="Draw N copies chained (copy k's outputs are copy k+1's inputs); default: the "
                   "genotype's 'stack' directive, else 7 (the rule every command follows).")
@click.option("--from", "fmt", type=click.Choice(FORMATS), default=None,
              help="Read the file in this format (default: from the extension; else dsl).")
def command(genotype: str, output: str, stack: int | None, fmt: str | None) -> int:
    """Draw a genotype as SVG/PNG/PDF (graphviz) or write its DOT source."""
    from ..console import console, print_diagnostics
    from ..genotype import check_file
    from ..genotype.library import raise_for_errors
    from ..modeling.spec import resolve_pyramid_size
    from ..render import layout_to_dot, output_format, pyramid_layout, render_dot

    output_format(output)  # a bad extension is a usage error before any work
    checked = check_file(genotype, fmt)
    raise_for_errors(checked.diagnostics, checked.genotype.path)
    print_diagnostics(checked.warnings)
    copies, _ = resolve_pyramid_size(checked.genotype, stack)
    copies = min(copies, MAX_DRAWN_STACKS)
    dot_text = layout_to_dot(pyramid_layout(checked.genotype, copies))
    written = render_dot(dot_text, output, inputs=[checked.path])
    console.print(f"wrote {written}", markup=False)
    return 0
