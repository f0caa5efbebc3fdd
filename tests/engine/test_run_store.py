"""The RunStore: one owner of a run folder's names and layout, writing what its readers read
back; torch-free to import (compare, plot and ``train --config`` go through it)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from nasfpn_cli.engine.run_store import RunStore
from nasfpn_cli.errors import RunFileError

CONFIG = {"genotype_text": "genotype g\n", "model": {"backbone": "resnet10"},
          "train": {"solver": {"lr": 0.1}}, "data": {"label_to_category": [1]}}


def test_the_store_reads_back_what_it_writes(tmp_path):
    store = RunStore(tmp_path / "run")
    assert not store.is_run() and store.metrics() == []
    store.write_config(CONFIG)
    assert store.is_run() and store.config() == CONFIG
    log = store.metrics_log()
    log.write({"kind": "train", "epoch": 1, "step": 2, "loss": 1.5})
    log.write({"kind": "eval", "epoch": 1, "step": 2, "AP": 0.25, "per_class": {"a": None}})
    log.truncate_after(1)
    assert store.metrics() == []
    log.write({"kind": "train", "epoch": 1, "step": 2, "loss": 1.5})
    log.close()
    assert store.metrics() == [{"kind": "train", "epoch": 1, "step": 2, "loss": 1.5}]
    assert [p.name for p in store.files] == ["config.json", "metrics.jsonl", "last.pt", "best.pt"]
    assert (store.last.name, store.best.name) == ("last.pt", "best.pt")


def test_a_damaged_log_blocks_the_resume_with_its_line_named(tmp_path):
    store = RunStore(tmp_path)
    store.metrics_path.write_text('{"kind": "train", "epoch": 1, "step": true}\n')
    with pytest.raises(RunFileError, match=r"metrics.jsonl:1: field 'step'"):
        store.metrics_log().truncate_after(4)
    store.metrics_log().clear()  # a fresh run does not read what was there
    assert store.metrics() == []


def test_importing_the_store_imports_no_torch():
    code = "import sys, nasfpn_cli.engine.run_store; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
