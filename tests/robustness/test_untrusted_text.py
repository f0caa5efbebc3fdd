"""Untrusted text in every renderer: names with ``$`` in charts (matplotlib's mathtext), rich
emoji codes on the terminal, bidi overrides and control characters on the HTML page."""
from __future__ import annotations

import shutil

import pytest

from nasfpn_cli.utils import chart_text

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
