"""Finding genotypes: a file path, or the name of a bundled genotype (``nasfpn`` -> nasfpn.txt)."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import GenotypeError, GenotypeNotFound
from .ast import Genotype
from .diagnostics import Diagnostic
from .parser import parse
from .validate import validate


def bundled_dir() -> Path:
    return Path(str(resources.files("nasfpn_cli.genotypes")))


def bundled_names() -> list[str]:
    """Names of the genotypes that ship with nasfpn, sorted."""
    return sorted(p.stem for p in bundled_dir().glob("*.txt"))


def resolve_path(path_or_name: str | Path) -> Path:
    """A file path as given, or the bundled file for a bare name; raises GenotypeNotFound."""
    path = Path(path_or_name)
    if path.is_file():
        return path
    if path.exists():
        raise GenotypeNotFound(f"{path}: is not a file")
    text = str(path_or_name)
    if "/" not in text and not text.endswith(".txt"):
        candidate = bundled_dir() / f"{text}.txt"
        if candidate.is_file():
            return candidate
    raise GenotypeNotFound(f"{text}: no such file or bundled genotype",
                           hint="bundled: " + ", ".join(bundled_names()))


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GenotypeNotFound(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GenotypeNotFound(f"{path}: is not UTF-8 text (byte {exc.start})") from exc


def check_text(text: str, path: str = "<string>") -> tuple[Genotype, list[Diagnostic]]:
    """Parse and validate; returns the genotype and all diagnostics (semantic ones only if the
    syntax was clean enough to build cells)."""
    genotype, diagnostics = parse(text, path)
    return genotype, diagnostics + validate(genotype)


def parse_genotype(text: str, path: str = "<string>") -> Genotype:
    """Parse and validate text; raises :class:`GenotypeError` with every error found."""
    genotype, diagnostics = check_text(text, path)
    if any(d.is_error for d in diagnostics):
        raise GenotypeError(diagnostics)
    return genotype


def load_genotype(path_or_name: str | Path) -> Genotype:
    """Load a genotype file or bundled name; raises GenotypeError/GenotypeNotFound when unusable."""
    path = resolve_path(path_or_name)
    return parse_genotype(read_text(path), str(path_or_name) if Path(path_or_name).is_file() else str(path))
