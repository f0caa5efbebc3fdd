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
