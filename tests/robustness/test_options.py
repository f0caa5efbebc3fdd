"""Options are usage errors (exit 2) naming the option, before any work: non-finite numbers,
out-of-range values, sizes beyond memory, options that do not apply; hints name real options."""
from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasfpn_cli.cli import COMMANDS, cli
from nasfpn_cli.commands.params import finite

ROOT = Path(__file__).resolve().parents[2]
CK = "missing.pt"  # never read: the options fail first

# (command line, the option the error must name)
BAD_OPTIONS = [
    (["train", "fpn", "--data", "d", "-o", "{out}", "--lr", "inf"], "--lr"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--lr", "nan"], "--lr"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--momentum", "5"], "--momentum"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--focal-gamma", "nan"], "--focal-gamma"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--focal-alpha", "-1"], "--focal-alpha"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--weight-decay", "-inf"], "--weight-decay"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--flip-prob", "nan"], "--flip-prob"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--grad-clip", "inf"], "--grad-clip"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--scale-range", "0.5,inf"], "--scale-range"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--image-size", "100000000"], "--image-size"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--stack", "1000000"], "--stack"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--channels", "99999999"], "--channels"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--epochs", "0"], "--epochs"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--workers", "-1"], "--workers"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--milestones", "3,4"], "--milestones"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--optimizer", "adamw", "--momentum", "0.9"],
     "--momentum"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--dropblock-size", "5"], "--dropblock-size"),
    (["train", "fpn", "--train-ann", "a.json", "--train-images", "i", "-o", "{out}",
      "--eval-every", "2"], "--eval-every"),
    (["predict", CK, "x.png", "-o", "{out}", "--score-threshold", "nan"], "--score-threshold"),
    (["predict", CK, "x.png", "-o", "{out}", "--image-size", "99999999"], "--image-size"),
    (["eval", CK, "--ann", "a.json", "--images", "i", "--image-size", "99999999"],
     "--image-size"),
    (["search", "-o", "{out}", "--ppo-lr", "inf"], "--ppo-lr"),
    (["search", "-o", "{out}", "--ppo-entropy", "nan"], "--ppo-entropy"),
    (["search", "-o", "{out}", "--proxy-lr", "nan"], "--proxy-lr"),
    (["search", "-o", "{out}", "--reward", "similarity:nasfpn", "--proxy-epochs", "3"],
     "--proxy-epochs"),
    (["search", "-o", "{out}", "--proxy-image-size", "1000000"], "--proxy-image-size"),
    (["data", "synth", "{out}", "--image-size", "9999999"], "--image-size"),
    (["data", "synth", "{out}", "--val-fraction", "nan"], "--val-fraction"),
    (["export", "fpn", "-o", "m.onnx", "--image-size", "99999999"], "--image-size"),
    (["export", "fpn", "-o", "m.onnx", "--stack", "1000000"], "--stack"),
    (["export", "fpn", "-o", "m.onnx", "--batch-size", "1000000"], "--batch-size"),
    (["export", "fpn", "-o", "m.onnx", "--num-classes", "100000000"], "--num-classes"),
    (["flops", "fpn", "--num-classes", "100000000"], "--num-classes"),
    (["eval", CK, "--ann", "a.json", "--images", "i", "--batch-size", "99999999"],
     "--batch-size"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--batch-size", "99999999"], "--batch-size"),
    (["search", "-o", "{out}", "--proxy-batch-size", "99999999"], "--proxy-batch-size"),
    (["search", "-o", "{out}", "--workers", "100000"], "--workers"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--seed", "-5"], "--seed"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--seed", "99999999999999999999"], "--seed"),
    (["search", "-o", "{out}", "--seed", "-3"], "--seed"),
    (["search", "-o", "{out}", "--cells", "100000"], "--cells"),
    (["search", "-o", "{out}", "--proxy-data-seed", str(2 ** 40)], "--proxy-data-seed"),
    (["data", "synth", "{out}", "--seed", "-1"], "--seed"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--workers", "100000"], "--workers"),
    (["eval", CK, "--ann", "a.json", "--images", "i", "--workers", "100000"], "--workers"),
    (["search", "-o", "{out}", "--macs-target", "1e9", "--macs-weight", "nan"], "--macs-weight"),
    (["search", "-o", "{out}", "--macs-target", "inf"], "--macs-target"),
    (["search", "calibrate", "-o", "{out}", "--reference-lr", "inf"], "--reference-lr"),
    (["bench", "fpn", "--score-threshold", "nan"], "--score-threshold"),
    (["export", "fpn", "-o", "{out}/m.onnx", "--stack", "1", "--backbone", "resnet10",
      "--channels", "16", "--exit-at", "2"], "--exit-at 2: fpn has 1 pyramid copy"),  # as eval
    # settings that would do nothing (probe 3, U8) and a cross-field rule (U18), issue 29
    (["search", "-o", "{out}", "--proxy-extrapolate"], "--proxy-extrapolate"),
    (["search", "-o", "{out}", "--proxy-stop-epoch", "1", "--proxy-extrapolate"],
     "--proxy-stop-epoch 2 or later"),
    (["search", "-o", "{out}", "--proxy-stop-epoch", "9", "--proxy-epochs", "2"],
     "--proxy-stop-epoch 9 stops nothing"),
    (["search", "calibrate", "-o", "{out}", "--proxy-stop-epoch", "4"], "--proxy-epochs 4"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--schedule", "step", "--milestones", "8,11",
      "--epochs", "1"], "--milestones 8,11"),
    (["train", "fpn", "--data", "d", "-o", "{out}", "--recipe", "finetune", "--epochs", "1"],
     "--milestones 8,11 (from --recipe finetune)"),
    (["train", "fpn", "--print-config", "--set", "model.negative_iou=0.9"],
     "--set model.negative_iou=0.9 and --set model.positive_iou=0.5"),
    (["train", "fpn", "--print-config", "--set", "model.positive_iou=0.3"],
     "--set model.negative_iou=0.4 and --set model.positive_iou=0.3"),
    (["search", "--proxy-amp", "on", "--proxy-no-amp", "--print-config"],
     "--proxy-amp and --proxy-no-amp exclude each other"),
]


@pytest.mark.parametrize("args, option", BAD_OPTIONS, ids=[" ".join(a[:1] + [o]) + f"-{i}"
                                                           for i, (a, o) in enumerate(BAD_OPTIONS)])
def test_bad_values_are_usage_errors_naming_the_option(run, tmp_path, args, option):
    out = tmp_path / "out"
    code, _, err = run(*(a.replace("{out}", str(out)) for a in args))
    assert code == 2, err
    assert option in err, err
    assert "Traceback" not in err and "internal error" not in err
    assert not out.exists()  # nothing was created before the refusal


@pytest.mark.parametrize("command", [["train", "fpn", "--data", "d"], ["predict", CK, "x.png"],
                                     ["search"]])
@pytest.mark.parametrize("target", ["file", "/proc/nasfpn-test", "/sys/kernel/nasfpn-test", ""])
def test_output_dirs_that_cannot_be_folders_are_refused_first(run, tmp_path, command, target):
    """An existing file, a virtual file system, an empty path: exit 1 naming the option and the
    path, while the command line is parsed (before any data is read)."""
    if target == "file":
        target = str(tmp_path / "taken")
        Path(target).write_text("keep me")
    code, _, err = run(*command, "-o", target)
    assert code == 1 and "-o/--output-dir" in err and target in err, err
    assert "internal error" not in err
    if target.endswith("taken"):
        assert "exists and is not a folder" in err and Path(target).read_text() == "keep me"


def test_a_read_only_folder_is_refused(tmp_path, monkeypatch):
    """EROFS as a read-only mount gives it (root ignores permission bits, so it is simulated)."""
    import builtins
    import errno
    import os

    from nasfpn_cli.commands.params import writable_folder_problem

    real_open = builtins.open

    def read_only(path, *args, **kwargs):
        if ".nasfpn-write-test-" in str(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", read_only)
    assert writable_folder_problem(tmp_path) == ("cannot write files there (Read-only file "
                                                 "system)")


def test_the_output_check_leaves_no_folder_behind(tmp_path):
    from nasfpn_cli.commands.params import writable_folder_problem

    assert writable_folder_problem(tmp_path / "a" / "b") is None
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                      st.sampled_from(["inf", "-inf", "nan", "NaN", "Infinity", "1e309", "-0",
                                       "1e-320", "0x10", "1_0", " 1", "", "1,5"]),
                      st.text(max_size=8)),
       bounds=st.sampled_from([(None, None), (0.0, 1.0), (0.0, None)]))
def test_finite_float_accepts_exactly_finite_numbers_in_range(text, bounds):
    """Any option value either parses to a finite number within the bounds or is a usage error
    (click.BadParameter): never another exception, never inf or nan."""
    low, high = bounds
    kind = finite(low, high)
    try:
        value = kind.convert(text, None, None)
    except click.BadParameter:
        return
    assert math.isfinite(value)
    assert (low is None or value >= low) and (high is None or value <= high)


def _commands() -> dict[str, click.Command]:
    """Every command path ("train", "data check", "search report"...) -> its click command."""
    found: dict[str, click.Command] = {}
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        found[name] = command
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                found[f"{name} {sub.name}"] = sub
    return found


def _options(command: click.Command) -> set[str]:
    names = {opt for param in command.params for opt in getattr(param, "opts", [])
             + getattr(param, "secondary_opts", [])}
    return names | {"--help"}


# where a hint is written -> the commands whose users can see it
# (files, relative to nasfpn_cli/) -> the commands whose users see their hints; the train
# engine's hints reach search users only as recorded trial errors, without the hint
HINT_SOURCES = {
    "commands/*.py": None,  # a command's own module: that command
    "engine/config.py": ["train"],
    "engine/training.py": ["train"],
    "engine/run.py": ["train"],
    "engine/trainer.py": ["train"],
    "engine/hooks.py": ["train"],
    "search/calibration.py": ["search calibrate"],  # before the glob: the first match counts
    "search/tuning.py": ["search calibrate"],
    "search/*.py": ["search"],
    "search/*/*.py": ["search"],
    "export.py": ["export"],
    "modeling/exporting.py": ["export"],
    "modeling/restore.py": ["eval", "predict", "export"],
    "engine/prediction.py": ["predict"],
    "engine/evaluation.py": ["eval", "train"],
}
MODULE_COMMAND = {"eval_cmd": "eval", "list_cmd": "list"}


def _hint_texts(path: Path) -> list[tuple[int, str]]:
    """The text of every ``hint=...`` argument in a module (f-string holes as '{}')."""
    texts = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.keyword) and node.arg == "hint":
            parts = [n.value for n in ast.walk(node.value)
                     if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            texts.append((node.value.lineno, " ".join(parts)))
    return texts


def test_every_hint_names_options_its_command_really_has():
    commands = _commands()
    checked = 0
    sources: list[tuple[Path, list[str]]] = []
    seen: set[Path] = set()
    for pattern, users in HINT_SOURCES.items():
        for module in sorted((ROOT / "nasfpn_cli").glob(pattern)):
            if module in seen:
                continue
            seen.add(module)
            if users is None:
                name = MODULE_COMMAND.get(module.stem, module.stem)
                sources.append((module, [c for c in commands if c.split()[0] == name]))
            else:
                sources.append((module, users))
    wrong = []
    for path, users in sources:
        for line, text in _hint_texts(path):
            for option in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text):
                checked += 1
                if users and not any(option in _options(commands[user]) for user in users):
                    wrong.append(f"{path.relative_to(ROOT)}:{line}: {option} (commands "
                                 f"{', '.join(users)})")
    assert checked > 10
    assert not wrong, "hints name options their commands lack:\n" + "\n".join(wrong)


TRAIN_CONFIG = ["train", "fpn", "--data", "d", "--config"]
SEARCH_CONFIG = ["search", "--config"]
PROXY_CONFIG = ["search", "--proxy-config"]
CALIBRATE_PROXY_CONFIG = ["search", "calibrate", "--proxy-config"]

# (the command up to its settings file option, the file's suffix and text, what the error says
# after naming the file): values are checked like the options they set, and the error names
# the file (an option nobody typed, such as --proxy-lr, is no help: U5 of the round-4 probe)
BAD_SETTINGS_FILES = [
    (TRAIN_CONFIG, ".toml", 'lr = "abc"', "--lr: must be a number, got 'abc'"),
    (TRAIN_CONFIG, ".toml", "epochs = 2.5", "--epochs: must be a whole number"),
    (TRAIN_CONFIG, ".toml", 'milestones = [1, "x"]', "--milestones: must be a list of whole numbers"),
    (TRAIN_CONFIG, ".toml", "skip_bad = 1", "--skip-bad: must be true or false"),
    (TRAIN_CONFIG, ".toml", "stack = true", "--stack: must be a whole number or unset"),
    (TRAIN_CONFIG, ".toml", "lr = nan", "--lr: must be finite"),
    (TRAIN_CONFIG, ".toml", "momentum = inf", "--momentum: must be finite"),
    (TRAIN_CONFIG, ".toml", "image_size = 100000", "--image-size: must be <= 8192 pixels"),
    (TRAIN_CONFIG, ".toml", "epochs = 1\n[solver]\nepochs = 2",
     "epochs is set twice, at the top level and in [solver]"),
    (TRAIN_CONFIG, ".json", '{"lr": 0.1, "lr": 0.2}', "the key 'lr' is set twice"),
    (PROXY_CONFIG, ".toml", "[proxy]\nlr = nan", "proxy.lr: nan is not a finite number"),
    (PROXY_CONFIG, ".toml", "[proxy]\nlr = inf", "proxy.lr: inf is not a finite number"),
    (PROXY_CONFIG, ".toml", "[proxy]\nimage_size = -5", "proxy.image_size: -5 is not in the range"),
    (PROXY_CONFIG, ".toml", "[proxy]\nimage_size = 100000", "proxy.image_size: 100000 is not in"),
    (PROXY_CONFIG, ".toml", "[proxy]\nbatch_size = 0", "proxy.batch_size: 0 is not in the range"),
    (PROXY_CONFIG, ".toml", "[proxy]\nstack = 65", "proxy.stack: 65 is not in the range"),
    (PROXY_CONFIG, ".toml", "[proxy]\nepochs = 2.5", "proxy.epochs must be a whole number"),
    (CALIBRATE_PROXY_CONFIG, ".toml", "[proxy]\nlr = nan", "proxy.lr: nan is not a finite"),
    (PROXY_CONFIG, ".toml", "[proxy]\nepochs = 2\nstop_epoch = 9",
     "proxy.stop_epoch 9 stops nothing: the training ends after proxy.epochs 2 epochs anyway"),
    (CALIBRATE_PROXY_CONFIG, ".toml", "[proxy]\nstop_epoch = 1\nextrapolate = true",
     "proxy.extrapolate applies only with proxy.stop_epoch 2 or later"),
    (SEARCH_CONFIG, ".toml", "threads = 0", "threads: 0 is not in the range"),
    (SEARCH_CONFIG, ".toml", "trials = nan", "trials must be a whole number, got nan"),
    (SEARCH_CONFIG, ".toml", "reward_module = 5", "reward_module must be text, got 5"),
    (SEARCH_CONFIG, ".toml", "macs_weight = -1e400", "macs_weight: -inf is not a finite number"),
    (SEARCH_CONFIG, ".toml", 'seed = "x"', "seed must be a whole number, got 'x'"),
    (SEARCH_CONFIG, ".toml", "resume = 1", "resume must be true or false, got 1"),
    (SEARCH_CONFIG, ".json", '{"trials": 3, "trials": 5}', "the key 'trials' is set twice"),
]


@pytest.mark.parametrize("command, suffix, text, message", BAD_SETTINGS_FILES,
                         ids=[f"{c[-1]}-{t.splitlines()[-1]}" for c, _, t, _ in BAD_SETTINGS_FILES])
def test_settings_file_values_are_checked_like_options_naming_the_file(run, tmp_path, command,
                                                                       suffix, text, message):
    config = tmp_path / f"c{suffix}"
    config.write_text(text + "\n")
    code, _, err = run(*command, config, "-o", tmp_path / "out")
    assert code == 2, err
    assert f"{command[-1]} {config}: {message}" in err, err
    assert "internal error" not in err and not (tmp_path / "out").exists()


def _numeric_options(command: click.Command) -> list[str]:
    """Options taking a number, or a comma-separated list of numbers (metavar "A,B")."""
    numeric = (click.types.FloatParamType, click.types.IntParamType)
    return sorted(param.opts[-1] for param in command.params if isinstance(param, click.Option)
                  and (isinstance(param.type, numeric) or "," in (param.metavar or "")))


TRAIN = _commands()["train"]
VALUES = st.one_of(st.sampled_from(["inf", "-inf", "nan", "0", "-1", "1e309", "1e-320", "5",
                                    "0.5", "1,2", "3,1", "1,inf", "", "9" * 30, "0x1", "1e2"]),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.integers(-10 ** 20, 10 ** 20).map(str))


@settings(max_examples=200, deadline=None)
@given(option=st.sampled_from(_numeric_options(TRAIN)), value=VALUES)
def test_any_train_option_value_is_accepted_or_a_usage_error(option, value):
    """Through the real command (--print-config stops before any work): a value is either taken
    into a configuration whose numbers are all finite, or refused with exit 2."""
    import io
    import json
    from contextlib import redirect_stderr, redirect_stdout

    from nasfpn_cli.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
        main(["train", "fpn", "--data", "d", "-o", "unused", option, value, "--print-config"])
    code = exit_info.value.code
    assert code in (0, 2), (option, value, code, err.getvalue())
    if code == 0:
        def numbers(node):
            if isinstance(node, dict):
                for item in node.values():
                    yield from numbers(item)
            elif isinstance(node, list):
                for item in node:
                    yield from numbers(item)
            elif isinstance(node, float):
                yield node
        assert all(math.isfinite(v) for v in numbers(json.loads(out.getvalue())))


@pytest.mark.parametrize("env, named", [
    ({"WORLD_SIZE": "abc"}, "WORLD_SIZE='abc'"),
    ({"WORLD_SIZE": "0"}, "WORLD_SIZE='0'"),
    ({"WORLD_SIZE": "2"}, "WORLD_SIZE=2 without RANK, MASTER_ADDR, MASTER_PORT"),
    ({"WORLD_SIZE": "2", "RANK": "5", "MASTER_ADDR": "localhost", "MASTER_PORT": "1"},
     "RANK='5': expected a whole number from 0 to 1"),
])
def test_leftover_distributed_variables_are_usage_errors(run, tmp_path, monkeypatch, env, named):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "out"
    code, _, err = run("train", "fpn", "--data", tmp_path, "-o", out, "--no-progress")
    assert code == 2, err
    assert f"environment variable {named}" in err and "torchrun" in err, err
    assert "Traceback" not in err and "internal error" not in err
    assert not out.exists()
