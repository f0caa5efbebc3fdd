"""Finding and reading genotypes: a file path, or the name of a bundled one (``nasfpn``).

Files are read in the format their extension says (``.json``, ``.py``/``.specs`` block specs,
anything else the DSL); see :mod:`nasfpn_cli.genotype.convert`.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import GenotypeError, GenotypeNotFound
from .nodes import Genotype, Span
from .diagnostics import Diagnostic, raise_for_errors, sort_diagnostics
from .parser import parse
from .validate import validate

BUNDLED_SUFFIX = ".txt"
STDIN, STDIN_NAME = "-", "<stdin>"  # '-' reads standard input, as every Unix tool does


def bundled_dir() -> Path:
    """The folder of the genotypes that ship with nasfpn."""
    return Path(str(resources.files("nasfpn_cli.genotypes")))


def bundled_names() -> list[str]:
    """Names of the genotypes that ship with nasfpn, sorted."""
    return sorted(p.stem for p in bundled_dir().glob(f"*{BUNDLED_SUFFIX}"))


def resolve_path(path_or_name: str | Path) -> Path:
    """A file path as given, or the bundled file for a bare name; raises GenotypeNotFound."""
    if str(path_or_name) == "":
        raise GenotypeNotFound("an empty path names no genotype file",
                               hint="give a file, '-' for standard input, or a bundled name: "
                                    + ", ".join(bundled_names()))
    path = Path(path_or_name)
    try:
        if path.is_file() or path.is_fifo():  # a pipe: `validate <(generate)`, /dev/stdin
            return path
        if path.is_symlink():
            try:
                path.stat()
            except OSError as exc:  # ELOOP: a link loop; ENOENT: a link to nothing
                raise GenotypeNotFound(f"{path}: a symbolic link that leads nowhere: "
                                       f"{exc.strerror or exc}") from exc
        if path.is_dir():
            raise GenotypeNotFound(f"{path}: is a directory, not a genotype file")
        if path.exists():
            raise GenotypeNotFound(f"{path}: is not a regular file or a pipe (a device?)")
    except OSError as exc:  # e.g. a name too long for the file system
        raise GenotypeNotFound(f"{path_or_name}: {exc.strerror or exc}") from exc
    text = str(path_or_name)
    if text and "/" not in text and "\\" not in text and not text.endswith(BUNDLED_SUFFIX):
        candidate = bundled_dir() / f"{text}{BUNDLED_SUFFIX}"
        if candidate.is_file():
            return candidate
    raise GenotypeNotFound(f"{text}: no such file or bundled genotype",
                           hint="bundled genotypes: " + ", ".join(bundled_names()))


def decode_source(data: bytes, path: str) -> str:
    """UTF-8 bytes (an optional BOM is dropped) -> text; raises GenotypeError located at the
    first byte that is not UTF-8 (binary files end here)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        diagnostic = Diagnostic("error", f"byte 0x{data[exc.start]:02x} is not UTF-8 text; "
                                "is this a genotype file?", Span(path, line, column))
        raise GenotypeError([diagnostic]) from exc
    if "\r" in text and "\n" not in text:  # old Mac line endings: CR alone ends every line
        text = text.replace("\r", "\n")
    return text


def read_source(path: Path, display: str | None = None) -> str:
    """The text of a genotype file; GenotypeNotFound when unreadable, GenotypeError when binary."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GenotypeNotFound(f"{display or path}: cannot read: {exc.strerror or exc}") from exc
    return decode_source(data, display or str(path))


def read_stdin() -> str:
    """Standard input as genotype text (read once: a second '-' gets an error)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None or sys.stdin.closed:
        raise GenotypeNotFound("-: standard input is not available")
    try:
        data = stream.read()
    except (OSError, ValueError) as exc:
        raise GenotypeNotFound(f"-: cannot read standard input: {exc}") from exc
    return decode_source(data, STDIN_NAME)


def check_text(text: str, path: str = "<string>") -> tuple[Genotype, list[Diagnostic]]:
    """Parse and validate DSL text; returns the genotype and all diagnostics, in source order."""
    genotype, diagnostics = parse(text, path)
    return genotype, sort_diagnostics(diagnostics + validate(genotype))


def parse_genotype(text: str, path: str = "<string>") -> Genotype:
    """Parse and validate DSL text; raises :class:`GenotypeError` with every error found."""
    genotype, diagnostics = check_text(text, path)
    raise_for_errors(diagnostics, path)
    return genotype


@dataclass(frozen=True)
class CheckedFile:
    """A genotype file read and checked: what a command needs to report on it."""

    spec: str  # what the user typed (a path or a bundled name)
    path: Path  # the file read
    genotype: Genotype
    diagnostics: list[Diagnostic]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]


def check_file(path_or_name: str | Path, fmt: str | None = None) -> CheckedFile:
    """Read, parse and validate a file or bundled name in ``fmt`` (default: by its extension).

    Content problems come back as diagnostics; a missing or unreadable file raises
    GenotypeNotFound, a binary one GenotypeError.
    """
    from .convert import infer_format, read_genotype_text

    if str(path_or_name) == STDIN:
        text = read_stdin()
        fmt = fmt or ("json" if text.lstrip().startswith("{") else "dsl")
        genotype, diagnostics = read_genotype_text(text, STDIN_NAME, fmt)
        return CheckedFile(STDIN, Path(STDIN), genotype, diagnostics)
    path = resolve_path(path_or_name)
    display = str(path_or_name) if Path(path_or_name).is_file() else str(path)
    text = read_source(path, display)
    genotype, diagnostics = read_genotype_text(text, display, fmt or infer_format(path) or "dsl")
    return CheckedFile(str(path_or_name), path, genotype, diagnostics)


def load_genotype(path_or_name: str | Path, fmt: str | None = None) -> Genotype:
    """Load a genotype file (DSL, JSON or block specs by extension) or a bundled name.

    Raises GenotypeError (with every located error) or GenotypeNotFound when it is unusable.
    """
    checked = check_file(path_or_name, fmt)
    raise_for_errors(checked.diagnostics, checked.genotype.path)
    return checked.genotype


def first_comment(text: str) -> str:
    """The first comment line of a genotype file, without its ``#`` (the one-line description)."""
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("#"):
            return stripped.lstrip("#").strip()
        if stripped:
            break
    return ""
