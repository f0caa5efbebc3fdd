"""Settings declared once (nasfpn_cli.settings) and the click options generated from them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from nasfpn_cli.commands.settings_options import (SectionedCommand, option_fields,
                                                 settings_options)
from nasfpn_cli.errors import UsageError
from nasfpn_cli.settings import (assigned_values, parse_assignment, sections, setting,
                                 value_problem)

FLAGS = Path(__file__).parent / "data" / "cli" / "flags.json"


@dataclass
class Toy:
    lr: float = setting(0.1, section="solver", minimum=0.0, min_open=True,
                        help="Learning rate (default {default}).")
    size: int = setting(64, section="data", minimum=8, maximum=512, unit="pixels")
    kind: str = setting("a", section="data", choices=("a", "b"))
    data_dir: str | None = setting(None, section="data", flag="data", path="any")
    fast: bool = setting(False, section="solver", switch=True)
    hidden: int = setting(3, section="solver", cli=False)


def _toy_command(**kwargs):
    @click.command(cls=SectionedCommand)
    @settings_options(Toy, **kwargs)
    def command(**options):
        click.echo(json.dumps(options, sort_keys=True))

    return command


def test_every_documented_flag_is_still_there():
    """The flags of every command before the settings tree (tests/data/cli/flags.json) remain."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from nasfpn_cli.cli import cli

    def flags(command, path, out):
        ctx = click.Context(command, info_name=path[-1])
        out[" ".join(path)] = {o for p in command.get_params(ctx) if isinstance(p, click.Option)
                               for o in p.opts + p.secondary_opts}
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                flags(command.get_command(ctx, name), path + [name], out)
        return out

    now = flags(cli, ["nasfpn"], {})
    for command, documented in json.loads(FLAGS.read_text()).items():
        assert set(documented) <= now[command], (command, set(documented) - now[command])


def test_generated_options_take_types_ranges_choices_and_flags_from_the_declaration():
    runner = CliRunner()
    command = _toy_command()
    assert json.loads(runner.invoke(command, []).output) == {  # parameters follow the flags
        "data": None, "fast": None, "kind": None, "lr": None, "size": None}
    assert option_fields(Toy)["data"] == "data_dir"
    given = runner.invoke(command, ["--lr", "0.5", "--size", "128", "--kind", "b", "--data",
                                    "d", "--no-fast"])
    assert json.loads(given.output) == {"data": "d", "fast": False, "kind": "b", "lr": 0.5,
                                        "size": 128}
    for bad in (["--lr", "0"], ["--lr", "nan"], ["--size", "4"], ["--size", "1024"],
                ["--kind", "c"], ["--hidden", "1"]):
        assert runner.invoke(command, bad).exit_code == 2, bad


def test_a_prefix_gives_the_same_fields_other_flags_and_concrete_defaults():
    command = _toy_command(prefix="proxy-", names=["size", "lr"], defaults=Toy(lr=0.3),
                           concrete=True)
    result = CliRunner().invoke(command, ["--proxy-size", "96"])
    assert json.loads(result.output) == {"proxy_lr": 0.3, "proxy_size": 96}
    helped = CliRunner().invoke(command, ["--help"]).output
    assert "Learning rate (default 0.3)." in helped
    assert "Solver options:" in helped and "Data options:" in helped
    assert helped.index("--proxy-size") < helped.index("--proxy-lr")  # the order of `names`


def test_values_are_checked_by_their_declaration():
    meta = Toy.__dataclass_fields__["size"].metadata["setting"]
    assert value_problem(32, "int", meta) is None
    assert value_problem(4, "int", meta) == "must be >= 8 pixels, got 4"
    assert value_problem(600, "int", meta) == "must be <= 512 pixels, got 600"
    assert value_problem(True, "int", meta) == "must be a whole number, got True"
    assert sections(Toy) == {"solver": ("lr", "fast", "hidden"),
                             "data": ("size", "kind", "data_dir")}


@pytest.mark.parametrize("text, expected", [
    ("solver.lr=0.02", ("lr", "solver", 0.02)),
    ("lr = 3", ("lr", None, 3)),
    ("data.scale_range=[0.5, 2]", ("scale_range", "data", (0.5, 2))),
    ("model.backbone=resnet50", ("backbone", "model", "resnet50")),
    ('model.genotype="a b.txt"', ("genotype", "model", "a b.txt")),
    ("solver.ema=true", ("ema", "solver", True)),
])
def test_set_assignments_are_toml_values(text, expected):
    assert parse_assignment(text) == expected


def test_set_names_unknown_fields_and_wrong_sections():
    assert assigned_values(Toy, [("hidden", "solver", 5)]) == {"hidden": 5}
    with pytest.raises(UsageError, match="--set data.nope: unknown setting"):
        assigned_values(Toy, [("nope", "data", 1)])
    with pytest.raises(UsageError, match="lr is in section 'solver', not 'data'"):
        assigned_values(Toy, [("lr", "data", 1)])
    with pytest.raises(ValueError, match=r"expected FIELD=VALUE \(or SECTION.FIELD=VALUE\)"):
        parse_assignment("lr")


def test_train_set_reaches_the_config_and_flags_win(cli):
    result = cli("train", "fpn", "--print-config", "--set", "solver.lr=0.02", "--set",
                 "solver.warmup_factor=0.5", "--set", "data.scale_range=[0.5,2]", "--lr", "0.03")
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert (config["solver"]["lr"], config["solver"]["warmup_factor"],
            config["data"]["scale_range"]) == (0.03, 0.5, [0.5, 2.0])
    bad = cli("train", "fpn", "--print-config", "--set", "solver.lr=-1")
    assert bad.returncode == 2 and "--lr: must be > 0, got -1" in bad.stderr


def test_train_help_is_grouped_by_section(cli):
    helped = cli("train", "--help").stdout
    headings = [line for line in helped.splitlines() if line.endswith("options:")]
    assert headings == ["Model options:", "Data options:", "Solver options:",
                        "Runtime options:"]


def test_a_required_setting_is_a_required_option():
    @dataclass
    class Needs:
        out: str | None = setting(None, section="data", short="-o", path="folder", required=True)
        quiet: bool = setting(False, section="data")

    @click.command()
    @settings_options(Needs, defaults=Needs(), concrete=True)
    def command(**options):
        click.echo(json.dumps(options, sort_keys=True))

    runner = CliRunner()
    missing = runner.invoke(command, [])
    assert missing.exit_code == 2 and "Missing option '-o' / '--out'" in missing.output
    assert json.loads(runner.invoke(command, ["-o", "x"]).output) == {"out": "x", "quiet": False}


def test_a_part_reads_as_the_holders_own_settings():
    """settings.part: TrainConfig.model's fields are flags, sections and values of TrainConfig."""
    from nasfpn_cli.settings import check_declared, declared, meta_of, part, setting_value

    @dataclass(frozen=True)
    class Inner:
        depth: int = setting(3, section="inner", minimum=1)

    @dataclass
    class Outer:
        lr: float = setting(0.1, section="solver", minimum=0.0)
        inner: Inner = part(Inner)

    assert [item.name for item, _ in declared(Outer)] == ["lr", "depth"]
    assert sections(Outer) == {"solver": ("lr",), "inner": ("depth",)}
    assert meta_of(Outer, "depth").minimum == 1
    outer = Outer(inner=Inner(depth=0))
    assert setting_value(outer, "depth") == 0 and setting_value(outer, "lr") == 0.1
    with pytest.raises(ValueError, match="depth: must be >= 1, got 0"):
        check_declared(outer, lambda name, message: ValueError(f"{name}: {message}"))
    assert option_fields(Outer) == {"lr": "lr", "depth": "depth"}
