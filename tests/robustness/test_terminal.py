"""Text from input files reaches the terminal as text: no rich markup is applied, and control
characters (escape sequences) are shown as visible escapes."""
from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.table import Table
from rich.text import Text

from nasfpn_cli.console import SafeConsole, safe_text

HOSTILE = "[bold]x[/bold] [link=http://e.vil]y[/link]\x1b]0;owned\x07\x1b[2J\r\x08\u202e"


def _terminal() -> tuple[SafeConsole, io.StringIO]:
    buffer = io.StringIO()
    return SafeConsole(file=buffer, force_terminal=True, color_system="truecolor",
                       highlight=False, width=200), buffer


def _escape_free(rendered: str) -> str:
    """What is left after removing the SGR style codes rich itself writes."""
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", rendered)


@pytest.mark.parametrize("render", [
    lambda c: c.print(HOSTILE),
    lambda c: c.print(Text(HOSTILE, style="bold")),
    lambda c: c.print(_table(HOSTILE)),
    lambda c: c.print(f"wrote {HOSTILE}", style="dim"),
])
def test_untrusted_text_is_neither_markup_nor_control(render):
    console, buffer = _terminal()
    render(console)
    shown = _escape_free(buffer.getvalue())
    assert "[bold]x[/bold]" in shown and "[link=http://e.vil]" in shown
    assert not any(ord(ch) < 32 and ch != "\n" for ch in shown), repr(shown)
    # rich drops BEL, CR and BS itself; ESC and the bidi override are shown as escapes
    assert "\\x1b]0;owned" in shown and "\\x1b[2J" in shown and "\\u202e" in shown


def _table(cell: str) -> Table:
    table = Table(title=cell)
    table.add_column(cell)
    table.add_row(cell)
    return table


def test_deliberate_markup_still_works():
    console, buffer = _terminal()
    console.print("[bold red]error:[/]", markup=True)
    assert "\x1b[1;31merror:" in buffer.getvalue()


@given(st.text())
def test_safe_text_leaves_no_control_character(text):
    shown = safe_text(text)
    assert all(ch in "\n\t" or not (ord(ch) < 32 or 0x7f <= ord(ch) <= 0x9f) for ch in shown)
    if all(ch in "\n\t" or 32 <= ord(ch) < 0x7f for ch in text):
        assert shown == text  # ordinary text is untouched


def test_genotype_names_and_paths_print_as_text(run, tmp_path):
    path = tmp_path / "g[bold]x\x1b[31m.txt"
    path.write_text("# [red]comment[/red]\x1b]0;t\x07\ngenotype g\ninputs P3 P4 P5 P6 P7\n"
                    "outputs P3 P4 P5 P6 P7\n"
                    + "".join(f"o{l} = sum(P{l}, P{l + 1 if l < 7 else 6}) @ P{l} -> out\n"
                              for l in range(3, 8)))
    for args in (["validate", path], ["show", path], ["list"]):
        code, out, err = run(*args)
        assert "\x1b" not in out + err, (args, out + err)
    code, out, err = run("validate", path)
    assert code == 0 and "g[bold]x\\x1b[31m.txt: valid" in out


def test_errors_quoting_user_text_are_escaped(run, tmp_path):
    code, out, err = run("validate", "no\x1b[2Jsuch[bold]file")
    assert code == 1 and "\x1b" not in err and "no\\x1b[2Jsuch[bold]file" in out + err


def test_usage_errors_quoting_typed_values_are_escaped(run, tmp_path):
    code, _, err = run("predict", "c.pt", "x.png", "-o", tmp_path, "--score-threshold",
                       "1\x1b[2J")
    assert code == 2 and "\x1b" not in err and "1\\x1b[2J" in err


def test_progress_bars_keep_their_own_cursor_control():
    from rich.progress import Progress

    console, buffer = _terminal()
    with Progress(console=console, auto_refresh=False) as progress:
        task = progress.add_task("predict \x1b[2J", total=2)
        progress.advance(task)
        progress.refresh()
    shown = buffer.getvalue()
    assert "\r\x1b[2K" in shown  # rich's own line redraw reaches the terminal
    assert "predict \\x1b[2J" in shown  # the description's escape does not


def test_json_output_escapes_what_json_leaves_raw(run, tmp_path):
    import json

    path = tmp_path / "gé\u202e\x9b.txt"
    path.write_text("genotype g\n")
    code, out, _ = run("validate", path, "--json")
    assert "\u202e" not in out and "\x9b" not in out and "\\u202e" in out
    assert json.loads(out)["files"][0]["file"] == str(path)  # the same JSON value
    assert "gé" in out  # ordinary non-ASCII text stays readable
