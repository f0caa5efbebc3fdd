"""Untrusted text in every renderer: names with ``$`` in charts (matplotlib's mathtext), rich
emoji codes on the terminal, bidi overrides and control characters on the HTML page."""
from __future__ import annotations

import shutil

import pytest

from nasfpn_cli.untrusted import chart_text

HOSTILE = r"r_$\foo{$"
SEARCH = ["search", "--reward", "similarity:nasfpn", "--controller", "random", "--trials", "3"]


@pytest.mark.parametrize("name", [HOSTILE, "$x^2$", r"a\$b", "cost $5", "_hidden", "plain"])
def test_chart_text_is_shown_literally(name):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.text import Text

    shown, is_math = Text()._preprocess_math(chart_text(name))
    assert not is_math
    assert shown.lstrip("\u200b") == name
    assert not shown.startswith("_")  # legends hide labels that start with "_"


def test_dollar_names_do_not_crash_plot_compare_or_search_report(run, tiny_run, tmp_path):
    hostile = shutil.copytree(tiny_run, tmp_path / HOSTILE)
    other = shutil.copytree(tiny_run, tmp_path / "$x^2$")
    code, _, err = run("plot", hostile, other, "-o", tmp_path / "plots")
    assert code == 0, err
    assert (tmp_path / "plots" / "compare_ap.png").is_file()
    code, _, err = run("compare", hostile, "--latency-runs", "0", "--title", HOSTILE, "-o",
                       tmp_path / "page.html")
    assert code == 0, err
    search = tmp_path / f"s_{HOSTILE}"
    assert run(*SEARCH, "-o", search)[0] == 0
    code, _, err = run("search", "report", search)
    assert code == 0, err
    assert (search / "reward.png").is_file()


def test_emoji_codes_are_shown_as_written(run, tmp_path):
    from nasfpn_cli.genotype.library import bundled_dir

    path = tmp_path / "e:warning:.txt"
    shutil.copy(bundled_dir() / "fpn.txt", path)
    code, out, err = run("validate", path)
    assert code == 0, err
    assert "e:warning:.txt: valid" in out and "\u26a0" not in out + err


def test_carets_stay_under_their_place(tmp_path):
    import io

    from nasfpn_cli.console import SafeConsole
    from nasfpn_cli.genotype.diagnostics import Diagnostic
    from nasfpn_cli.genotype.nodes import Span
    from nasfpn_cli.untrusted import display_columns

    source = "\u5bbd:warning:\x85\u202e\x1b\tx = bogus(P4, P3) @ P3"
    start = source.index("bogus") + 1
    diagnostic = Diagnostic("error", "unknown op", Span("g.txt", 3, start, start + 5), source)
    buffer = io.StringIO()
    SafeConsole(file=buffer, width=200, highlight=False).print(diagnostic.render())
    _, shown, caret = buffer.getvalue().splitlines()[:3]
    assert display_columns(shown[:shown.index("bogus")]) == caret.index("^")
    assert caret.strip() == "^~~~~"
    assert ":warning:" in shown


def test_the_html_page_shows_control_characters_as_escapes():
    from nasfpn_cli.report.entries import Entry
    from nasfpn_cli.report.page import summary_table

    hostile = "cat\x00\x1b[31m\u202eevil\u2066"
    entry = Entry(f"run{hostile}", "run", f"path{hostile}", None,
                  best_eval={"AP": 0.5, "AP50": 0.6, "per_class": {hostile: 0.5}})
    page = summary_table([entry])
    assert not any(ch in page for ch in "\x00\x1b\u202e\u2066")
    assert "cat\\x00\\x1b[31m\\u202eevil\\u2066" in page
