"""Two writers, one folder: ``train``, ``search`` and ``search calibrate`` hold an exclusive lock
on their output folder for the whole command; a second one is refused, a killed holder never
blocks."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from robust_helpers import TINY_TRAIN

ROOT = Path(__file__).resolve().parents[2]
SEARCH = ["search", "--reward", "similarity:nasfpn", "--controller", "random", "--trials", "3"]
HOLD = ("import sys\nfrom nasfpn_cli.run_lock import folder_lock\n"
        "with folder_lock(sys.argv[1]):\n    print('held', flush=True)\n    sys.stdin.read()\n")


@pytest.fixture
def holder():
    """``holder(folder)``: another process that holds ``folder``'s lock until the test ends."""
    processes: list[subprocess.Popen] = []

    def start(folder: Path) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], cwd=ROOT,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
        processes.append(process)
        assert process.stdout.readline() == "held\n"
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()


def _train_args(data: Path, out: Path) -> list[str]:
    options = {k: v for k, v in TINY_TRAIN.items() if k not in ("genotype", "lr")}
    return ["train", "fpn", "--data", data, "-o", out, "--epochs", "1", "--no-progress",
            *[a for k, v in options.items() for a in (f"--{k.replace('_', '-')}", v)]]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_folder_in_use_is_refused_by_every_writer(run, holder, tiny_data, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "search.json").write_text("{}")
    process = holder(out)
    before = _files(out)
    commands = {
        "train": _train_args(tiny_data, out),
        "train --resume": ["train", "--resume", "-o", out, "--no-progress"],
        "search": [*SEARCH, "-o", out],
        "calibrate": ["search", "calibrate", "-o", out, "--architectures", "fpn,nasfpn",
                      "--sampled", "1", "--poor", "0", "--proxy-image-size", "64"],
    }
    for name, args in commands.items():
        code, _, err = run(*args)
        assert code == 1, (name, err)
        assert f"{out}: in use by process {process.pid} (started " in err, (name, err)
        assert "Traceback" not in err
        assert _files(out) == before, name  # nothing read into or written over
    process.stdin.close()
    assert process.wait() == 0
    assert _files(out) == {"search.json": b"{}"}  # the lock file goes with its holder


def test_a_lock_left_by_a_killed_process_never_blocks(run, holder, tmp_path):
    out = tmp_path / "out"
    process = holder(out)
    assert (out / ".lock").read_text().split()[0] == str(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert (out / ".lock").exists()  # left behind, but no longer locked
    code, _, err = run(*SEARCH, "-o", out)
    assert code == 0, err
    assert not (out / ".lock").exists()
    assert (out / "trials.jsonl").is_file()


def test_the_python_api_takes_the_lock_too(holder, tmp_path):
    from nasfpn_cli.errors import NasfpnError
    from nasfpn_cli.search.rewards import RewardSpec
    from nasfpn_cli.search.runner import SearchConfig, run_search

    out = tmp_path / "out"
    process = holder(out)
    with pytest.raises(NasfpnError, match=f"in use by process {process.pid}"):
        run_search(SearchConfig(out, RewardSpec("similarity", "nasfpn"),
                                "random", trials=2), progress=False)


def test_a_refused_command_leaves_no_folder_behind(run, tmp_path):
    out = tmp_path / "a" / "new"
    code, _, err = run("train", "--resume", "-o", out, "--no-progress")
    assert code == 1 and "nothing to resume" in err, err
    assert list(tmp_path.iterdir()) == []


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if stat and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_exit_when_the_search_is_killed(tmp_path):
    out = tmp_path / "search"
    plugins = ROOT / "tests" / "search"
    env = {**os.environ, "PYTHONPATH": f"{plugins}{os.pathsep}{ROOT}",
           "NASFPN_TEST_PAUSE": "0.2", "OMP_NUM_THREADS": "1"}
    search = subprocess.Popen(
        [sys.executable, "-m", "nasfpn_cli", "search", "--controller", "random", "--reward",
         "slow-similarity", "--reward-module", "search_test_plugin", "--trials", "1000",
         "--workers", "2", "-o", str(out)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not ((out / "trials.jsonl").exists()
                   and (out / "trials.jsonl").read_bytes().count(b"\n") >= 2):
            assert search.poll() is None and time.monotonic() < deadline, "the search did not run"
            time.sleep(0.05)
        children = _children(search.pid)
        assert len(children) >= 2  # the two workers (and multiprocessing's resource tracker)
        search.send_signal(signal.SIGKILL)
        search.wait()
        deadline = time.monotonic() + 10
        while any(_running(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in children if _running(pid)] == []
    finally:
        for pid in children:  # never leave one behind, even when the test fails
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if search.poll() is None:
            search.kill()
            search.wait()


# ---------------------------------------------------------------- issue 30: a lock dies with its owner

FORKING_HOLDER = (
    "import os, sys, time\nfrom nasfpn_cli.run_lock import folder_lock\n"
    "with folder_lock(sys.argv[1]):\n"
    "    child = os.fork()\n"
    "    if child == 0:\n"  # the child speaks once its fork has returned (the hooks have run)
    "        print(os.getpid(), flush=True)\n"
    "        time.sleep(60)\n"  # an orphaned data-loader worker
    "        os._exit(0)\n"
    "    sys.stdin.read()\n")


def test_forked_workers_of_a_killed_holder_do_not_keep_the_lock(tmp_path):
    """``kill -9`` of a command whose forked workers live on: the folder is free at once."""
    from nasfpn_cli.run_lock import folder_lock

    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-c", FORKING_HOLDER, str(out)], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    child = int(process.stdout.readline())
    try:
        process.kill()
        process.wait()
        os.kill(child, 0)  # the orphan still runs
        with folder_lock(out):
            pass
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def test_the_message_never_names_a_dead_process(tmp_path):
    """A lock held by a process the lock file does not name (the named one has ended)."""
    import fcntl

    from nasfpn_cli.errors import NasfpnError
    from nasfpn_cli.run_lock import LOCK_FILE, folder_lock

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    try:
        os.write(fd, f"{dead.pid} {time.time():.0f}\n".encode())
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(NasfpnError) as caught:
            with folder_lock(out):
                pass
        assert "in use by another process" in str(caught.value)
        assert str(dead.pid) not in str(caught.value)
    finally:
        os.close(fd)
