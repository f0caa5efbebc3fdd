"""Running graphviz's ``dot`` program on DOT text (SVG, PNG, PDF), or writing the DOT itself.

``dot`` is a separate program (the Debian package ``graphviz``); without it a drawing is saved
as ``.dot`` and the error says how to install graphviz and finish the job by hand.
"""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ..errors import NasfpnError, UsageError
from ..utils import atomic_write

OUTPUT_FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_HINT = ("install graphviz: 'sudo apt-get install graphviz' (Debian/Ubuntu), "
                "'brew install graphviz' (macOS) or 'conda install graphviz'")
DOT_TIMEOUT_S = 300


class GraphvizMissing(NasfpnError):
    """``dot`` is not on PATH; the DOT text was saved instead."""


def output_format(path: str | Path) -> str:
    """``out.svg`` -> ``svg``; a usage error for extensions graphviz output is not offered in."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix == "gv":
        suffix = "dot"
    if suffix not in OUTPUT_FORMATS:
        raise UsageError(f"-o {path}: cannot tell the format from the extension; use one of "
                         + ", ".join(f".{fmt}" for fmt in OUTPUT_FORMATS))
    return suffix


def find_dot() -> str | None:
    """The path of graphviz's ``dot`` program, or None when it is not installed."""
    return shutil.which("dot")


def render_dot(dot_text: str, out: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """Write ``dot_text`` rendered in the format ``out``'s extension names; returns ``out``.
    Never writes onto one of ``inputs`` (the genotype file drawn).

    Raises GraphvizMissing (after saving ``OUT.dot``) when ``dot`` is needed but absent.
    """
    inputs = list(inputs)
    out = Path(out)
    fmt = output_format(out)
    if fmt == "dot":
        atomic_write(out, dot_text, inputs=inputs)
        return out
    program = find_dot()
    if program is None:
        fallback = out.with_suffix(".dot")
        atomic_write(fallback, dot_text, inputs=inputs)
        raise GraphvizMissing(
            f"graphviz's 'dot' program is not installed, so {out} was not drawn; "
            f"the graph was saved as {fallback}",
            hint=f"{INSTALL_HINT}; then run: dot -T{fmt} {fallback} -o {out}")
    try:
        result = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode("utf-8"),
                                capture_output=True, timeout=DOT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NasfpnError(f"could not run {program}: {exc}") from exc
    if result.returncode != 0 or not result.stdout:
        message = result.stderr.decode("utf-8", errors="replace").strip()
        raise NasfpnError(f"graphviz failed to draw {out}: {message or 'no output'}")
    atomic_write(out, result.stdout, inputs=inputs)
    return out
