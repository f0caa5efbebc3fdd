"""The torch-free utilities: what the one atomic writer guarantees, JSON lines, lazy exports."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from nasfpn_cli.errors import NasfpnError
from nasfpn_cli.utils import (TEMP_MARK, JsonlWriter, atomic_path, atomic_write,
                              atomic_write_json, eval_mode, lazy_exports, read_jsonl)


def test_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "last.pt"
    atomic_write(target, b"old")
    atomic_write(target, "new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["last.pt"]


def test_failed_write_keeps_the_old_file_and_names_the_path(tmp_path, monkeypatch):
    target = tmp_path / "last.pt"
    atomic_write(target, b"good")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(NasfpnError, match="cannot write .*last.pt: No space left") as caught:
        atomic_write(target, b"half")
    assert "disk is full" in caught.value.hint
    assert target.read_bytes() == b"good"
    assert os.listdir(tmp_path) == ["last.pt"]


def test_keeps_mode_of_an_existing_file(tmp_path):
    target = tmp_path / "g.txt"
    target.write_text("x")
    os.chmod(target, 0o640)
    atomic_write(target, "y")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_symlink_stays_a_link_and_its_target_is_replaced(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write(link, "new")
    assert link.is_symlink()
    assert real.read_text() == "new"


def test_devices_and_fifos_are_written_through_not_replaced(tmp_path):
    atomic_write("/dev/null", b"discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    atomic_write(fifo, b"through the pipe")
    assert reader.communicate(timeout=10)[0] == b"through the pipe"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_dash_writes_standard_output(capfdbinary):
    atomic_write("-", b"to stdout\n")
    assert capfdbinary.readouterr().out == b"to stdout\n"


def test_refuses_to_overwrite_its_own_input_and_folders(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("keep me")
    with pytest.raises(NasfpnError, match="also an input"):
        atomic_write(source, "clobbered", inputs=[source])
    assert source.read_text() == "keep me"
    with pytest.raises(NasfpnError, match="is a folder"):
        atomic_write(tmp_path, "x")
    with pytest.raises(NasfpnError, match="empty path"):
        atomic_write("", "x")


def test_read_only_folder_is_a_clear_error(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o500)
    with pytest.raises(NasfpnError, match="cannot write"):
        atomic_write(folder / "x.txt", "x")


def test_temporaries_of_killed_writers_never_accumulate(tmp_path):
    target = tmp_path / "best.txt"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".best.txt{TEMP_MARK}{dead}"
    stale.write_text("left by a kill -9")
    atomic_write(target, "fresh")
    assert sorted(os.listdir(tmp_path)) == ["best.txt"]


def test_atomic_path_moves_the_finished_file_in(tmp_path):
    target = tmp_path / "model.onnx"
    with atomic_path(target) as temporary:
        temporary.write_bytes(b"graph")
        assert not target.exists()
    assert target.read_bytes() == b"graph"
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_bytes(b"torn")
        raise RuntimeError("export failed")
    assert target.read_bytes() == b"graph"
    assert os.listdir(tmp_path) == ["model.onnx"]


def test_json_helpers_round_trip_and_skip_a_torn_line(tmp_path):
    atomic_write_json(tmp_path / "c.json", {"a": [1, 2]})
    assert (tmp_path / "c.json").read_text() == '{\n  "a": [\n    1,\n    2\n  ]\n}\n'
    log = tmp_path / "m.jsonl"
    with JsonlWriter(log) as writer:
        writer.write({"step": 1})
        writer.write({"step": 2})
    with open(log, "a") as handle:
        handle.write('{"step": 3')  # a kill in the middle of a write
    assert read_jsonl(log) == [{"step": 1}, {"step": 2}]
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_lazy_exports_and_eval_mode():
    getter = lazy_exports("nasfpn_cli.genotype", {"parse_genotype": "parser_api"})
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        getter("nothing")

    class Module:
        training = True

        def eval(self):
            self.training = False

        def train(self, mode=True):
            self.training = mode

    module = Module()
    with pytest.raises(ValueError), eval_mode(module):
        assert not module.training
        raise ValueError
    assert module.training


def test_progress_task_starts_moves_and_stops_its_bar():
    from nasfpn_cli.utils import ProgressTask

    with ProgressTask("search", 10, completed=2) as bar:
        assert bar.progress.live.is_started
        bar.update(advance=3, status="best 0.1")
        task = bar.progress.tasks[0]
        assert (task.description, task.completed, task.total) == ("search", 5, 10)
        assert task.fields["status"] == "best 0.1"
    assert not bar.progress.live.is_started
