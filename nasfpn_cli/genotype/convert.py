"""Converting genotypes between the DSL, JSON and TF block specs.

Every format is read into a :class:`Genotype` plus located diagnostics (parse, then the same
semantic :func:`validate` for all) and written from a valid genotype.
"""
from __future__ import annotations

from pathlib import Path

from .nodes import Genotype
from .diagnostics import Diagnostic, sort_diagnostics
from .validate import validate

FORMATS = ("dsl", "block-specs", "json")
# file extensions that name a format; anything else is read as the DSL
EXTENSIONS = {
    ".txt": "dsl",
    ".geno": "dsl",
    ".genotype": "dsl",
    ".json": "json",
    ".py": "block-specs",
    ".specs": "block-specs",
}


def infer_format(path: str | Path) -> str | None:
    """The format an extension names (``x.json`` -> ``json``), or None when it names none."""
    return EXTENSIONS.get(Path(path).suffix.lower())


def read_genotype_text(text: str, path: str, fmt: str) -> tuple[Genotype, list[Diagnostic]]:
    """Parse ``text`` in ``fmt`` and validate it; all diagnostics come back in source order."""
    if fmt == "dsl":
        from .parser import parse

        genotype, diagnostics = parse(text, path)
    elif fmt == "json":
        from .json_codec import genotype_from_json

        genotype, diagnostics = genotype_from_json(text, path)
    elif fmt == "block-specs":
        from .block_specs import genotype_from_block_specs

        genotype, diagnostics = genotype_from_block_specs(text, path)
    else:
        raise ValueError(f"unknown genotype format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return genotype, sort_diagnostics(diagnostics + validate(genotype))


def write_genotype_text(genotype: Genotype, fmt: str) -> tuple[str, list[Diagnostic]]:
    """The text of a valid genotype in ``fmt``; when it cannot be written so (block specs have
    no ``wsum``...), the text is empty and the diagnostics say why, located in the source."""
    if fmt == "dsl":
        from .format import format_genotype

        return format_genotype(genotype), []
    if fmt == "json":
        from .json_codec import genotype_to_json

        return genotype_to_json(genotype), []
    if fmt == "block-specs":
        from .block_specs import format_block_specs, genotype_to_block_specs

        specs, diagnostics = genotype_to_block_specs(genotype)
        if any(d.is_error for d in diagnostics):
            return "", sort_diagnostics(diagnostics)
        return format_block_specs(specs), diagnostics
    raise ValueError(f"unknown genotype format {fmt!r}; expected one of {', '.join(FORMATS)}")


def lost_in(genotype: Genotype, fmt: str) -> list[str]:
    """Directives a format cannot record (block specs keep only the cells)."""
    if fmt != "block-specs":
        return []
    lost = []
    if genotype.name:
        lost.append(f"name {genotype.name!r}")
    if genotype.stack is not None:
        lost.append(f"stack {genotype.stack}")
    if genotype.channels is not None:
        lost.append(f"channels {genotype.channels}")
    return lost
