"""Located diagnostics, printed like a compiler: ``FILE:LINE:COL: error: MESSAGE``."""
from __future__ import annotations

from dataclasses import dataclass

from .ast import Span


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" | "warning"
    message: str
    span: Span
    source_line: str | None = None  # the text of the line, for the caret display
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def render(self) -> str:
        """``FILE:LINE:COL: severity: message``, the source line and a caret under the place."""
        out = [f"{self.span}: {self.severity}: {self.message}"]
        if self.source_line is not None and self.span.line > 0:
            line = self.source_line.rstrip("\n").replace("\t", " ")
            col = max(self.span.column, 1)
            width = 1
            if self.span.end_column and self.span.end_column > col:
                width = self.span.end_column - col
            out.append(f"    {line}")
            out.append("    " + " " * (col - 1) + "^" + "~" * (width - 1))
        if self.hint:
            out.append(f"    hint: {self.hint}")
        return "\n".join(out)

    def to_dict(self) -> dict:
        return {
            "severity": self.severity,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            **({"hint": self.hint} if self.hint else {}),
        }


class DiagnosticSink:
    """Collects diagnostics for one source text, filling in the line shown under each."""

    def __init__(self, source: str, path: str):
        self.lines = source.splitlines()
        self.path = path
        self.items: list[Diagnostic] = []

    def span(self, line: int, column: int, end_column: int | None = None) -> Span:
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
