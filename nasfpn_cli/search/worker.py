"""One trial, as it runs inside a worker: rebuild the architecture and the reward, score it.

Runs in the main process (``--workers 1``), in a spawned pool process, or in a Ray task; all of
them receive a :class:`TrialTask` of plain data and answer a :class:`TrialResult`. Errors come
back as text in the result instead of as pickled exceptions, so the main process can name the
trial that failed. A reward is built once per process and then reused.
"""
from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass
from typing import Any

from ..errors import NasfpnError, TrainingError
from .trials import MAX_REWARD

WORKER_NAME = {"name": "main"}  # a pool process renames itself in its initializer
_REWARD_CACHE: dict[str, Any] = {}


@dataclass(frozen=True)
class TrialTask:
    trial: int
    decisions: tuple[int, ...]
    hash: str
    seed: int
    space: dict[str, Any]
    reward: dict[str, Any]  # a RewardSpec as a dict
    output_dir: str  # the search's OUT folder (where e.g. the proxy data lives)
    genotype: str | None = None  # DSL text to score instead of ``decisions`` (an architecture
    # outside the search space, e.g. a bundled one in a calibration)
    macs_objective: dict[str, Any] | None = None  # a MacsObjective as a dict: cost-aware reward
    budget: int | None = None  # within the reward's budget_range (ASHA's rung); None: the full


@dataclass(frozen=True)
class TrialResult:
    trial: int
    reward: float
    seconds: float
    worker: str
    error: str | None = None  # the architecture failed (e.g. its training diverged): reward 0
    fatal: str | None = None  # the trial could not run at all: the search stops
    score: float | None = None  # the reward before the MACs penalty (with --macs-target)
    macs: int | None = None  # neck multiply-adds (with --macs-target)
    curve: dict[str, list[float]] | None = None  # the reward's learning curve, where it keeps one


def _reward_key(space: dict[str, Any], reward: dict[str, Any], output_dir: str) -> str:
    return json.dumps([space, reward, output_dir], sort_keys=True)


def adopt_reward(space, spec, output_dir, reward) -> None:
    """Let trials run in this process reuse ``reward``, already prepared by the caller (the
    inline executor then neither builds it again nor reads its data a second time)."""
    _REWARD_CACHE[_reward_key(space.to_dict(), spec.to_dict(), str(output_dir))] = (space, reward)


def _space_and_reward(task: TrialTask):
    from .rewards import RewardSpec, build_reward
    from .spaces import space_from_dict

    key = _reward_key(task.space, task.reward, task.output_dir)
    if key not in _REWARD_CACHE:
        space = space_from_dict(task.space)
        reward = build_reward(RewardSpec.from_dict(task.reward), space, task.output_dir)
        _REWARD_CACHE[key] = (space, reward)
    return _REWARD_CACHE[key]


def run_trial(task: TrialTask, worker: str | None = None) -> TrialResult:
    """Score one architecture; never raises."""
    from .rewards import Candidate

    worker = worker or WORKER_NAME["name"]
    start = time.perf_counter()
    try:
        space, reward = _space_and_reward(task)
        if task.genotype is None:
            genotype = space.to_genotype(task.decisions)
        else:
            from ..genotype import parse_genotype

            genotype = parse_genotype(task.genotype, f"<{task.hash}>")
        candidate = Candidate(genotype, tuple(task.decisions), task.hash, task.seed)
        evaluation = reward.evaluate(candidate, task.budget)
        value, curve = float(evaluation.score), evaluation.curve or None
    except TrainingError as exc:
        return TrialResult(task.trial, 0.0, time.perf_counter() - start, worker,
                           error=str(exc))  # its hint names train's options, not search's
    except NasfpnError as exc:
        return TrialResult(task.trial, 0.0, time.perf_counter() - start, worker,
                           fatal=exc.render())
    except Exception as exc:  # a bug or a broken plug-in: report where, stop the search
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        last = traceback.extract_tb(exc.__traceback__)[-1]
        return TrialResult(task.trial, 0.0, time.perf_counter() - start, worker,
                           fatal=f"{text} (at {last.filename}:{last.lineno})")
    if not abs(value) <= MAX_REWARD:  # NaN too
        return TrialResult(task.trial, 0.0, time.perf_counter() - start, worker,
                           error=f"the reward was {value} (not a finite number within "
                                 f"+-{MAX_REWARD:g})")
    if task.macs_objective is None:
        return TrialResult(task.trial, value, time.perf_counter() - start, worker, curve=curve)
    from .cost import MacsObjective

    macs = reward.cost(genotype)
    return TrialResult(task.trial, MacsObjective.from_dict(task.macs_objective).reward(value, macs),
                       time.perf_counter() - start, worker, score=value, macs=macs, curve=curve)
