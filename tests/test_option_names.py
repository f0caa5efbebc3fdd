"""Every option a message of the package names exists: each ``--option`` written in a string of
nasfpn_cli (errors, warnings, hints, help, notes) is an option of some command in the click tree
(issue 29: a warning told the user to set --reference-stop-epoch, which never existed).

Flags built at run time (``f"--reference-{name}"``) are not in the source text; the messages that
build them are tested where they are made (tests/search/test_reference_from.py)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import click

from nasfpn_cli.cli import cli

PACKAGE = Path(__file__).resolve().parents[1] / "nasfpn_cli"
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?![\w-])")
# --name spellings in the source that are not this tool's options, each with why
NOT_OURS = {
    "--x": "settings.py's docstring: a switch is spelt --x/--no-x",
    "--no-x": "settings.py's docstring: a switch is spelt --x/--no-x",
    "--s": "plotting.py: matplotlib's line style '--s' (dashed, squares)",
    "--levelcount-level": "rewards/__init__.py's docstring: the flag of the example plug-in "
                          "reward (tests/search/levelcount_reward.py)",
}


def every_option(command: click.Command, found: set[str]) -> set[str]:
    """The options of ``command`` and of every command under it."""
    ctx = click.Context(command, info_name=command.name)
    for param in command.get_params(ctx):
        if isinstance(param, click.Option):
            found.update(param.opts + param.secondary_opts)
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            every_option(command.get_command(ctx, name), found)
    return found


def named_options() -> dict[str, list[str]]:
    """Every ``--option`` in a string of the package -> where (file:line)."""
    named: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for option in OPTION.findall(node.value):
                    named.setdefault(option, []).append(
                        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    return named


def test_every_option_a_message_names_exists_on_some_command():
    known = every_option(cli, set())
    named = named_options()
    assert len(named) > 100 and "--proxy-config" in named  # the scan sees the messages
    missing = {option: where for option, where in named.items()
               if option not in known and option not in NOT_OURS}
    assert not missing, "options named in the package that no command has:\n" + "\n".join(
        f"{option}: {', '.join(where[:3])}" for option, where in sorted(missing.items()))
    assert not set(NOT_OURS) & known  # an exception that became an option: drop it


def test_the_scan_finds_a_made_up_option(tmp_path, monkeypatch):
    module = tmp_path / "nasfpn_cli" / "made_up.py"
    module.parent.mkdir()
    module.write_text('raise SystemExit(f"set --reference-stop-epoch {2} as there")\n')
    monkeypatch.setitem(globals(), "PACKAGE", module.parent)
    assert named_options() == {"--reference-stop-epoch": ["nasfpn_cli/made_up.py:1"]}
