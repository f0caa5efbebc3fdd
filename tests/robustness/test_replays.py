"""Replays and resumes that silently changed what runs (issue 20): ``train --config
RUN/config.json`` trains the genotype text the run stored, warning when the file it names has
changed since; ``--resume`` given another genotype or seed says, in one warning naming the
option and both values, that the stored one wins."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli_runner import train_single_threaded
from robust_helpers import TINY_TRAIN

from nasfpn_cli.genotype import format_genotype, load_genotype


@pytest.fixture(scope="module")
def genotype_run(tiny_data, tmp_path_factory) -> tuple[Path, Path]:
    """A one-epoch run (seed 5) of a genotype file holding FPN; (genotype file, run folder)."""
    root = tmp_path_factory.mktemp("replay")
    genotype_file = root / "mine.txt"
    genotype_file.write_text(format_genotype(load_genotype("fpn")))
    out = root / "run"
    train_single_threaded(**{**TINY_TRAIN, "genotype": str(genotype_file)},
                          data_dir=str(tiny_data), output_dir=str(out), epochs=1, seed=5)
    return genotype_file, out


def _warnings(err: str) -> list[str]:
    """The warnings, but train's advice on the tiny run's short warmup."""
    return [line for line in err.splitlines()
            if line.startswith("warning:") and "the warmup of" not in line]


def _stored_text(run: Path) -> str:
    return json.loads((run / "config.json").read_text())["genotype_text"]


def test_a_replay_trains_the_stored_genotype_when_its_file_changed(run, genotype_run, tmp_path,
                                                                   one_thread):
    genotype_file, original = genotype_run
    copy = tmp_path / "original"
    shutil.copytree(original, copy)
    config = copy / "config.json"
    code, _, err = run("train", "--config", config, "-o", tmp_path / "same", "--no-progress")
    assert code == 0, err
    assert _warnings(err) == []  # the file still holds what the run trained
    assert _stored_text(tmp_path / "same") == _stored_text(original)

    edited = tmp_path / "edited.txt"  # the run's file, edited into PANet after the run
    shutil.copy(genotype_file, edited)
    text = json.loads(config.read_text())
    text["train"]["model"]["genotype"] = str(edited)
    config.write_text(json.dumps(text))
    edited.write_text(format_genotype(load_genotype("panet")))
    code, _, err = run("train", "--config", config, "-o", tmp_path / "replay", "--no-progress")
    assert code == 0, err
    warnings = _warnings(" ".join(err.split()).replace(" warning:", "\nwarning:"))
    assert len(warnings) == 1 and f"its genotype {edited} has changed since the run" in \
        warnings[0], err
    assert _stored_text(tmp_path / "replay") == _stored_text(original)  # FPN, not PANet

    edited.unlink()
    code, _, err = run("train", "--config", config, "-o", tmp_path / "gone", "--no-progress")
    assert code == 0 and "no longer loads" in err, err
    assert _stored_text(tmp_path / "gone") == _stored_text(original)


def test_a_genotype_given_on_the_command_line_wins_over_the_replay(run, genotype_run,
                                                                   tmp_path, one_thread):
    _, original = genotype_run
    code, _, err = run("train", "panet", "--config", original / "config.json", "-o",
                       tmp_path / "panet", "--no-progress")
    assert code == 0, err
    assert _stored_text(tmp_path / "panet") == format_genotype(load_genotype("panet"))


@pytest.mark.parametrize("args, named", [
    (("--seed", "7"), "--seed 7 (the run's: 5)"),
    (("--seed", "0"), "--seed 0 (the run's: 5)"),  # the default, given on purpose
    (("--lr", "0.5"), "--lr 0.5 (the run's: 0.01)"),
])
def test_a_resume_names_each_setting_the_stored_run_overrides(run, genotype_run, tmp_path,
                                                               one_thread, args, named):
    genotype_file, original = genotype_run
    folder = shutil.copytree(original, tmp_path / "run")
    code, _, err = run("train", genotype_file, "-o", folder, "--resume", *args, "--no-progress")
    assert code == 0, err
    warnings = _warnings(err)
    assert len(warnings) == 1 and named in " ".join(err.split()), err
    assert "GENOTYPE" not in err


def test_a_resume_given_another_genotype_says_the_stored_one_wins(run, genotype_run, tmp_path,
                                                                  one_thread):
    genotype_file, original = genotype_run
    folder = shutil.copytree(original, tmp_path / "run")
    code, _, err = run("train", "panet", "-o", folder, "--resume", "--no-progress")
    assert code == 0, err
    shown = " ".join(err.split())
    assert len(_warnings(err)) == 1
    assert f"ignoring GENOTYPE panet (the run's: {genotype_file})" in shown, err
    code, _, err = run("train", "-o", folder, "--resume", "--no-progress")
    assert code == 0 and _warnings(err) == [], err  # nothing asked for, nothing to say
