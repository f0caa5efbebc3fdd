"""Rewards register with their settings and get flags of their own (issue 27): the plug-in of
the issue, unchanged (``levelcount_reward.py``), and the built-in rewards' flags kept apart."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cli_runner import run_cli
from nasfpn_cli.genotype import parse_genotype
from nasfpn_cli.search.rewards import REWARDS, reward_entry
from nasfpn_cli.search.space import SearchSpace

HERE = Path(__file__).parent
PLUGIN = ("--reward-module", "levelcount_reward")


def plugin_cli(*args: str):
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    return run_cli("search", *PLUGIN, *args, env={"PYTHONPATH": path})


def level_fraction(text: str, level: int) -> float:
    cells = parse_genotype(text, "<trial>").cells
    return sum(cell.level == level for cell in cells) / len(cells)


def test_a_plugin_reward_gets_flags_from_its_settings_and_follows_them(tmp_path):
    shown = plugin_cli("--help")
    assert shown.returncode == 0, shown.stderr
    assert "Levelcount options" in shown.stdout and "--levelcount-level" in shown.stdout
    assert "3<=x<=7" in shown.stdout  # the declared range
    out = tmp_path / "search"
    result = plugin_cli("--reward", "levelcount", "--levelcount-level", "6", "--space", "paper",
                        "--controller", "random", "--trials", "12", "--final-top-k", "0",
                        "-o", str(out))
    assert result.returncode == 0, result.stderr
    stored = json.loads((out / "search.json").read_text())["identity"]["reward"]
    assert stored["options"] == {"levelcount_level": 6}
    space = SearchSpace()
    records = [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]
    assert len(records) == 12
    for record in records:
        text = space.to_text(tuple(record["decisions"]), name="trial")
        assert record["reward"] == pytest.approx(level_fraction(text, 6))
    assert any(level_fraction(space.to_text(tuple(r["decisions"]), name="t"), 6)
               != level_fraction(space.to_text(tuple(r["decisions"]), name="t"), 4)
               for r in records)  # the flag changed what was scored
    again = plugin_cli("--reward", "levelcount", "--levelcount-level", "5", "--resume",
                       "-o", str(out))
    assert again.returncode == 2 and "--levelcount-level" in again.stderr


@pytest.mark.parametrize("args, named", [
    (("--reward", "proxy", "--levelcount-level", "6"), ("--levelcount-level", "levelcount",
                                                        "proxy")),
    (("--reward", "levelcount", "--supernet-steps", "3"), ("--supernet-steps", "supernet",
                                                           "levelcount")),
    (("--reward", "levelcount", "--proxy-epochs", "3"), ("--proxy-epochs", "proxy",
                                                         "levelcount")),
    (("--reward", "levelcount", "--levelcount-level", "9"), ("--levelcount-level",)),
])
def test_one_rewards_flag_given_to_another_is_a_usage_error_naming_both(tmp_path, args, named):
    result = plugin_cli(*args, "--trials", "2", "-o", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    assert all(name in result.stderr for name in named), result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_the_builtin_rewards_are_registered_with_their_settings():
    proxy, supernet = reward_entry("proxy"), reward_entry("supernet")
    assert (proxy.prefix, proxy.key_prefix, proxy.uses) == ("proxy-", "", ())
    assert (supernet.prefix, supernet.key_prefix, supernet.uses) == ("supernet-", "supernet_",
                                                                     ("proxy",))
    assert reward_entry("similarity").settings is None and REWARDS["similarity"].uses == ()


def test_the_search_command_names_no_reward():
    source = (HERE.parents[1] / "nasfpn_cli" / "commands" / "search.py").read_text()
    for name in ("SupernetSettings", "supernet-", "similarity", "REWARDS_WITHOUT_PROXY"):
        assert name not in source
