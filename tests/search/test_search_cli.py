"""``nasfpn search`` options and errors, and ``nasfpn search report``."""
from __future__ import annotations

import json

from nasfpn_cli.search.rewards import RewardSpec
from nasfpn_cli.search.runner import SearchConfig, run_search

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_report_prints_the_top_architectures_and_writes_plots(cli, tmp_path):
    summary = run_search(SearchConfig(tmp_path, RewardSpec.parse("similarity:nasfpn"), "evolution",
                                      trials=120), progress=False)
    plots = tmp_path / "plots"
    result = cli("search", "report", str(tmp_path), "--top", "3", "--plots-dir", str(plots))
    assert result.returncode == 0, result.stderr
    assert f"top 3 of {summary.unique} distinct architectures (120 trials)" in result.stdout
    assert summary.best.hash in result.stdout
    for name in ("reward.png", "unique.png"):
        assert (plots / name).read_bytes().startswith(PNG_MAGIC)


def test_report_of_a_folder_without_trials(cli, tmp_path):
    result = cli("search", "report", str(tmp_path))
    assert result.returncode == 1
    assert "no finished trials" in result.stderr


def test_bad_rewards_are_named(cli, tmp_path):
    cases = {
        ("--reward", "bogus"): "unknown reward 'bogus'; known: proxy, similarity",
        ("--reward", "similarity"): "needs a target: --reward similarity:GENOTYPE",
        ("--space", "paper", "--reward", "similarity:fpn"): "the genotype says residual none",
        ("--reward", "similarity:nope"): "nope: no such file or bundled genotype",
        ("--reward", "proxy:x"): "--reward proxy takes no argument",
        ("--reward", "x", "--reward-module", "no_such_module"): "--reward-module no_such_module",
    }
    for args, message in cases.items():
        result = cli("search", *args, "--trials", "2", "-o", str(tmp_path / "out"))
        assert result.returncode == 1, args
        assert message in result.stderr and "Traceback" not in result.stderr, args
    assert not (tmp_path / "out").exists()  # nothing written for a search that cannot start
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('half-written plug-in')\n")
    broken = cli("search", "--reward", "x", "--reward-module", "broken_plugin", "--trials", "2",
                 "-o", str(tmp_path / "out"), env={"PYTHONPATH": str(tmp_path)})
    assert broken.returncode == 1, broken.stderr  # was exit 3, "internal error"
    assert "--reward-module broken_plugin: importing it raised RuntimeError: half-written " \
           "plug-in (at " in broken.stderr and "Traceback" not in broken.stderr


def test_usage_errors(cli, tmp_path):
    result = cli("search", "--controller", "ppo", "--population-size", "5", "-o", str(tmp_path))
    assert result.returncode == 2 and "--population-size: not an option of --controller ppo" \
        in result.stderr
    result = cli("search", "--resume", "-o", str(tmp_path / "none"))
    assert result.returncode == 2 and "no search to resume" in result.stderr
    result = cli("search", "--trials", "0")
    assert result.returncode == 2


def test_resume_keeps_the_stored_settings(cli, tmp_path):
    first = cli("search", "--controller", "random", "--reward", "similarity:nasfpn", "--trials",
                "5", "-o", str(tmp_path))
    assert first.returncode == 0, first.stderr
    again = cli("search", "--resume", "--trials", "8", "-o", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert "8 trials" in again.stdout
    other = cli("search", "--resume", "--controller", "ppo", "-o", str(tmp_path))
    assert other.returncode == 2 and "--controller differ" in other.stderr


def test_search_reads_options_from_a_config_file_and_flags_win(tmp_path):
    import json

    from tests.cli_runner import run_cli

    config = tmp_path / "search.toml"
    config.write_text('controller = "random"\ntrials = 7\nproxy_epochs = 2\n')
    result = run_cli("search", "--config", str(config), "--trials", "9", "--print-config")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert (printed["controller"], printed["trials"], printed["proxy_epochs"]) == ("random", 9, 2)
    again = tmp_path / "printed.json"
    again.write_text(result.stdout)
    assert json.loads(run_cli("search", "--config", str(again), "--print-config").stdout) == printed
    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 1\n")
    result = run_cli("search", "--config", str(bad))
    assert result.returncode == 2 and "unknown key(s) colour" in result.stderr


def test_supernet_options_are_generated_and_belong_to_their_reward(cli, tmp_path):
    printed = cli("search", "--reward", "supernet", "--supernet-steps", "3",
                  "--supernet-recalibrate", "0", "--print-config")
    assert printed.returncode == 0, printed.stderr
    options = json.loads(printed.stdout)
    assert (options["supernet_steps"], options["supernet_recalibrate"]) == (3, 0)
    wrong = cli("search", "--reward", "similarity:fpn", "--supernet-steps", "3", "-o",
                str(tmp_path / "s"), "--trials", "1")
    assert wrong.returncode == 2 and "--supernet-steps" in wrong.stderr
    bad = cli("search", "--reward", "supernet", "--supernet-norm-scope", "stack", "--print-config")
    assert bad.returncode == 2 and "--supernet-norm-scope" in bad.stderr


def test_a_refused_resume_names_what_differs_and_which_value_wins(cli, tmp_path):
    out = tmp_path / "s"
    first = cli("search", "--reward", "similarity:nasfpn", "--controller", "random", "--trials",
                "3", "--final-top-k", "0", "-o", str(out))
    assert first.returncode == 0, first.stderr
    resumed = cli("search", "--resume", "--reward", "similarity:nasfpn", "--controller",
                  "evolution", "--seed", "4", "-o", str(out))
    assert resumed.returncode == 2
    assert "stored settings, which win; --controller, --seed differ from them" in resumed.stderr
    assert "controller 'evolution' (stored: 'random')" in resumed.stderr
    assert "seed 4 (stored: 0)" in resumed.stderr
    assert "--reward" not in resumed.stderr  # given, but not a difference


def test_a_config_file_flag_that_is_not_true_or_false_is_named(cli, tmp_path):
    config = tmp_path / "s.toml"
    config.write_text("resume = 1\n")  # C7 of the round-4 probe: was an internal error
    result = cli("search", "--config", str(config), "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert f"--config {config}: resume must be true or false, got 1" in result.stderr
