"""The search's final selection: its best architectures scored again at more seeds.

A noisy reward makes the search's best a lucky draw as often as a good pyramid (the winner's
curse: in docs/search.md the search's own top pick retrained to FPN's level). So when the trials
are done, the ``final_top_k`` best distinct architectures are scored ``final_seeds`` more times,
each with a seed of its own, at the full budget, and ranked by the mean of those new scores
(the trial's own score chose them and is biased upward, so it stays out of the mean).
A reward whose score does not depend on the seed (the one-shot supernet) names another reward
that re-scores instead (:meth:`Reward.final_scorer`: real short trainings); the ranking then
rests on that reward's scores alone, since the search's own score is of another kind. Every
score is appended to ``final.jsonl`` as it finishes, so a killed search resumes without scoring
anything twice; ``search report`` shows the table and says when the winner is within noise of
the runner-up.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import SearchError
from ..records import Check, check_record, finite, optional, text, whole
from .jobs import run_job_list
from .store import SearchStore
from .trials import REWARD, TrialLog, TrialRecord, read_json_lines
from .worker import TrialResult, TrialTask


@dataclass(frozen=True)
class FinalScore:
    """One more scoring of a top architecture (``repeat`` counts from 1; the search's own
    trial is repeat 0)."""

    hash: str
    repeat: int
    seed: int
    reward: float
    seconds: float
    worker: str
    error: str | None = None
    scorer: str | None = None  # the reward that scored it, when not the search's own

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


@dataclass(frozen=True)
class FinalArchitecture:
    hash: str
    decisions: tuple[int, ...]
    rewards: tuple[float, ...]  # the search's trial first (unless ``scorer``), then the repeats
    scorer: str | None = None  # the reward of the repeats, when not the search's own

    @property
    def repeats(self) -> tuple[float, ...]:
        """The final selection's scores alone, in repeat order (the trial's own left out)."""
        return self.rewards if self.scorer else self.rewards[1:]

    @property
    def scores(self) -> tuple[float, ...]:
        """The scores the ranking rests on: the repeats when there are any. The trial's own
        score is what put the architecture in the top k, so it is biased upward (the winner's
        curse: the shapes search's found1 scored 0.226 as a trial, 0.212 at shared seeds)."""
        return self.repeats or self.rewards

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores)

    @property
    def std(self) -> float:
        scores = self.scores
        if len(scores) < 2:
            return 0.0
        mean = self.mean
        return math.sqrt(sum((r - mean) ** 2 for r in scores) / (len(scores) - 1))


def repeat_seed(seed: int, arch_hash: str, repeat: int) -> int:
    """The seed of repeat ``repeat`` of an architecture (never its search trial's seed); with
    ``arch_hash`` "" the same for every architecture (paired against the anchors)."""
    text = f"final:{seed}:{arch_hash}:{repeat}"
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


# each field of a final score as read back
FINAL_SHAPE: dict[str, Check] = {"hash": text, "repeat": whole(), "seed": whole(),
                                 "reward": REWARD, "seconds": finite(0), "worker": text,
                                 "error": optional(text), "scorer": optional(text)}


def read_final(path: Path) -> list[FinalScore]:
    """The final scores of ``path``, each checked (SearchError naming file, line and field)."""
    scores = []
    for number, data in read_json_lines(path, True, "final score"):
        check_record(data, FINAL_SHAPE, tuple(FINAL_SHAPE)[:-2], f"{path}:{number}", SearchError)
        scores.append(FinalScore(**{key: data[key] for key in FINAL_SHAPE if key in data}))
    return scores


def top_architectures(records: list[TrialRecord], top_k: int) -> list[TrialRecord]:
    """The first trial of each of the ``top_k`` best distinct architectures (ties: found first)."""
    first: dict[str, TrialRecord] = {}
    for record in records:
        if not record.cached and record.hash not in first:
            first[record.hash] = record
    return sorted(first.values(), key=lambda r: (-r.reward, r.trial))[:top_k]


def final_selection(out: Path, records: list[TrialRecord], top_k: int, repeats: int,
                    seed: int, task: Callable[[TrialRecord, int, int], TrialTask],
                    executor: Any, on_done: Callable[[], None] = lambda: None,
                    scorer: str | None = None, anchors: tuple[str, ...] = ()
                    ) -> list[FinalArchitecture]:
    """Score the ``top_k`` best architectures ``repeats`` more times on ``executor`` (``task``
    makes the trial of (record, repeat, seed)), skipping what ``final.jsonl`` already holds;
    returns them ranked by their mean score. ``scorer`` names the reward ``task`` scores with
    when it is not the search's own (the trial's score then stays out of the mean). The
    ``anchors`` (hashes of a seeded search's seeds) are scored too, whatever their rank, and
    then every architecture's repeat ``k`` has the same seed, so winners and anchors pair."""
    best = top_architectures(records, top_k)
    chosen = {record.hash for record in best}
    best += [record for record in top_architectures(records, len(records))
             if record.hash in anchors and record.hash not in chosen]
    shared = bool(anchors)
    path = SearchStore(out).final
    done = {(s.hash, s.repeat): s for s in read_final(path)} if path.exists() else {}
    _check_scorer(path, done.values(), scorer)
    jobs = [(record, repeat) for record in best for repeat in range(1, repeats + 1)
            if (record.hash, repeat) not in done]
    log = TrialLog(path)

    def seed_of(record: TrialRecord, repeat: int) -> int:
        return repeat_seed(seed, "" if shared else record.hash, repeat)

    def trial(job: tuple[TrialRecord, int], number: int) -> TrialTask:
        record, repeat = job
        return _renumbered(task(record, repeat, seed_of(record, repeat)), number)

    def finished(job: tuple[TrialRecord, int], result: TrialResult) -> None:
        record, repeat = job
        score = _score(record, repeat, seed_of(record, repeat), result, scorer)
        done[(record.hash, repeat)] = score
        log.append(score)
        on_done()

    try:
        run_job_list(executor, jobs, trial, finished)
    finally:
        log.close()
    return _ranked([(r, {repeat: done[(r.hash, repeat)].reward
                         for repeat in range(1, repeats + 1)}) for r in best], scorer)


def load_final(out: Path, records: list[TrialRecord]) -> list[FinalArchitecture]:
    """The final selection ``final.jsonl`` holds (none without the file), ranked by mean."""
    path = SearchStore(out).final
    if not path.exists():
        return []
    first = {r.hash: r for r in reversed(records) if not r.cached}
    scores = read_final(path)
    scorers = {score.scorer for score in scores}
    if len(scorers) > 1:
        raise SearchError(f"{path}: scored by more than one reward "
                          f"({', '.join(sorted(str(s) for s in scorers))})",
                          hint="the files do not belong together")
    repeats: dict[str, dict[int, float]] = {}
    for score in scores:
        if score.hash not in first:
            raise SearchError(f"{path}: architecture {score.hash} is not among the trials",
                              hint="the files do not belong together")
        repeats.setdefault(score.hash, {})[score.repeat] = score.reward
    return _ranked([(first[h], by_repeat) for h, by_repeat in repeats.items()],
                   scorers.pop() if scorers else None)


def _ranked(scored: list[tuple[TrialRecord, dict[int, float]]], scorer: str | None
            ) -> list[FinalArchitecture]:
    """Each architecture with its scores (the trial's own first unless another reward re-scored
    it), best mean first."""
    ranked = [FinalArchitecture(record.hash, tuple(record.decisions),
                                (() if scorer else (record.reward,))
                                + tuple(by_repeat[k] for k in sorted(by_repeat)), scorer)
              for record, by_repeat in scored]
    return sorted(ranked, key=lambda arch: -arch.mean)


def _check_scorer(path: Path, scores: Any, scorer: str | None) -> None:
    """SearchError when ``final.jsonl`` holds scores of another reward than ``scorer`` (e.g. a
    supernet search's final selection from before it re-scored by trainings)."""
    for score in scores:
        if score.scorer != scorer:
            was, now = (f"the {name} reward" if name else "the search's own reward"
                        for name in (score.scorer, scorer))
            raise SearchError(f"{path}: scored by {was}; this search re-scores by {now}",
                              hint=f"move {path.name} away to score the final selection again")


def _renumbered(task: TrialTask, trial: int) -> TrialTask:
    from dataclasses import replace

    return replace(task, trial=trial)


def _score(record: TrialRecord, repeat: int, seed: int, result: TrialResult,
           scorer: str | None) -> FinalScore:
    if result.fatal:
        raise SearchError(f"final selection: scoring {record.hash} again failed: {result.fatal}",
                          hint="fix the cause and rerun with --resume")
    return FinalScore(record.hash, repeat, seed, float(result.reward), round(result.seconds, 3),
                      result.worker, result.error, scorer)


def within_noise(ranked: list[FinalArchitecture]) -> bool:
    """Whether the winner's lead over the runner-up is within the noise of the two means
    (the difference is below the standard error of the difference)."""
    if len(ranked) < 2:
        return False
    first, second = ranked[0], ranked[1]
    error = math.sqrt(first.std ** 2 / len(first.scores) + second.std ** 2 / len(second.scores))
    return first.mean - second.mean <= error
