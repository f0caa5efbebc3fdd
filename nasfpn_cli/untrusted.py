"""Untrusted text (file, folder, run and genotype names; source lines) shown as text in every
renderer: the characters a terminal would obey, the columns a line takes, matplotlib's maths.
Torch- and rich-free: the lowest floor, beside errors.py."""
from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls except tab and newline, DEL, and the bidirectional overrides that can make
# a terminal show text in another order than it is (the "trojan source" characters)
UNSAFE_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def display_columns(text: str) -> int:
    """How many terminal columns ``text`` takes: wide (East Asian) characters two, combining
    marks and format characters (zero-width space, joiners) none, the rest one."""
    return sum(0 if unicodedata.category(c) in ("Mn", "Me", "Cf")
               else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def chart_text(text: str) -> str:
    """``text`` from outside (a run, folder, genotype name, a title) as matplotlib shows it,
    literally: every ``$`` escaped, so nothing is read as mathtext (``r_$\\foo{$`` crashed the
    renderer, valid maths changed the label), and a leading ``_`` behind a zero-width space,
    since legends hide labels that start with ``_``."""
    text = str(text).replace("$", r"\$")
    return "\u200b" + text if text.startswith("_") else text


# what a name or path may not show raw on one line: every control character, newline and tab
# included (a multi-line message keeps its own newlines; a path inside it must not add any)
LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(match.group()) or (
        f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def shown_path(path: object) -> str:
    """A path or name from outside as one line of text: newlines, tabs and every other control
    character as visible escapes (``out\\nerror: x``), so a path can never forge a line of the
    message it is printed in."""
    return LINE_BREAKING.sub(_escape, str(path))


def shell_word(word: str) -> str:
    """``word`` quoted for a POSIX shell to copy and paste: :func:`shlex.quote`, or bash's
    ``$'...'`` with escapes when it holds control characters (a quoted newline would still
    break the printed command line in two)."""
    import shlex

    if not LINE_BREAKING.search(word):
        return shlex.quote(word)
    inner = LINE_BREAKING.sub(_escape, word.replace("\\", "\\\\").replace("'", "\\'"))
    return f"$'{inner}'"
