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
