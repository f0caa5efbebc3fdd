"""The search loop: ask the controller, run trials on an executor, record, tell, checkpoint.

Files in OUT:

- ``search.json``: what is searched (controller, reward, space, seed), written once, and the
  ``--trials`` target and the final selection's ``--final-top-k`` and ``--final-seeds``, which
  ``--resume`` keeps unless given new ones.
- ``trials.jsonl``: every finished trial, appended and fsynced (:mod:`.trials`).
- ``state.pt``: the controller's state and the proposals still out, replaced atomically each
  time new proposals are made and *before* they run; it names the search it belongs to (a hash
  of search.json's identity), so a state of another search is refused, not resumed.
- ``best.txt``: the best genotype so far, in the DSL, replaced atomically.

Why a kill at any moment loses nothing: a trial is appended to ``trials.jsonl`` before the
controller hears its reward, and every proposal that can finish was saved in ``state.pt``
first. Resuming loads ``state.pt``, tells the controller the rewards of the proposals it still
waited for that ``trials.jsonl`` already has (in file order, as the first run did), and runs the
rest again. With one worker a resumed search is the same, trial for trial, as one never killed.
"""
from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..untrusted import shown_path
from ..utils import ProgressTask
from ..errors import SearchError, torch_load_failure
from ..run_lock import folder_lock, remove_paths
from ..records import Check, check_record, list_of, nested, optional, text, whole
from ..settings import declared_check, declared_shape
from .controllers import CONTROLLERS, Controller, Proposal, build_controller
from .asha import SCHEDULERS, AshaScheduler, asha_budgets
from .cost import MacsObjective
from .executors import Executor, build_executor, set_torch_threads
from .jobs import JobQueue, run_jobs
from .final import FinalArchitecture, final_selection, top_architectures
from .rewards import REWARD_SPEC_SHAPE, Reward, RewardSpec, build_reward
from .settings import ExecutorSettings, SearchSettings
from .space import SearchSpace
from .spaces import Space, space_from_dict, space_shape
from .store import SearchStore, refuse_other_kind
from .trials import TrialLog, TrialRecord, check_decisions, read_trials
from .worker import TrialResult, TrialTask, adopt_reward

STATE_VERSION = 1


@dataclass
class SearchConfig:
    """One search. ``controller``, ``controller_options``, ``reward``, ``space`` and ``seed`` say
    *what* is searched and are fixed for the life of OUT; the rest may change on ``--resume``."""

    output_dir: Path
    reward: RewardSpec = field(default_factory=lambda: RewardSpec("proxy"))
    controller: str = SearchSettings.controller  # defaults: the declared options'
    controller_options: dict[str, Any] = field(default_factory=dict)
    space: Space = field(default_factory=SearchSpace)
    seed: int = SearchSettings.seed
    trials: int = SearchSettings.trials
    workers: int = ExecutorSettings.workers
    executor: str = ExecutorSettings.executor
    address: str | None = None
    threads: int | None = None  # torch threads per local trial (None: cores // workers)
    macs_objective: MacsObjective | None = None  # --macs-target/--macs-weight: cost-aware
    scheduler: str = SearchSettings.scheduler  # or "asha": successive halving of the budget
    asha_eta: int = SearchSettings.asha_eta
    asha_min_epochs: int = SearchSettings.asha_min_epochs
    final_top_k: int = SearchSettings.final_top_k  # the final selection (search/final.py)
    final_seeds: int = SearchSettings.final_seeds
    # the pyramids a seeded controller proposes first (--seed-from): (name, decisions)
    seeds: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def identity(self) -> dict[str, Any]:
        identity = {"controller": self.controller, "controller_options": self.controller_options,
                    "reward": self.reward.to_dict(), "space": self.space.to_dict(),
                    "seed": self.seed}
        if self.macs_objective is not None:
            identity["macs_objective"] = self.macs_objective.to_dict()
        if self.scheduler != "none":
            identity["scheduler"] = {"name": self.scheduler, "eta": self.asha_eta,
                                     "min_epochs": self.asha_min_epochs}
        if self.seeds:  # absent otherwise: folders of unseeded searches keep their identity
            identity["seed_from"] = [{"name": name, "decisions": list(decisions)}
                                     for name, decisions in self.seeds]
        return identity

    @classmethod
    def from_identity(cls, output_dir: Path, data: dict[str, Any], **rest: Any) -> "SearchConfig":
        """The search that search.json's ``identity`` describes (checked by :func:`load_config`)."""
        return cls(output_dir, RewardSpec.from_dict(data["reward"]), data["controller"],
                   dict(data["controller_options"]), space_from_dict(data["space"]),
                   int(data["seed"]),
                   macs_objective=MacsObjective.from_dict(data.get("macs_objective")),
                   **_scheduler_fields(data.get("scheduler")),
                   seeds=tuple((item["name"], tuple(item["decisions"]))
                               for item in data.get("seed_from", ())), **rest)

    def make_scheduler(self, reward: Reward) -> AshaScheduler | None:
        """The ASHA rungs over the reward's budget (the proxy's epochs)."""
        if self.scheduler == "none":
            return None
        if self.scheduler not in SCHEDULERS:
            raise SearchError(f"--scheduler must be one of {', '.join(SCHEDULERS)}, got "
                              f"{self.scheduler!r}")
        budgets = reward.budget_range()
        if budgets is None:
            raise SearchError(f"--scheduler {self.scheduler}: the reward {self.reward.name!r} "
                              "takes no budget to halve")
        return AshaScheduler(asha_budgets(budgets[1], self.asha_min_epochs, self.asha_eta),
                             self.asha_eta)


def _declared(name: str) -> Check:
    return declared_check(SearchSettings, name)


IDENTITY_REQUIRED = ("controller", "controller_options", "reward", "space", "seed")


def identity_shape(data: Any) -> dict[str, Check]:
    """The shape of search.json's ``identity``: values held to the limits of their options;
    ``controller_options`` to the declarations of the stored controller (when it is known)."""
    controller = CONTROLLERS.get(data.get("controller")) if isinstance(data, dict) and \
        isinstance(data.get("controller"), str) else None
    options = declared_shape(controller.options) if controller is not None else {}
    return {
        "controller": _declared("controller"),
        "controller_options": nested(options, closed=True),
        "reward": nested(REWARD_SPEC_SHAPE, ("name",)),
        "space": nested(space_shape(data.get("space") if isinstance(data, dict) else None),
                        tuple(space_shape(data.get("space") if isinstance(data, dict) else None))),
        "seed": _declared("seed"),
        "macs_objective": optional(nested({"target": _declared("macs_target"),
                                           "weight": _declared("macs_weight")},
                                          ("target", "weight"))),
        "scheduler": optional(nested({"name": _declared("scheduler"), "eta": _declared("asha_eta"),
                                      "min_epochs": _declared("asha_min_epochs")},
                                     ("name", "eta", "min_epochs"))),
        "seed_from": optional(list_of(nested({"name": text, "decisions": list_of(
            whole(), "decisions", 1)}, ("name", "decisions")), "seed pyramids", 1)),
    }


def _scheduler_fields(data: dict[str, Any] | None) -> dict[str, Any]:
    if data is None:
        return {}
    return {"scheduler": data["name"], "asha_eta": int(data["eta"]),
            "asha_min_epochs": int(data["min_epochs"])}


@dataclass
class SearchSummary:
    records: list[TrialRecord]
    best: TrialRecord | None
    unique: int
    seconds: float
    final: list[FinalArchitecture] = field(default_factory=list)  # ranked by mean score


@dataclass
class _Pending:
    trial: int
    proposal: Proposal
    hash: str
    rung: int = 0  # --scheduler asha: the budget it trains at now
    rung_scores: list[float] = field(default_factory=list)
    seconds: float = 0.0  # spent on its lower rungs


def trial_seed(seed: int, arch_hash: str) -> int:
    """The seed a trial trains with: fixed per (search seed, architecture), like its reward."""
    return int(hashlib.sha256(f"{seed}:{arch_hash}".encode()).hexdigest()[:8], 16)


# what search.json keeps beside the identity: settings a --resume may change, kept when it
# does not give them again (a file written before one was stored: that option's default)
STORED_TARGETS = ("trials", "final_top_k", "final_seeds")


def load_config(output_dir: Path) -> dict[str, Any]:
    store = SearchStore(output_dir)
    path, data = store.config, store.read_json("config")
    if not isinstance(data.get("identity"), dict):
        raise SearchError(f"{path}: not a search description (no \"identity\" object)")
    # each value checked: a hand-edited file must not crash the report or the resume
    check_record(data["identity"], identity_shape(data["identity"]), IDENTITY_REQUIRED,
                 f"{path}: identity", SearchError)
    check_record(data, {name: _declared(name) for name in STORED_TARGETS}, (), str(path),
                 SearchError)
    return data


def identity_hash(identity: dict[str, Any]) -> str:
    """A search's identity as a short hash: state.pt names the search it belongs to by it."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Search:
    """A search in progress; see the module docstring. Use :func:`run_search`."""

    def __init__(self, config: SearchConfig, resume: bool = False):
        out = Path(config.output_dir)
        if config.trials < 1:
            raise SearchError(f"--trials must be at least 1, got {config.trials}")
        self.out = out
        self.store = store = SearchStore(out)
        self.config = config
        if resume:
            stored = load_config(out)
            if stored["identity"] != json.loads(json.dumps(config.identity())):
                raise SearchError(f"{out}: --resume with other settings than the search there",
                                  hint=f"resume with the stored settings (see {store.config})")
        elif store.holds_a_search():
            raise SearchError(f"{out}: a search already lives here",
                              hint="pass --resume to continue it, or choose another --output-dir")
        else:
            refuse_other_kind(out, "search")
        self.space = config.space
        reward = build_reward(config.reward, self.space, out)  # bad settings fail before any file
        self.asha = config.make_scheduler(reward)
        for name, decisions in config.seeds:  # a stored seed must be a point of the space
            try:
                self.space.check(decisions)
            except SearchError as exc:
                raise SearchError(f"seed {name}: {exc}") from None
        self.controller: Controller = build_controller(
            config.controller, self.space, config.seed,
            seeds=tuple(decisions for _, decisions in config.seeds), **config.controller_options)
        # what a new search creates before its first trial; removed if it is refused there
        # (a supernet path that is no supernet left search.json and the proxy data behind)
        created = [] if resume else [path for path in (store.config, store.proxy_data)
                                     if not path.exists()]
        try:
            self._open(reward, resume, stored if resume else {})
        except BaseException:
            remove_paths(created)
            raise

    def _open(self, reward: Reward, resume: bool, stored: dict[str, Any]) -> None:
        """Write search.json (new) or restore the state (resume), then prepare the reward."""
        config, out, store = self.config, self.out, self.store
        if not resume:
            out.mkdir(parents=True, exist_ok=True)
            self._write_config()
        self.records: list[TrialRecord] = []
        self.cache: dict[str, TrialRecord] = {}  # hash -> the trial that evaluated it
        self.best: TrialRecord | None = None
        self.pending: dict[int, _Pending] = {}
        self.running: dict[str, int] = {}  # hash -> the trial evaluating it
        self.parked: dict[str, list[int]] = {}  # hash -> trials waiting for that evaluation
        self.next_trial = 0
        if resume:
            self._restore()  # checks everything before the first file is changed
            read_trials(store.trials, repair=True)
            if any(stored.get(name) != getattr(config, name) for name in STORED_TARGETS):
                self._write_config()
        reward.prepare()
        adopt_reward(self.space, config.reward, out, reward)  # inline trials reuse it
        self.final_reward = reward.final_scorer(config.reward) or config.reward
        self.log = TrialLog(store.trials)

    def _write_config(self) -> None:
        self.store.write_json("config", {"identity": self.config.identity(), **{
            name: getattr(self.config, name) for name in STORED_TARGETS}})

    # -- state -----------------------------------------------------------------------------------

    def _save_state(self) -> None:
        import torch

        state = {"version": STATE_VERSION, "search": identity_hash(self.config.identity()),
                 "controller": self.controller.state_dict(),
                 "next_trial": self.next_trial, "finished": len(self.records),
                 "pending": [{"trial": p.trial, "decisions": list(p.proposal.decisions),
                              "info": p.proposal.info} for p in self.pending.values()]}
        buffer = io.BytesIO()
        torch.save(state, buffer)
        self.store.write_text("state", buffer.getvalue())

    def _restore(self) -> None:
        """Rebuild the search from state.pt and trials.jsonl (see the module docstring)."""
        import torch

        store = self.store
        records = read_trials(store.trials)
        check_decisions(records, self.space, store.trials)
        path = store.state
        if not path.exists():
            if records:
                raise SearchError(f"{path}: missing, but {store.name('trials')} has trials")
            return  # killed before the first proposals were saved: start afresh
        try:
            state = torch.load(path, weights_only=True)
        except Exception as exc:  # torch raises several types for a damaged file
            raise SearchError(f"{path}: unreadable search state: {torch_load_failure(exc)}"
                              ) from exc
        if not isinstance(state, dict) or not {"finished", "controller", "next_trial",
                                               "pending"} <= set(state):
            raise SearchError(f"{path}: not a search state (written by another program?)")
        if state.get("version") != STATE_VERSION:
            raise SearchError(f"{path}: state version {state.get('version')} is not "
                              f"{STATE_VERSION}")
        if state.get("search", identity_hash(self.config.identity())) != identity_hash(
                self.config.identity()):  # states written before the hash was kept: trusted
            raise SearchError(f"{path}: the state of another search (saved for other settings "
                              f"than {store.name('config')} holds)",
                              hint="the files do not belong together: restore this search's "
                                   f"{store.name('state')}, or start a new search")
        if len(records) < state["finished"]:
            raise SearchError(f"{store.trials}: has {len(records)} trials, but "
                              f"{store.name('state')} was saved after {state['finished']}",
                              hint=f"{store.name('trials')} lost lines; restore it or start a new "
                                   "search")
        self.controller.load_state_dict(state["controller"])
        self.next_trial = int(state["next_trial"])
        for item in state["pending"]:
            decisions = self.space.check(item["decisions"])
            self.pending[item["trial"]] = _Pending(item["trial"], Proposal(decisions, item["info"]),
                                                   self.space.hash(decisions))
        for record in records:
            if record.trial in self.pending:  # finished after the last checkpoint: tell it now
                self.controller.tell(self.pending.pop(record.trial).proposal, record.reward)
            elif record.trial >= self.next_trial:
                raise SearchError(f"{store.trials}: trial {record.trial} is unknown to "
                                  f"{store.name('state')}", hint="the files do not belong together")
            if self.asha is not None and record.rungs and not record.cached:
                self.asha.replay(record.rungs)
            self._remember(record)

    def _remember(self, record: TrialRecord) -> None:
        self.records.append(record)
        self.cache.setdefault(record.hash, record)
        if self.best is None or record.reward > self.best.reward:
            self.best = record
            comment = (f"best of the search in {shown_path(self.out)}: reward {record.reward:.6g} "
                       f"(trial {record.trial}, step {record.step}, hash {record.hash})")
            text = self.space.to_text(record.decisions, name="searched", comment=comment)
            self.store.write_text("best", text.encode())

    # -- trials ----------------------------------------------------------------------------------

    def _task(self, pending: _Pending) -> TrialTask:
        return TrialTask(pending.trial, tuple(pending.proposal.decisions), pending.hash,
                         trial_seed(self.config.seed, pending.hash), self.space.to_dict(),
                         self.config.reward.to_dict(), str(self.out),
                         macs_objective=None if self.config.macs_objective is None
                         else self.config.macs_objective.to_dict(),
                         budget=None if self.asha is None else self.asha.budgets[pending.rung])

    def _finish(self, trial: int, reward: float, seconds: float, worker: str, cached: bool,
                error: str | None = None, score: float | None = None,
                macs: int | None = None, rungs: list[float] | None = None) -> None:
        """Record a finished trial, then tell the controller (in that order: see the docstring)."""
        pending = self.pending.pop(trial)
        record = TrialRecord(step=len(self.records), trial=trial, hash=pending.hash,
                             genotype=self.space.to_text(pending.proposal.decisions),
                             reward=reward, seconds=round(seconds, 4), worker=worker,
                             decisions=list(pending.proposal.decisions), cached=cached,
                             error=error, finished_at=round(time.time(), 3), score=score,
                             macs=macs, rungs=rungs)
        self.log.append(record)
        self._remember(record)
        self.controller.tell(pending.proposal, reward)

    def _on_result(self, result: TrialResult, executor: JobQueue) -> None:
        if result.fatal:
            raise SearchError(f"trial {result.trial} failed: {result.fatal}",
                              hint="fix the cause and rerun with --resume")
        pending = self.pending[result.trial]
        rungs = None
        if self.asha is not None:
            pending.rung_scores.append(result.reward)
            pending.seconds += result.seconds
            rungs = list(pending.rung_scores)
            if result.error is None and self.asha.promote(pending.rung, result.reward):
                pending.rung += 1  # trains again at the next budget; still running
                executor.submit(self._task(pending))
                return
        arch = pending.hash
        self.running.pop(arch, None)
        self._finish(result.trial, result.reward, pending.seconds or result.seconds,
                     result.worker, False, result.error, result.score, result.macs, rungs)
        for waiting in self.parked.pop(arch, []):
            self._finish(waiting, result.reward, 0.0, "cache", True, score=result.score,
                         macs=result.macs, rungs=rungs)

    def _dispatch(self, pending: _Pending, executor: JobQueue) -> None:
        """Run a proposal, reuse its cached reward, or park it behind the same running one."""
        if pending.hash in self.cache:
            first = self.cache[pending.hash]
            self._finish(pending.trial, first.reward, 0.0, "cache", True, score=first.score,
                         macs=first.macs, rungs=first.rungs)
        elif pending.hash in self.running:
            self.parked.setdefault(pending.hash, []).append(pending.trial)
        else:
            self.running[pending.hash] = pending.trial
            executor.submit(self._task(pending))

    def _fill(self, executor: JobQueue) -> None:
        """Ask for proposals until every worker is busy or the trial budget is spoken for."""
        asked: list[_Pending] = []
        will_run = set(self.running)
        while (len(will_run) < executor.capacity
               and len(self.records) + len(self.pending) < self.config.trials):
            proposal = self.controller.ask()
            pending = _Pending(self.next_trial, proposal, self.space.hash(proposal.decisions))
            self.next_trial += 1
            self.pending[pending.trial] = pending
            asked.append(pending)
            if pending.hash not in self.cache:
                will_run.add(pending.hash)
        if asked:
            self._save_state()  # before anything runs: see the module docstring
        for pending in asked:
            self._dispatch(pending, executor)

    def _loop(self, executor: Executor, bar: ProgressTask) -> None:
        def fill(queue: JobQueue) -> None:
            if restarted:  # proposals a kill interrupted run again, first
                for pending in sorted(restarted.pop().values(), key=lambda p: p.trial):
                    self._dispatch(pending, queue)
            if len(self.records) < self.config.trials:
                self._fill(queue)

        restarted = [dict(self.pending)]
        run_jobs(executor, fill, self._on_result,
                 until=lambda: len(self.records) >= self.config.trials,
                 show=lambda: self._show(bar))
        if len(self.records) < self.config.trials:
            raise SearchError("internal: no trial is running and none can start")
        self._save_state()

    def _show(self, bar: ProgressTask) -> None:
        """Trials done, the best reward, the unique architectures."""
        best = "-" if self.best is None else f"{self.best.reward:.4f}"
        bar.update(completed=len(self.records), status=f"best {best} unique {len(self.cache)}")

    def run(self, progress: bool = True) -> SearchSummary:
        started = time.perf_counter()
        config = self.config
        import torch

        threads = torch.get_num_threads()
        set_torch_threads(1)  # the controller is small: leave the cores to the trials
        try:
            with build_executor(config.executor, config.workers, config.address,
                                config.threads) as executor:
                with ProgressTask("search", self.config.trials, progress) as bar:
                    self._loop(executor, bar)
                final = self._final_selection(executor, progress)
        finally:
            self.log.close()
            set_torch_threads(threads)
        return SearchSummary(self.records, self.best, len(self.cache),
                             time.perf_counter() - started, final)

    def _final_selection(self, executor: Executor, progress: bool) -> list[FinalArchitecture]:
        """The best architectures scored again at more seeds (search/final.py)."""
        config = self.config
        if config.final_top_k < 1 or config.final_seeds < 1:
            return []
        anchors = {self.space.hash(decisions) for _, decisions in config.seeds}
        total = len(set(record.hash for record in top_architectures(
            self.records, config.final_top_k)) | (anchors & set(self.cache))) * config.final_seeds
        scorer = None if self.final_reward == config.reward else self.final_reward.name
        if scorer is not None:  # another reward re-scores: its data, written once, here
            final_reward = build_reward(self.final_reward, self.space, self.out)
            final_reward.prepare()
            adopt_reward(self.space, self.final_reward, self.out, final_reward)
        with ProgressTask(f"final selection{f' ({scorer})' if scorer else ''}", total,
                          progress) as bar:
            return final_selection(self.out, self.records, config.final_top_k,
                                   config.final_seeds, config.seed, self._final_task, executor,
                                   on_done=lambda: bar.update(advance=1), scorer=scorer,
                                   anchors=tuple(sorted(anchors)))

    def _final_task(self, record: TrialRecord, repeat: int, seed: int) -> TrialTask:
        """A repeat of ``record``'s architecture: another seed, the full budget, scored by the
        reward's final scorer."""
        return TrialTask(record.trial, tuple(record.decisions), record.hash, seed,
                         self.space.to_dict(), self.final_reward.to_dict(), str(self.out),
                         macs_objective=None if self.config.macs_objective is None
                         else self.config.macs_objective.to_dict())


def run_search(config: SearchConfig, resume: bool = False, progress: bool = True) -> SearchSummary:
    """Run (or, with ``resume``, continue) a search until ``config.trials`` trials finished,
    holding OUT's lock (:func:`folder_lock`) throughout: one search per folder."""
    with folder_lock(config.output_dir):
        return Search(config, resume).run(progress)


def resumed_config(output_dir: Path, **rest: Any) -> SearchConfig:
    """The stored search of OUT, with the settings that may change (workers...); each of
    :data:`STORED_TARGETS` left out or None keeps its stored value (the option's default for
    searches written before it was stored: 100 trials)."""
    stored = load_config(output_dir)
    for name in STORED_TARGETS:
        if rest.get(name) is None:
            rest[name] = stored.get(name, getattr(SearchConfig, name))
    return described(output_dir, lambda: SearchConfig.from_identity(
        output_dir, stored["identity"], **rest))


def described(output_dir: Path, build: Any, name: str = SearchStore.FILES["config"],
              what: str = "search description") -> Any:
    """``build()`` on what ``name`` (search.json, a calibration's plan.json) describes; a file
    edited into nonsense is a SearchError naming it, not a KeyError."""
    try:
        return build()
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SearchError(f"{output_dir / name}: not a valid {what} "
                          f"({type(exc).__name__}: {exc})",
                          hint="it was edited or damaged; restore it from the search that "
                               "wrote this folder") from None


__all__ = ["SearchConfig", "SearchSummary", "resumed_config", "run_search", "trial_seed"]
