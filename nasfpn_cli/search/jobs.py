"""The one loop that keeps an executor busy. The search, its final selection and the calibration
all run their trials through :func:`run_jobs`, so they start, finish and stop the same way: a
caller fills free slots, hears each result, and a raised error ends the loop (the executor's
``with`` block then releases its workers). Resuming is the callers' part: each skips what its
JSON-lines log (:class:`~nasfpn_cli.search.trials.TrialLog`) already holds.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from .executors import Executor
from .worker import TrialResult, TrialTask

Job = TypeVar("Job")


class JobQueue:
    """The executor as the loop's callers see it: ``submit`` a task while ``capacity`` allows
    (``running`` counts what is out)."""

    def __init__(self, executor: Executor):
        self.executor = executor
        self.capacity = executor.capacity
        self.running = 0

    def submit(self, task: TrialTask) -> None:
        self.executor.submit(task)
        self.running += 1

    @property
    def free(self) -> int:
        return self.capacity - self.running


def run_jobs(executor: Executor, fill: Callable[[JobQueue], None],
             finish: Callable[[TrialResult, JobQueue], None],
             until: Callable[[], bool] = lambda: False,
             show: Callable[[], None] = lambda: None) -> None:
    """Until ``until()`` or nothing is left to run: ``fill`` submits what may start now, then
    every finished trial goes to ``finish`` (which may submit more: ASHA's promotions).
    ``show`` refreshes a progress bar after each round."""
    queue = JobQueue(executor)
    while True:
        fill(queue)
        show()
        if until() or not queue.running:
            return
        for result in executor.wait():
            queue.running -= 1
            finish(result, queue)
        show()


def run_job_list(executor: Executor, jobs: Iterable[Job], task: Callable[[Job, int], TrialTask],
                 finish: Callable[[Job, TrialResult], None]) -> None:
    """A fixed list of jobs, in order, as many at once as the executor takes: ``task(job,
    number)`` makes a job's trial (numbered so its result finds the job again), ``finish``
    hears each job's result as it comes."""
    waiting = list(enumerate(jobs))
    running: dict[int, Job] = {}

    def fill(queue: JobQueue) -> None:
        while waiting and queue.free > 0:
            number, job = waiting.pop(0)
            running[number] = job
            queue.submit(task(job, number))

    run_jobs(executor, fill, lambda result, queue: finish(running.pop(result.trial), result))


__all__ = ["JobQueue", "run_job_list", "run_jobs"]
