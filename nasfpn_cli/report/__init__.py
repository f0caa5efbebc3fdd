"""``nasfpn compare``'s side-by-side page: one static HTML file, everything inlined (SVG drawings
and charts, CSS), so it opens offline with no server and no CDN.

``entries`` turns genotypes, run folders and search folders into :class:`~.entries.Entry` rows
and measures them, ``charts`` draws the scatter plots (with the Pareto front) and training
curves as SVG text, ``page`` writes the HTML.
"""
from .entries import Entry, collect_entries, measure_entries
from .page import write_compare_page

__all__ = ["Entry", "collect_entries", "measure_entries", "write_compare_page"]
