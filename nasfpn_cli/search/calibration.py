"""``nasfpn search calibrate``: does the proxy rank architectures as a longer training does?

A fixed, seeded set of K architectures (bundled pyramids, architectures sampled from the search
space, and deliberately poor ones) is trained twice, under the proxy settings and under a longer
*reference* schedule, at S seeds each. Every training runs as a trial of the search's executors
(in this process, a local pool, or Ray) and is appended to ``trainings.jsonl`` as it finishes;
``--resume`` reruns only what is missing there. At the end :mod:`.fidelity` compares the two
sides and the results go to ``calibration.json`` and ``calibration.png``.

Files in OUT:

- ``plan.json``: what is calibrated (architectures, both schedules, seeds); written once.
- ``trainings.jsonl``: one line per finished training, flushed and fsynced.
- ``calibration.json``, ``calibration.png``: the results (rewritten by every complete run).
- ``proxy/proxy_data``, ``reference/proxy_data``: the synthetic datasets (without real data).
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..untrusted import chart_text
from ..utils import ProgressTask
from ..errors import SearchError, UsageError
from ..records import (Check, check_record, finite, list_of, mapping_of, nested, optional, text,
                       whole)
from ..settings import declared_check
from ..run_lock import folder_lock
from .cost import REFERENCE_GENOTYPES
from .executors import build_executor
from .jobs import run_job_list
from .fidelity import Fidelity, measure_fidelity
from .rewards import RewardSpec, build_reward
from .proxy_task import (DEFAULT_REFERENCE, PROXY_ONLY, REFERENCE_FIELDS, TRAINED_FIELDS,
                         ProxySettings, proxy_options)
from .runner import described
from .store import CalibrationStore
from .settings import SPACE_SHAPE, CalibrationSettings, ExecutorSettings
from .space import SearchSpace
from .trials import REWARD, TrialLog, read_json_lines
from .worker import TrialResult, TrialTask, adopt_reward

if TYPE_CHECKING:
    from .tuning import Tuning

REUSED = "reused from"  # the worker of a training copied from --reference-from
SCHEDULES = ("proxy", "reference")
BUNDLED = REFERENCE_GENOTYPES
MIN_ARCHITECTURES = 3


@dataclass(frozen=True)
class Architecture:
    """One calibrated architecture: ``kind`` is bundled, given (a file), sampled or poor;
    ``genotype`` its DSL text."""

    name: str
    kind: str
    genotype: str

    @property
    def key(self) -> str:
        return hashlib.sha256(self.genotype.encode()).hexdigest()[:16]


def coarse_only_decisions(space: SearchSpace, rng: np.random.Generator) -> tuple[int, ...]:
    """A deliberately poor pyramid: every cell reads only the two coarsest inputs and earlier
    cells, so the fine levels reach the outputs only through the residual rule."""
    coarse = set(range(space.num_inputs - 2, space.num_inputs))
    decisions: list[int] = []
    for step in range(space.num_decisions):
        choices = space.valid_choices(step, decisions)
        if step % 4 in (0, 1):
            choices = [c for c in choices if c in coarse or c >= space.num_inputs]
        decisions.append(choices[int(rng.integers(len(choices)))])
    return space.check(decisions)


def choose_architectures(space: SearchSpace, bundled: tuple[str, ...], sampled: int, poor: int,
                         seed: int) -> list[Architecture]:
    """The bundled genotypes, then ``sampled`` uniform samples, then ``poor`` coarse-only ones;
    the same ``seed`` gives the same set. Duplicates (by canonical form) are drawn again."""
    from ..genotype import bundled_names, format_genotype, load_genotype

    chosen: list[Architecture] = []
    seen: set[str] = set()
    for name in bundled:
        genotype = load_genotype(name)
        text = format_genotype(genotype)
        kind = "bundled" if name in bundled_names() else "given"  # else a file
        chosen.append(Architecture(genotype.name or Path(name).stem, kind, text))
        seen.add(text)
    rng = np.random.default_rng([seed, 8])
    for kind, count, draw in (("sampled", sampled, space.sample),
                              ("poor", poor, lambda r: coarse_only_decisions(space, r))):
        for index in range(1, count + 1):
            for _ in range(1000):
                decisions = draw(rng)
                if space.hash(decisions) not in seen:
                    break
            else:
                raise SearchError(f"calibrate: cannot draw {count} distinct {kind} architectures")
            seen.add(space.hash(decisions))
            name = f"{kind}{index}"
            text = format_genotype(space.to_genotype(space.canonical(decisions), name=name))
            chosen.append(Architecture(name, kind, text))
    names = [arch.name for arch in chosen]
    if len(set(names)) != len(names):
        raise UsageError(f"--architectures: a name appears twice in {', '.join(names)}")
    if len(chosen) < MIN_ARCHITECTURES:
        raise UsageError(f"calibrate needs at least {MIN_ARCHITECTURES} architectures to rank, "
                         f"got {len(chosen)}",
                         hint="add --architectures, --sampled or --poor")
    return chosen


def decided_numerics(options: dict[str, Any], device: str) -> dict[str, Any]:
    """``options`` with an ``auto`` amp or channels_last decided for ``device`` ("on" or
    "off", :func:`~nasfpn_cli.engine.precision.resolved_modes`); the rest as given."""
    auto = [name for name in ("amp", "channels_last") if options.get(name) == "auto"]
    if not auto:
        return dict(options)
    from ..engine.distributed import resolve_device
    from ..engine.precision import resolved_modes

    decided = dict(zip(("amp", "channels_last"), resolved_modes(
        options.get("amp", "off"), options.get("channels_last", "off"), resolve_device(device))))
    return {**options, **{name: decided[name] for name in auto}}


def reference_flag(name: str, value: Any) -> str:
    """How a user sets reference setting ``name`` to ``value``: its ``--reference-*`` option,
    or for a setting the reference takes from the proxy, the ``--proxy-*`` one."""
    from ..engine.config import TrainConfig
    from ..settings import meta_of

    meta = meta_of(TrainConfig if name in TRAINED_FIELDS else ProxySettings, name)
    if not meta.cli:
        return f"{name} {value} (no option sets it)"
    flag = meta.flag_name(name, "reference-" if name in REFERENCE_FIELDS else "proxy-")
    if isinstance(value, bool) and not meta.switch:
        return flag if value else f"no {flag}"
    return f"{flag} {value}"


def _epochs_trained(settings: ProxySettings) -> int:
    """The epochs a schedule trains: up to its stop epoch, when it has one."""
    return min(settings.epochs, settings.stop_epoch or settings.epochs)


def numerics_line(config: "CalibrationConfig") -> str:
    """What calibrate prints first: the numerics each schedule trains in, as its plan records
    them (the reference's: train's defaults unless --reference-amp/--reference-channels-last)."""
    from ..engine.distributed import resolve_device
    from ..engine.precision import resolved

    def numerics(schedule: str) -> str:
        settings = config.schedule(schedule)
        done = resolved(settings.amp, settings.channels_last, resolve_device(settings.device))
        return done["precision"] + (", channels_last" if done["channels_last"] else "")

    return (f"numerics: proxy {numerics('proxy')}, reference {numerics('reference')} (as "
            "plan.json records them)")


def training_work(settings: ProxySettings) -> float:
    """Images x pixels a schedule trains on, for comparing schedules on the same data."""
    images = 1 if settings.uses_real_data else settings.synth_images
    return _epochs_trained(settings) * images * settings.image_size ** 2


def _describe(settings: ProxySettings) -> str:
    images = "all" if settings.uses_real_data else str(settings.synth_images)
    return f"{_epochs_trained(settings)} epochs x {images} images at {settings.image_size} px"


@dataclass
class CalibrationConfig:
    """One calibration. Everything but ``output_dir`` and where it runs is fixed for OUT."""

    output_dir: Path
    proxy: dict[str, Any] = field(default_factory=dict)  # ProxySettings fields given
    reference: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_REFERENCE))
    bundled: tuple[str, ...] = BUNDLED
    sampled: int = CalibrationSettings.sampled  # defaults: the declared options'
    poor: int = CalibrationSettings.poor
    seeds: int = CalibrationSettings.seeds
    seed: int = CalibrationSettings.seed
    space: SearchSpace = field(default_factory=SearchSpace)
    top_k: int = CalibrationSettings.top_k
    workers: int = ExecutorSettings.workers
    executor: str = ExecutorSettings.executor
    address: str | None = None
    threads: int | None = None  # torch threads per local training (None: cores // workers)
    # earlier calibrations whose matching trainings are copied, not run (:mod:`.reuse`)
    reference_from: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # "auto" numerics decided now, on this machine: the plan records what the trainings run
        # (and a training reused from it matches on that), wherever they run later
        device = self.proxy.get("device", "auto")
        self.proxy = decided_numerics(self.proxy, device)
        self.reference = decided_numerics(self.reference, device)

    def settings(self, schedule: str) -> dict[str, Any]:
        """The reward options of a schedule: the proxy's, and the reference's on top of them
        (never the proxy's truncation: a reference training runs its whole schedule)."""
        if schedule == "proxy":
            return dict(self.proxy)
        return {**{key: value for key, value in self.proxy.items() if key not in PROXY_ONLY},
                **self.reference}

    def schedule(self, schedule: str) -> ProxySettings:
        """The proxy task a schedule trains with (checked: SearchError naming the setting)."""
        return ProxySettings.from_options(self.settings(schedule))

    def reward_options(self, schedule: str) -> dict[str, Any]:
        """What a schedule's trainings run with: its settings, recording the learning curve."""
        return {**self.settings(schedule), "curve": True}

    def identity(self) -> dict[str, Any]:
        return {"proxy": self.proxy, "reference": self.reference, "bundled": list(self.bundled),
                "sampled": self.sampled, "poor": self.poor, "seeds": self.seeds,
                "seed": self.seed, "space": self.space.to_dict(), "top_k": self.top_k}

    @classmethod
    def from_identity(cls, output_dir: Path, data: dict[str, Any], **rest: Any
                      ) -> "CalibrationConfig":
        """The calibration plan.json describes, each value checked first (:data:`PLAN_SHAPE`)."""
        check_record(data, PLAN_SHAPE, tuple(PLAN_SHAPE), f"{CalibrationStore(output_dir).plan}",
                     SearchError)
        return cls(output_dir, dict(data["proxy"]), dict(data["reference"]),
                   tuple(data["bundled"]), int(data["sampled"]), int(data["poor"]),
                   int(data["seeds"]), int(data["seed"]), SearchSpace.from_dict(data["space"]),
                   int(data["top_k"]), **rest)

    def check(self) -> None:
        """Usage errors (exit 2) before anything is written."""
        if self.seeds < 1:
            raise UsageError(f"--seeds must be at least 1, got {self.seeds}")
        unknown = sorted(set(self.reference) - set(REFERENCE_FIELDS))
        if unknown:
            raise UsageError(f"reference schedule: unknown setting(s) {', '.join(unknown)}")
        proxy = self.schedule("proxy")
        reference = self.schedule("reference")
        if training_work(reference) <= training_work(proxy):
            raise UsageError(
                f"the reference schedule is no longer than the proxy: {_describe(reference)} "
                f"against the proxy's {_describe(proxy)}",
                hint="raise --reference-epochs, --reference-images or --reference-image-size")


# plan.json as read back: counts held to the limits of their options (the proxy and reference
# settings are checked by the rewards that take them)
PLAN_SHAPE: dict[str, Check] = {
    "proxy": nested({}), "reference": nested({}),
    "bundled": list_of(text, "genotype names"),
    **{name: declared_check(CalibrationSettings, name)
       for name in ("sampled", "poor", "seeds", "seed", "top_k")},
    "space": nested(SPACE_SHAPE, tuple(SPACE_SHAPE)),
}


@dataclass
class TrainingRecord:
    """One finished training of one architecture under one schedule and seed."""

    architecture: str
    schedule: str
    seed_index: int
    seed: int
    score: float
    seconds: float
    worker: str
    error: str | None = None
    finished_at: float = 0.0
    curve: dict[str, list[float]] | None = None  # metric -> score after each epoch

    @property
    def job(self) -> tuple[str, str, int]:
        return self.architecture, self.schedule, self.seed_index

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainingRecord":
        """A record from its checked JSON object (see :data:`TRAINING_SHAPE`)."""
        return cls(**{key: data[key] for key in TRAINING_SHAPE if key in data})


# each field of a training record as read back; a curve maps a metric to its score by epoch
TRAINING_SHAPE: dict[str, Check] = {
    "architecture": text, "schedule": text, "seed_index": whole(), "seed": whole(),
    "score": REWARD, "seconds": finite(0), "worker": text, "error": optional(text),
    "finished_at": finite(0),
    "curve": optional(mapping_of(list_of(finite(), "finite numbers"), "lists by metric")),
}
TRAINING_REQUIRED = ("architecture", "schedule", "seed_index", "seed", "score", "seconds",
                     "worker")


def read_trainings(path: Path, repair: bool = False) -> list[TrainingRecord]:
    """The finished trainings, each checked (finite score and seconds, a job recorded once);
    SearchError naming the file and line of the first that is not."""
    records: list[TrainingRecord] = []
    lines: dict[tuple[str, str, int], int] = {}
    for number, data in read_json_lines(path, repair, "training record"):
        record = TrainingRecord.from_dict(check_record(data, TRAINING_SHAPE, TRAINING_REQUIRED,
                                                       f"{path}:{number}", SearchError))
        if record.job in lines:
            raise SearchError(f"{path}:{number}: the training {record.job} is recorded again "
                              f"(first on line {lines[record.job]})",
                              hint="the file was edited or damaged; keep one of the two lines")
        lines[record.job] = number
        records.append(record)
    return records


def training_seed(seed: int, seed_index: int, arch: Architecture) -> int:
    """One seed per (calibration seed, seed index, architecture), shared by both schedules."""
    text = f"{seed}:{seed_index}:{arch.key}"
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


@dataclass(frozen=True)
class Job:
    arch: Architecture
    schedule: str
    seed_index: int

    @property
    def key(self) -> tuple[str, str, int]:
        return self.arch.name, self.schedule, self.seed_index


@dataclass
class ArchitectureResult:
    name: str
    kind: str
    genotype: str
    neck_macs: int | None
    scores: dict[str, list[float]]  # schedule -> score per seed index

    def mean(self, schedule: str) -> float:
        return float(np.mean(self.scores[schedule]))

    def std(self, schedule: str) -> float:
        values = self.scores[schedule]
        return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


@dataclass
class CalibrationResult:
    architectures: list[ArchitectureResult]
    fidelity: Fidelity
    seconds_per_training: dict[str, float]  # schedule -> mean seconds
    settings: dict[str, dict[str, Any]]  # schedule -> ProxySettings as a dict
    errors: list[str]
    reused: int = 0  # trainings copied from earlier calibrations (--reference-from)

    def to_dict(self) -> dict[str, Any]:
        return {"architectures": [asdict(arch) for arch in self.architectures],
                "fidelity": self.fidelity.to_dict(),
                "seconds_per_training": self.seconds_per_training,
                "settings": self.settings, "errors": self.errors,
                "reused_trainings": self.reused}


class Calibration:
    """A calibration in progress; see the module docstring. Use :func:`run_calibration`."""

    def __init__(self, config: CalibrationConfig, resume: bool = False, prepare: bool = True):
        config.check()
        out = Path(config.output_dir)
        self.out, self.config = out, config
        self.store = store = CalibrationStore(out)
        if resume:
            stored = load_plan(out)
            if stored != json.loads(json.dumps(config.identity())):
                raise UsageError(f"{out}: --resume with other settings than the calibration there",
                                 hint=f"resume with the stored settings (see {store.plan})")
        elif store.trainings.exists():
            raise UsageError(f"{out}: a calibration already lives here",
                             hint="pass --resume to continue it, or choose another --output-dir")
        self.architectures = choose_architectures(config.space, config.bundled, config.sampled,
                                                  config.poor, config.seed)
        self.rewards = {schedule: RewardSpec("proxy", options=config.reward_options(schedule))
                        for schedule in SCHEDULES}
        for schedule, spec in self.rewards.items():  # bad data fails before any training
            if not prepare:
                break
            reward = build_reward(spec, config.space, store.schedule_folder(schedule))
            reward.prepare()
            adopt_reward(config.space, spec, store.schedule_folder(schedule), reward)  # inline trials reuse it
        if not resume:
            out.mkdir(parents=True, exist_ok=True)
            store.write_json("plan", config.identity())
        self.records = read_trainings(store.trainings, repair=True) if resume else []
        self.jobs = self._jobs()
        known = {job.key for job in self.jobs}
        strangers = [record.job for record in self.records if record.job not in known]
        if strangers:
            raise SearchError(f"{store.trainings}: trainings {strangers[:3]} are not in the "
                              "plan", hint="the files do not belong together")

    def _jobs(self) -> list[Job]:
        """Every training, longest first (the reference runs), so the last ones are short."""
        return [Job(arch, schedule, seed_index) for schedule in reversed(SCHEDULES)
                for seed_index in range(self.config.seeds) for arch in self.architectures]

    def _task(self, job: Job, number: int) -> TrialTask:
        """The trial of a training, numbered ``number`` for :func:`.jobs.run_job_list`."""
        return TrialTask(number, (), job.arch.key,
                         training_seed(self.config.seed, job.seed_index, job.arch),
                         self.config.space.to_dict(), self.rewards[job.schedule].to_dict(),
                         str(self.store.schedule_folder(job.schedule)), genotype=job.arch.genotype)

    def run(self, progress: bool = True, warn: Callable[[str], None] = lambda line: None
            ) -> CalibrationResult:
        """Every training not recorded yet (copied where ``--reference-from`` has it); ``warn``
        hears, before any training, of a schedule it could copy nothing of (:meth:`misses`)."""
        done = {record.job for record in self.records}
        todo = [job for job in self.jobs if job.key not in done]
        log = TrialLog(self.store.trainings)
        config = self.config
        try:
            copies = self._reused(todo)
            for line in self.misses(todo, copies):
                warn(line)
            for record in copies:
                log.append(record)
                self.records.append(record)
                done.add(record.job)
            todo = [job for job in todo if job.key not in done]
            with ProgressTask("calibrate", len(self.jobs), progress, completed=len(done)) as bar, \
                    build_executor(config.executor, config.workers, config.address,
                                   config.threads) as executor:

                def finished(job: Job, result: TrialResult) -> None:
                    log.append(self._record(job, result))
                    bar.update(advance=1, status=f"{job.arch.name} {job.schedule} "
                                                 f"seed {job.seed_index}")

                run_job_list(executor, todo, self._task, finished)
        finally:
            log.close()
        return self.summarize()

    def _reused(self, jobs: list[Job]) -> list[TrainingRecord]:
        """Copies of the trainings ``--reference-from`` recorded for these jobs (same schedule
        settings, data and architecture; see :mod:`.reuse`)."""
        if not self.config.reference_from:
            return []
        from .reuse import RecordedTrainings, structure_key

        for folder in self.config.reference_from:
            if Path(folder).resolve() == self.out.resolve():
                raise UsageError(f"--reference-from {folder}: the calibration's own folder")
        recorded = RecordedTrainings()
        for folder in map(Path, self.config.reference_from):
            earlier = resumed_config(folder)
            structures = {arch.name: structure_key(arch.genotype) for arch in choose_architectures(
                earlier.space, earlier.bundled, earlier.sampled, earlier.poor, earlier.seed)}
            recorded.add(folder, read_trainings(CalibrationStore(folder).trainings),
                         _fingerprints(earlier), structures)
        fingerprints = _fingerprints(self.config)
        copies = []
        for job in jobs:
            found = recorded.find(fingerprints[job.schedule], structure_key(job.arch.genotype),
                                  job.seed_index)
            if found is not None:
                record, folder = found
                copies.append(TrainingRecord(
                    job.arch.name, job.schedule, job.seed_index, record.seed, record.score,
                    record.seconds, f"{REUSED} {folder}", None, record.finished_at,
                    record.curve))
        return copies

    def misses(self, jobs: list[Job], copies: list[TrainingRecord]) -> list[str]:
        """Why ``--reference-from`` copied none of the reference ``jobs``: per folder, the
        settings in which its reference schedule differs from this plan's (e.g. the reference
        follows ``--proxy-image-size`` unless ``--reference-image-size`` is given), so a user who
        meant to reuse it learns so before hours of training, not after. (A proxy of other
        settings than the folder's is what such a run is for: not said.)"""
        from .reuse import NOT_TRAINING

        if any(record.schedule == "reference" for record in copies) or not any(
                job.schedule == "reference" for job in jobs):
            return []
        ours = self.config.schedule("reference").to_dict()
        lines = []
        for folder in self.config.reference_from:
            theirs = resumed_config(Path(folder)).schedule("reference").to_dict()
            differ = [name for name in ours if name not in NOT_TRAINING
                      and ours[name] != theirs.get(name)]
            if differ:
                flags = ", ".join(reference_flag(name, theirs.get(name)) for name in differ)
                lines.append(f"--reference-from {folder}: none of its reference trainings can "
                             "be copied, the reference schedule differs: " + ", ".join(
                                 f"{name} {ours[name]} here, {theirs.get(name)} there"
                                 for name in differ) + f" (to reuse them: {flags})")
        return lines

    def _record(self, job: Job, result: TrialResult) -> TrainingRecord:
        if result.fatal:
            raise SearchError(f"training of {job.arch.name} ({job.schedule}, seed "
                              f"{job.seed_index}) failed: {result.fatal}",
                              hint="fix the cause and rerun with --resume")
        record = TrainingRecord(job.arch.name, job.schedule, job.seed_index,
                                training_seed(self.config.seed, job.seed_index, job.arch),
                                result.reward, round(result.seconds, 3), result.worker,
                                result.error, round(time.time(), 3), result.curve)
        self.records.append(record)
        return record

    def summarize(self) -> CalibrationResult:
        """Compare both sides over the finished trainings; write calibration.json and the plot."""
        by_job = {record.job: record for record in self.records}
        missing = [job.key for job in self.jobs if job.key not in by_job]
        if missing:
            raise SearchError(f"{self.out}: {len(missing)} trainings have not finished",
                              hint="rerun with --resume")
        tables = {schedule: self.score_table(schedule) for schedule in SCHEDULES}
        results = [ArchitectureResult(arch.name, arch.kind, arch.genotype, self._neck_macs(arch),
                                      {schedule: tables[schedule][index].tolist()
                                       for schedule in SCHEDULES})
                   for index, arch in enumerate(self.architectures)]
        fidelity = measure_fidelity(tables["proxy"], tables["reference"],
                                    top_k=self.config.top_k, seed=self.config.seed)
        seconds = self.seconds_per_training()
        settings = {schedule: self.config.schedule(schedule).to_dict()
                    for schedule in SCHEDULES}
        errors = [f"{r.architecture} ({r.schedule}, seed {r.seed_index}): {r.error}"
                  for r in self.records if r.error]
        reused = sum(record.worker.startswith(REUSED) for record in self.records)
        result = CalibrationResult(results, fidelity, seconds, settings, errors, reused)
        self.store.write_json("result", result.to_dict())
        write_scatter(result, self.store.plot)
        return result

    def score_table(self, schedule: str) -> np.ndarray:
        """One schedule's final scores of the finished trainings, [architectures, seeds]."""
        by_job = {record.job: record.score for record in self.records}
        return np.array([[by_job[(arch.name, schedule, seed)] for seed in range(self.config.seeds)]
                         for arch in self.architectures])

    def seconds_per_training(self) -> dict[str, float]:
        """Mean seconds of one finished training, per schedule."""
        return {schedule: float(np.mean([r.seconds for r in self.records
                                         if r.schedule == schedule])) for schedule in SCHEDULES}

    def curves(self) -> dict[str, np.ndarray]:
        """Every schedule's learning curves as [architectures, seeds, metrics, epochs]
        (metrics in :data:`~.tuning.CURVE_ORDER`); SearchError when a training kept none."""
        from .tuning import CURVE_ORDER

        by_job = {record.job: record for record in self.records}
        tables = {}
        for schedule in SCHEDULES:
            rows = []
            for arch in self.architectures:
                seeds = []
                for seed_index in range(self.config.seeds):
                    record = by_job.get((arch.name, schedule, seed_index))
                    if record is None:
                        raise SearchError(f"{self.out}: the {schedule} training of {arch.name} "
                                          f"(seed {seed_index}) has not finished",
                                          hint="finish the calibration with --resume first")
                    seeds.append(self._curve_of(record, CURVE_ORDER))
                rows.append(seeds)
            lengths = {len(curve[0]) for seeds in rows for curve in seeds}
            if len(lengths) != 1:
                raise SearchError(f"{self.store.trainings}: the {schedule} curves have "
                                  f"different lengths {sorted(lengths)}")
            tables[schedule] = np.array(rows, dtype=float)
        return tables

    def _curve_of(self, record: TrainingRecord, metrics: tuple[str, ...]) -> list[list[float]]:
        if record.error:  # a diverged training scores 0 at every epoch of its schedule
            epochs = self.config.schedule(record.schedule).epochs
            return [[0.0] * int(epochs) for _ in metrics]
        if not record.curve or any(name not in record.curve for name in metrics):
            raise SearchError(f"{self.store.trainings}: the {record.schedule} training of "
                              f"{record.architecture} kept no learning curve",
                              hint="calibrations recorded before curves were kept cannot be "
                                   "tuned; run a new one")
        return [record.curve[name] for name in metrics]

    def ladder(self, ladder_from: tuple[str, ...] = ()) -> list:
        """The candidate proxies the recorded curves give (with the proxy rungs of the
        calibrations in ``ladder_from``), cheapest first, each with its scores."""
        from .tuning import build_ladder

        seconds = self.seconds_per_training()
        settings = {schedule: proxy_options(self.config.schedule(schedule)) for schedule in SCHEDULES}
        ladder = build_ladder(self.curves(), settings, seconds)
        for folder in ladder_from:
            ladder += self._rungs_of(Path(folder), seconds["reference"])
        return sorted(ladder, key=lambda rung: rung.cost)

    def tuning(self, target: float, ladder_from: tuple[str, ...] = (), **rule: Any) -> "Tuning":
        """The proxy ladder (:meth:`ladder`) judged and one rung chosen (:func:`.tuning.tune`,
        ``rule`` its keyword options), checked against the proxy calibrated here; writes
        nothing."""
        from .tuning import tune

        names = [arch.name for arch in self.architectures]
        return tune(names, self.score_table("reference"), self.ladder(ladder_from),
                    target=target, top_k=self.config.top_k, seed=self.config.seed,
                    default=self.default_rung(), **rule)

    def default_rung(self):
        """The proxy calibrated here as a rung of the ladder: its settings, its recorded
        scores and its cost."""
        from .tuning import Rung

        seconds = self.seconds_per_training()
        proxy = self.config.schedule("proxy")
        return Rung(f"proxy as calibrated, {proxy.score}", proxy_options(proxy),
                    seconds["proxy"] / seconds["reference"], self.score_table("proxy"))

    def _rungs_of(self, folder: Path, reference_seconds: float) -> list:
        """The proxy rungs of another finished calibration of the same architectures, seeds and
        reference schedule (``--ladder-from``: a proxy of other epochs, images or image size),
        named after its folder; SearchError naming what differs."""
        import dataclasses

        from .reuse import structure_key
        from .tuning import build_ladder

        where = f"--ladder-from {folder}"
        try:
            other = Calibration(resumed_config(folder), resume=True, prepare=False)
        except (SearchError, UsageError) as exc:
            raise type(exc)(f"--ladder-from: {exc}", hint=getattr(exc, "hint", None)) from None
        if [(a.name, structure_key(a.genotype)) for a in other.architectures] != \
                [(a.name, structure_key(a.genotype)) for a in self.architectures]:
            raise SearchError(f"{where}: it calibrated other architectures than {self.out}",
                              hint="calibrate the same plan with another proxy, reusing the "
                                   f"reference trainings: --reference-from {self.out}")
        if other.config.seeds != self.config.seeds:
            raise SearchError(f"{where}: {other.config.seeds} seeds, {self.out} has "
                              f"{self.config.seeds}")
        if _fingerprints(other.config)["reference"] != _fingerprints(self.config)["reference"]:
            raise SearchError(f"{where}: its reference schedule or data differ from {self.out}'s")
        settings = {"proxy": proxy_options(other.config.schedule("proxy"))}
        seconds = {"proxy": other.seconds_per_training()["proxy"], "reference": reference_seconds}
        return [dataclasses.replace(rung, name=f"{folder.name}: {rung.name}")
                for rung in build_ladder({"proxy": other.curves()["proxy"]}, settings, seconds)]

    def tune(self, target: float, ladder_from: tuple[str, ...] = ()) -> "Tuning":
        """Choose the cheapest proxy on the recorded curves (:meth:`tuning`); writes
        tuning.json, tuning.png and proxy.toml (when a rung reaches the target)."""
        from .tuning import proxy_toml, tuning_comment, write_tuning_plot

        reference_score = self.config.schedule("reference").score
        result = self.tuning(target, ladder_from)
        self.store.write_json("tuning", {**result.to_dict(), "reference_score": reference_score,
                                         "ladder_from": list(ladder_from)})
        write_tuning_plot(result, self.store.tuning_plot)
        if result.chosen is not None:
            self.store.write_text("proxy_config", proxy_toml(
                result.chosen.settings, tuning_comment(result, self.out)))
        return result

    def _neck_macs(self, arch: Architecture) -> int:
        """Neck multiply-adds at the proxy's channels, stack and image size."""
        from ..genotype import parse_genotype
        from .cost import neck_macs

        return neck_macs(parse_genotype(arch.genotype, arch.name),
                         self.config.schedule("proxy").config)


def _fingerprints(config: CalibrationConfig) -> dict[str, str]:
    """What each schedule of ``config`` trains, as :func:`.reuse.schedule_fingerprint`."""
    from .reuse import schedule_fingerprint

    return {schedule: schedule_fingerprint(config.settings(schedule)) for schedule in SCHEDULES}


def write_scatter(result: CalibrationResult, path: Path) -> Path:
    """Proxy mean against reference mean per architecture, seed std as error bars, named."""
    from ..engine.plotting import new_figure, save_figure

    fig, ax = new_figure()
    colours = {"bundled": "tab:blue", "given": "tab:green", "sampled": "tab:orange",
               "poor": "tab:red"}
    for arch in result.architectures:
        ax.errorbar(arch.mean("proxy"), arch.mean("reference"), xerr=arch.std("proxy"),
                    yerr=arch.std("reference"), fmt="o", capsize=3,
                    color=colours.get(arch.kind, "tab:grey"))
        ax.annotate(chart_text(arch.name), (arch.mean("proxy"), arch.mean("reference")),
                    textcoords="offset points", xytext=(4, 4), fontsize=8)
    for kind, colour in colours.items():
        ax.plot([], [], "o", color=colour, label=kind)
    fidelity = result.fidelity
    ax.set(xlabel="proxy score (mean over seeds)", ylabel="reference score (mean over seeds)",
           title=f"Kendall tau {fidelity.kendall_tau.text()}, Spearman rho "
                 f"{fidelity.spearman_rho.text()}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return save_figure(fig, path)


def load_plan(output_dir: Path) -> dict[str, Any]:
    return CalibrationStore(output_dir).read_json("plan")


def run_calibration(config: CalibrationConfig, resume: bool = False,
                    progress: bool = True, warn: Callable[[str], None] = lambda line: None
                    ) -> CalibrationResult:
    """Run (or finish) a calibration, holding OUT's lock (:func:`folder_lock`) throughout; see
    the module docstring."""
    import torch

    threads = torch.get_num_threads()
    try:
        with folder_lock(config.output_dir):
            return Calibration(config, resume).run(progress, warn)
    finally:
        torch.set_num_threads(threads)


def tune_calibration(output_dir: Path, target: float, ladder_from: tuple[str, ...] = ()
                     ) -> "Tuning":
    """Tune a proxy on the finished calibration in ``output_dir`` (nothing is trained), its
    ladder extended by the proxies of the calibrations in ``ladder_from``."""
    from .tuning import check_target

    check_target(target)
    calibration = Calibration(resumed_config(output_dir), resume=True, prepare=False)
    return calibration.tune(target, ladder_from)


def resumed_config(output_dir: Path, **where: Any) -> CalibrationConfig:
    """The stored calibration of ``output_dir``, to run with ``where`` (workers, executor...)."""
    plan = load_plan(output_dir)
    return described(Path(output_dir), lambda: CalibrationConfig.from_identity(
        Path(output_dir), plan, **where), CalibrationStore.FILES["plan"], "calibration plan")
