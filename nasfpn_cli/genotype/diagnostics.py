"""Located diagnostics, printed like a compiler: ``FILE:LINE:COL: error: MESSAGE``."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import GenotypeError
from ..untrusted import UNSAFE_CHARACTERS, display_columns
from .nodes import Span


def source_lines(source: str) -> list[str]:
    """The lines of a source text as the parser counts them: split at ``\\n``, one ``\\r`` dropped.

    (``str.splitlines`` also splits at form feeds and unicode separators, which would make the
    line shown under a diagnostic disagree with the line number in it.)
    """
    lines = source.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


@dataclass(frozen=True)
class Diagnostic:
    """One error or warning about a place in a source file."""

    severity: str  # "error" | "warning"
    message: str
    span: Span
    source_line: str | None = None  # the text of the line, for the caret display
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def sort_key(self) -> tuple[str, int, int]:
        return (self.span.file, self.span.line, self.span.column)

    def location(self) -> str:
        """``FILE:LINE:COL``, or just ``FILE`` for a diagnostic about the whole file."""
        return str(self.span) if self.span.line > 0 else self.span.file

    def render(self) -> str:
        """``FILE:LINE:COL: severity: message``, the source line and a caret under the place."""
        out = [f"{self.location()}: {self.severity}: {self.message}"]
        if self.source_line is not None and self.span.line > 0:
            # control characters and bidi overrides show as one space each (not as the console's
            # escapes), wide characters count two columns: the caret stays under its place
            line = UNSAFE_CHARACTERS.sub(" ", self.source_line.replace("\t", " "))
            col = min(max(self.span.column, 1), len(line) + 1)
            width = 1
            if self.span.end_column and self.span.end_column > col:
                width = min(self.span.end_column - col, max(len(line) - col + 1, 1))
            line, col, width = _window(line, col, width)
            out.append(f"    {line}")
            marked = max(display_columns(line[col - 1:col - 1 + width]), 1)
            out.append("    " + " " * display_columns(line[:col - 1]) + "^" + "~" * (marked - 1))
        if self.hint:
            out.append(f"    hint: {self.hint}")
        return "\n".join(out)

    def to_dict(self) -> dict:
        """A JSON-ready dict (``validate --json``)."""
        return {
            "severity": self.severity,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            **({"hint": self.hint} if self.hint else {}),
        }


_SHOWN_WIDTH = 120  # longer source lines are cut around the place the diagnostic points at


def _window(line: str, col: int, width: int) -> tuple[str, int, int]:
    """A long line cut to about ``_SHOWN_WIDTH`` characters around ``col`` (with ``...``)."""
    if len(line) <= _SHOWN_WIDTH:
        return line, col, width
    start = max(col - 1 - _SHOWN_WIDTH // 2, 0)
    end = min(start + _SHOWN_WIDTH, len(line))
    prefix = "..." if start > 0 else ""
    suffix = "..." if end < len(line) else ""
    width = min(width, end - (col - 1)) if end > col - 1 else 1
    return prefix + line[start:end] + suffix, col - start + len(prefix), max(width, 1)


def sort_diagnostics(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in source order (file, line, column); the sort is stable within one place."""
    return sorted(diagnostics, key=lambda d: d.sort_key)


def file_diagnostic(path: str, message: str, hint: str | None = None,
                    severity: str = "error") -> Diagnostic:
    """A diagnostic about a whole file (unreadable, not text...): printed as ``FILE: error: ...``."""
    return Diagnostic(severity, message, Span(path, 0, 0), None, hint)


class DiagnosticSink:
    """Collects diagnostics for one source text, filling in the line shown under each."""

    def __init__(self, source: str, path: str, lines: list[str] | None = None):
        self.lines = source_lines(source) if lines is None else lines
        self.path = path
        self.items: list[Diagnostic] = []

    def span(self, line: int, column: int, end_column: int | None = None) -> Span:
        """A span in this text; a place past the last line (the end of the file) is put at the
        end of the last line, so every diagnostic points at a line that exists."""
        if line > len(self.lines) and self.lines:
            line = len(self.lines)
            column, end_column = len(self.lines[-1]) + 1, None
        return Span(self.path, line, column, end_column)

    def add(self, severity: str, message: str, span: Span, hint: str | None = None) -> None:
        text = self.lines[span.line - 1] if 0 < span.line <= len(self.lines) else None
        self.items.append(Diagnostic(severity, message, span, text, hint))

    def error(self, message: str, span: Span, hint: str | None = None) -> None:
        self.add("error", message, span, hint)

    def warning(self, message: str, span: Span, hint: str | None = None) -> None:
        self.add("warning", message, span, hint)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)


MAX_ERRORS_IN_MESSAGE = 50  # errors quoted in a GenotypeError message; the rest are counted


def raise_for_errors(diagnostics: list[Diagnostic], path: str) -> None:
    """Raise :class:`GenotypeError` when any diagnostic is an error: every error is on the
    exception, the first :data:`MAX_ERRORS_IN_MESSAGE` in its message with a count of the rest."""
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        count = f"{len(errors)} error{'s' if len(errors) > 1 else ''}"
        shown = errors[:MAX_ERRORS_IN_MESSAGE]
        rest = len(errors) - len(shown)
        raise GenotypeError(diagnostics, f"invalid genotype {path} ({count}):\n"
                            + "\n".join(d.render() for d in shown)
                            + (f"\n... and {rest} more errors not shown ('nasfpn validate "
                               f"{path} --json' lists them all)" if rest else ""))
