"""Faults of the machine, not bugs: a full disk (ENOSPC) in train, search and printing, paths
that cannot be written, and running out of memory are clear errors (exit 1) naming the file,
never "internal error" (exit 3)."""
from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from robust_helpers import TINY_TRAIN

FULL = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["list"], ["show", "nasfpn"], ["convert", "nasfpn", "--to",
                                                                 "json"], ["fmt", "fpn"]])
def test_printing_to_a_full_disk_is_a_clear_error(args):
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "nasfpn_cli", *args], stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "No space left on device" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert "Exception ignored" not in result.stderr


def _train_args(tiny_data, out, *more: str):
    options = list(more)
    for key, value in TINY_TRAIN.items():
        if key != "genotype":
            options += [f"--{key.replace('_', '-')}", str(value)]
    return ["train", TINY_TRAIN["genotype"], "--data", str(tiny_data), "-o", str(out),
            "--epochs", "1", "--no-progress", *options]


def test_train_on_a_full_disk_names_the_file(run, tiny_data, tmp_path, monkeypatch, one_thread):
    """The disk fills up during the run: the first file written after that (fsync is where a
    full disk shows) is named."""
    monkeypatch.setattr(os, "fsync", _disk_full)
    out = tmp_path / "run"
    code, _, err = run(*_train_args(tiny_data, out))
    assert code == 1, err
    assert str(out) in err and "No space left on device" in err
    assert "internal error" not in err


def test_a_full_disk_under_tensorboard_is_one_clear_error(run, tiny_data, tmp_path,
                                                         monkeypatch, one_thread):
    """TensorBoard writes its events in a thread of its own: a full disk there is named by the
    training (exit 1), and no thread traceback is printed."""
    pytest.importorskip("tensorboard")
    from tensorboard.summary.writer.record_writer import RecordWriter

    monkeypatch.setattr(RecordWriter, "write", _disk_full)
    out = tmp_path / "run"
    code, _, err = run(*_train_args(tiny_data, out, "--tensorboard"))
    assert code == 1, err
    assert f"cannot write {out}" in err, err  # the event file, or its folder when closing
    assert "No space left on device" in err
    assert "Traceback" not in err and "Exception in thread" not in err, err


def test_a_full_disk_while_logging_metrics_names_the_log(tmp_path, monkeypatch):
    from nasfpn_cli.engine.metrics_log import MetricsLog
    from nasfpn_cli.errors import NasfpnError

    log = MetricsLog(tmp_path / "metrics.jsonl")
    monkeypatch.setattr(os, "fsync", _disk_full)
    with pytest.raises(NasfpnError, match="metrics.jsonl: No space left"):
        log.write({"step": 1})
    log.close()


def test_search_on_a_full_disk_names_the_file(run, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", _disk_full)
    out = tmp_path / "search"
    code, _, err = run("search", "--reward", "similarity:nasfpn", "--controller", "random",
                       "--trials", "3", "-o", out)
    assert code == 1, err
    assert str(out / "search.json") in err and "No space left on device" in err
    assert "the disk is full" in err


def test_any_unwritable_path_is_an_error_not_a_crash(run, monkeypatch):
    """An OSError that escapes a command (here: EROFS while validating) is exit 1 with its path."""
    import nasfpn_cli.genotype.library as library

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), "/mnt/ro/out.txt")

    monkeypatch.setattr(library, "resolve_path", read_only)
    code, _, err = run("show", "fpn")
    assert code == 1 and "/mnt/ro/out.txt: Read-only file system" in err, err


def test_out_of_memory_is_an_error_not_a_crash(run, monkeypatch):
    import nasfpn_cli.genotype.library as library

    def huge(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(library, "resolve_path", huge)
    code, _, err = run("show", "fpn")
    assert code == 1 and "out of memory" in err and "internal error" not in err, err


def test_library_warnings_are_one_line_without_source_paths(run, monkeypatch):
    import warnings

    import nasfpn_cli.genotype.library as library

    original = library.resolve_path

    def noisy(*args, **kwargs):
        warnings.warn("something \x1b[2J odd", UserWarning)
        return original(*args, **kwargs)

    monkeypatch.setattr(library, "resolve_path", noisy)
    code, _, err = run("show", "fpn")
    assert code == 0
    assert "warning: something \\x1b[2J odd" in err
    assert ".py:" not in err and "warnings.warn" not in err


def test_torch_allocation_failures_are_out_of_memory_errors(run, monkeypatch):
    """torch raises RuntimeError, not MemoryError, when an allocation fails."""
    import nasfpn_cli.genotype.library as library

    def allocation_fails(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: "
                           "can't allocate memory: you tried to allocate 49152000000 bytes.")

    monkeypatch.setattr(library, "resolve_path", allocation_fails)
    code, _, err = run("show", "fpn")
    assert code == 1 and "out of memory" in err and "internal error" not in err, err


def test_memory_headroom_turns_a_huge_allocation_into_an_error():
    """Under the cap an allocation past the available memory fails at once (no kernel kill),
    and the cap is lifted after the block."""
    import resource

    import torch

    from nasfpn_cli.memory_guard import memory_headroom

    before = resource.getrlimit(resource.RLIMIT_AS)
    with memory_headroom(available=256 * 2 ** 20) as cap:
        assert cap is not None
        with pytest.raises(RuntimeError, match="can't allocate memory"):
            torch.empty(2 ** 31, dtype=torch.uint8)
        small = torch.zeros(2 ** 20)  # what fits still works
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    del small


def test_bench_with_a_batch_too_large_is_out_of_memory_not_killed(run, monkeypatch):
    import nasfpn_cli.memory_guard as memory_guard

    monkeypatch.setattr(memory_guard, "available_bytes", lambda: 256 * 2 ** 20)
    code, _, err = run("bench", "fpn", "--backbone", "resnet10", "--batch-size", "64",
                       "--image-size", "640", "--runs", "1", "--warmup", "0")
    assert code == 1 and "out of memory" in err and "internal error" not in err, err
