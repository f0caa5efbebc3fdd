"""Where trials run (``--executor``): in this process, in a local process pool, or on Ray.

All three take :class:`TrialTask` s with ``submit`` and hand back finished
:class:`TrialResult` s with ``wait``; ``capacity`` is how many trials may run at once. The local
pool gives every worker ``cores // workers`` torch threads, so W workers share the cores
instead of fighting over them.
"""
from __future__ import annotations

import concurrent.futures as futures
import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

from ..errors import SearchError
from .worker import WORKER_NAME, TrialResult, TrialTask, run_trial

EXECUTORS = ("local", "ray")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_torch_threads(threads: int) -> None:
    """Limit this process's intra-op threads (before torch is imported, and after)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


class Executor(ABC):
    """Runs trials; at most ``capacity`` at a time."""

    capacity: int = 1

    @abstractmethod
    def submit(self, task: TrialTask) -> None: ...

    @abstractmethod
    def wait(self) -> list[TrialResult]:
        """Block until at least one submitted trial finished; return all that have."""

    def close(self) -> None:
        """Release workers; unfinished trials are abandoned (a resumed search reruns them)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class InlineExecutor(Executor):
    """One trial at a time in this process (``--workers 1``).

    The trial gets all the cores; the controller between trials runs on one thread, since its
    small ops only lose time waiting for a second thread on a busy machine.
    """

    def __init__(self, cores: int | None = None) -> None:
        self.queue: list[TrialTask] = []
        self.cores = cores or available_cores()

    def submit(self, task: TrialTask) -> None:
        self.queue.append(task)

    def wait(self) -> list[TrialResult]:
        set_torch_threads(self.cores)
        try:
            return [run_trial(self.queue.pop(0))]
        finally:
            set_torch_threads(1)


def _exit_with_parent(parent: int) -> None:
    """End this worker when the search that started it dies: after a ``kill -9`` of the search
    a worker would otherwise wait on its task queue forever (it holds both ends of the pipe).
    On Linux the kernel sends SIGKILL (``prctl(PR_SET_PDEATHSIG)``); everywhere, and for a
    parent gone before that was set, a thread checks the parent's pid once a second."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _init_pool_worker(threads: int, counter, parent: int) -> None:
    _exit_with_parent(parent)
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    WORKER_NAME["name"] = f"worker{index}"
    set_torch_threads(threads)


class LocalPoolExecutor(Executor):
    """A pool of ``workers`` spawned processes, each with ``cores // workers`` torch threads."""

    def __init__(self, workers: int, cores: int | None = None, threads: int | None = None):
        self.capacity = workers
        threads = threads or max(1, (cores or available_cores()) // workers)
        context = multiprocessing.get_context("spawn")  # forking a process that ran torch can hang
        self.pool = futures.ProcessPoolExecutor(workers, mp_context=context,
                                                initializer=_init_pool_worker,
                                                initargs=(threads, context.Value("i", 0), os.getpid()))
        self.running: set[futures.Future] = set()

    def submit(self, task: TrialTask) -> None:
        self.running.add(self.pool.submit(run_trial, task))

    def wait(self) -> list[TrialResult]:
        done, self.running = futures.wait(self.running, return_when=futures.FIRST_COMPLETED)
        try:
            return [future.result() for future in done]
        except futures.process.BrokenProcessPool as exc:
            raise SearchError("a worker process died (out of memory?); the search stopped",
                              hint="rerun with --resume to continue where it stopped") from exc

    def close(self) -> None:
        if self.running:  # stopped early (error, Ctrl-C): do not wait for trials in flight
            for process in list(getattr(self.pool, "_processes", {}).values()):
                process.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)


def _run_trial_on_ray(task: TrialTask) -> TrialResult:
    import ray

    context = ray.get_runtime_context()
    return run_trial(task, worker=f"ray:{context.get_node_id()[:8]}:{os.getpid()}")


class RayExecutor(Executor):
    """Each trial a Ray task (one GPU each where the cluster has GPUs), ``workers`` at a time.

    Connects to ``address`` (``auto`` or ``ray://host:port``), reuses a Ray instance this process
    already started, or starts a local one; only a Ray instance it started itself is shut down.
    """

    def __init__(self, workers: int, address: str | None = None):
        try:
            import ray
        except ImportError as exc:
            raise SearchError("--executor ray needs Ray: pip install 'nasfpn[ray]'") from exc
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise SearchError(f"--address {address}: cannot connect to Ray: {exc}") from exc
            self.started = True
        gpus = ray.cluster_resources().get("GPU", 0)
        self.capacity = workers
        self.remote = ray.remote(_run_trial_on_ray).options(num_cpus=1,
                                                            num_gpus=1 if gpus >= 1 else 0)
        self.running: list = []

    def submit(self, task: TrialTask) -> None:
        self.running.append(self.remote.remote(task))

    def wait(self) -> list[TrialResult]:
        ready, self.running = self.ray.wait(self.running, num_returns=1)
        if self.running:  # collect whatever else is done too
            more, self.running = self.ray.wait(self.running, num_returns=len(self.running),
                                               timeout=0)
            ready += more
        try:
            return self.ray.get(ready)
        except self.ray.exceptions.RayError as exc:
            raise SearchError(f"a Ray task failed: {exc}",
                              hint="rerun with --resume to continue where it stopped") from exc

    def close(self) -> None:
        for ref in self.running:
            self.ray.cancel(ref, force=True)
        self.running = []
        if self.started:
            self.ray.shutdown()


def build_executor(kind: str, workers: int, address: str | None = None,
                   threads: int | None = None) -> Executor:
    """``threads``: torch threads per local trial (default: the cores shared among workers)."""
    if workers < 1:
        raise SearchError(f"--workers must be at least 1, got {workers}")
    if kind == "ray":
        return RayExecutor(workers, address)
    if kind != "local":
        raise SearchError(f"--executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    if address:
        raise SearchError("--address is for --executor ray")
    if threads is not None and threads < 1:
        raise SearchError(f"--threads must be at least 1, got {threads}")
    return InlineExecutor(threads) if workers == 1 else LocalPoolExecutor(workers, threads=threads)
