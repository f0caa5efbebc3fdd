"""``train --config FILE`` and ``--print-config``: every option has a key, flags win, any run
replays from its config.json."""
from __future__ import annotations

import json

from nasfpn_cli.engine.config import TrainConfig


def _printed(cli, *args):
    result = cli("train", *args, "--print-config")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_toml_file_sets_options_and_flags_win(cli, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('genotype = "fpn"\noutput_dir = "runs/x"\n\n[solver]\nlr = 0.03\n'
                      'epochs = 5\nmilestones = [3, 4]\n\n[model]\nbackbone = "resnet10"\n'
                      'stack = 2\n')
    printed = _printed(cli, "--config", str(config), "--epochs", "7")
    assert printed["solver"]["lr"] == 0.03 and printed["solver"]["epochs"] == 7
    assert printed["solver"]["milestones"] == [3, 4]
    assert printed["model"]["backbone"] == "resnet10" and printed["model"]["stack"] == 2
    assert printed["runtime"]["output_dir"] == "runs/x"
    # the printed configuration is itself a valid --config
    again = tmp_path / "printed.json"
    again.write_text(json.dumps(printed))
    assert _printed(cli, "--config", str(again)) == printed


def test_a_run_folders_config_json_replays_the_run(cli, tmp_path):
    stored = TrainConfig.from_recipe("paper", genotype="fpn", output_dir="runs/old", lr=0.05)
    run_config = tmp_path / "config.json"
    run_config.write_text(json.dumps({"genotype_text": "...", "model": {}, "data": {},
                                      "train": stored.to_dict()}))
    printed = _printed(cli, "--config", str(run_config), "-o", "runs/new")
    assert printed["solver"]["lr"] == 0.05 and printed["solver"]["batch_size"] == 64
    assert printed["runtime"]["output_dir"] == "runs/new"
    assert printed["runtime"]["recipe"] == "paper"


def test_bad_config_files_name_the_file_and_key(cli, tmp_path):
    unknown = tmp_path / "bad.toml"
    unknown.write_text("[solver]\nlearning_rate = 0.1\n")
    result = cli("train", "fpn", "-o", str(tmp_path / "o"), "--config", str(unknown))
    assert result.returncode == 2
    assert f"--config {unknown}: unknown key(s) learning_rate" in result.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("lr = = 1\n")
    result = cli("train", "fpn", "-o", str(tmp_path / "o"), "--config", str(broken))
    assert result.returncode == 2 and f"--config {broken}:" in result.stderr
    yaml = tmp_path / "run.yaml"
    yaml.write_text("lr: 1\n")
    result = cli("train", "fpn", "--config", str(yaml))
    assert result.returncode == 2 and "expected a .toml or .json file" in result.stderr
    assert "Traceback" not in result.stderr
    result = cli("train", "fpn")
    assert result.returncode == 2 and "missing option -o / --output-dir" in result.stderr
