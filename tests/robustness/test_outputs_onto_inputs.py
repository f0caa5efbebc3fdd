"""Outputs onto inputs: a command that writes ``-o`` refuses a path it reads from (a run's
checkpoint, config and metrics, a search's files, a genotype file, a checkpoint), and changes
nothing."""
from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A copy of the tiny run (the tests would otherwise risk the shared one)."""
    return shutil.copytree(tiny_run, tmp_path / "run")


def _refused(run, path, *args):
    before = path.read_bytes()
    code, _, err = run(*args)
    assert code == 1, err
    assert f"refusing to write {path}: it is also an input of this command" in err, err
    assert "Traceback" not in err
    assert path.read_bytes() == before


@pytest.mark.parametrize("name", ["last.pt", "best.pt", "config.json", "metrics.jsonl"])
def test_compare_refuses_to_write_over_a_run_it_reads(run, run_copy, name):
    _refused(run, run_copy / name, "compare", run_copy, "-o", run_copy / name,
             "--latency-runs", "0")


def test_compare_refuses_a_genotype_file_a_checkpoint_and_search_files(run, run_copy, tmp_path):
    from nasfpn_cli.genotype.library import bundled_dir

    genotype = tmp_path / "mine.txt"
    shutil.copy(bundled_dir() / "fpn.txt", genotype)
    _refused(run, genotype, "compare", "nasfpn", genotype, "-o", genotype, "--latency-runs", "0")
    _refused(run, run_copy / "last.pt", "compare", run_copy / "last.pt", "-o",
             run_copy / "last.pt", "--latency-runs", "0")
    search = tmp_path / "search"
    assert run("search", "--reward", "similarity:nasfpn", "--controller", "random", "--trials",
               "2", "-o", search)[0] == 0
    for name in ("trials.jsonl", "search.json", "best.txt"):
        _refused(run, search / name, "compare", search, "--top", "1", "-o", search / name,
                 "--latency-runs", "0")


def test_export_refuses_to_write_over_its_checkpoint(run, run_copy):
    last = run_copy / "last.pt"
    _refused(run, last, "export", "fpn", "--checkpoint", last, "-o", last, "--no-verify")


def _toy_calibration(run, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "search"))
    from test_tuning import write_toy_calibration

    write_toy_calibration(tmp_path / "calibration")
    return tmp_path / "calibration"


def _search(run, tmp_path):
    assert run("search", "--reward", "similarity:nasfpn", "--controller", "random", "--trials",
               "2", "--final-top-k", "0", "-o", tmp_path / "search")[0] == 0
    return tmp_path / "search"


# the kinds of output folder (how to make one) and the commands that write another kind: each
# refuses a folder of another kind, changing nothing (D14 of the round-4 probe: all exit 0,
# and compare of such a folder showed both)
FOLDERS = {"run": lambda run, tmp_path, tiny_run: shutil.copytree(tiny_run, tmp_path / "run"),
           "search": lambda run, tmp_path, tiny_run: _search(run, tmp_path),
           "calibration": lambda run, tmp_path, tiny_run: _toy_calibration(run, tmp_path)}
WRITERS = {"run": ["train", "fpn", "--data", "{data}", "--epochs", "1", "--no-progress"],
           "search": ["search", "--reward", "similarity:fpn", "--trials", "1"],
           "calibration": ["search", "calibrate", "--sampled", "0", "--poor", "0",
                           "--architectures", "fpn"]}
WHAT = {"run": "a training run", "search": "a search", "calibration": "a calibration"}


@pytest.mark.parametrize("holds, writer", [(holds, writer) for holds in FOLDERS
                                           for writer in WRITERS if writer != holds])
def test_a_command_refuses_a_folder_of_another_kind(run, tmp_path, tiny_run, tiny_data, holds,
                                                     writer):
    folder = FOLDERS[holds](run, tmp_path, tiny_run)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    args = [a.replace("{data}", str(tiny_data)) for a in WRITERS[writer]]
    code, _, err = run(*args, "-o", folder)
    assert code == 1, err
    assert f"{folder}: holds {WHAT[holds]} (" in err and f"not {WHAT[writer]}" in err, err
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


# `search report` outputs with something in the way: (the option, the path made a folder) ->
# exit 1 naming it, before the table, plots or genotypes are written (U7: --html printed
# compare's usage text, exit 2, after the plots were written)
REPORT_OUTPUTS_IN_THE_WAY = [(["--html"], "compare.html")]


@pytest.mark.parametrize("options, blocked", REPORT_OUTPUTS_IN_THE_WAY)
def test_search_report_refuses_an_output_in_the_way_first(run, tmp_path, options, blocked):
    folder = _search(run, tmp_path)
    (folder / blocked).mkdir()
    before = sorted(p.name for p in folder.iterdir())
    code, out, err = run("search", "report", folder, *options)
    assert code == 1 and f"{folder / blocked}: not a file" in err, err
    assert "Usage:" not in err and sorted(p.name for p in folder.iterdir()) == before
