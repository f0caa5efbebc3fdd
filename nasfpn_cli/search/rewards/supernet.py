"""``supernet``: one-shot scores from a weight-sharing supernet trained once per search data.

``prepare()`` (once, in the main process) writes and checks the proxy's data as the ``proxy``
reward does, then trains the supernet on it (:mod:`nasfpn_cli.search.supernet.training`) or
reuses ``OUT/supernet.pt`` (or the file given as ``path``) when one trained for the same space,
data and model is there; an unfinished one is resumed. Both spaces are covered: the paper's
(:mod:`nasfpn_cli.search.supernet.model`) and the anchored one, with its variable number of
2- and 3-input cells (:mod:`nasfpn_cli.search.supernet.anchored_neck`). ``score()`` selects the candidate's
path, re-estimates its norms' statistics on a few training batches and scores it on the
validation split (:mod:`nasfpn_cli.search.supernet.scoring`): no training per candidate.

The model, data and solver are the proxy's (``--proxy-*``, one :class:`ProxyTask`); the
supernet's own settings (:class:`SupernetSettings`) are its ``--supernet-*`` flags, stored as
reward options ``supernet_<field>`` (search.json), or the reward's argument:
``--reward supernet:steps=2000,recalibrate=8,path=S.pt``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import SearchError
from ...limits import MAX_SEED
from ...settings import check_declared, declared, parse_assignment, setting
from ..anchored import AnchoredSpace
from ..space import SearchSpace
from ..supernet import (ANCHORED_DEFAULTS, ANCHORED_NORM_SCOPES, NORM_SCOPES, PAPER_DEFAULTS,
                        SAMPLINGS, SPLITS, all_norm_scopes)
from ..proxy_task import SCORES, ProxySettings, ProxyTask
from ..store import SearchStore
from . import Candidate, Reward, RewardSpec, register_reward

OPTION_PREFIX = "supernet_"  # reward options of these settings: supernet_steps, ...
# settings a reused file decides when not given (the others must match its identity)
FILE_DECIDES = ("steps", "batch_size", "lr", "seed", "norm_scope", "sampling", "split")


@dataclass(frozen=True)
class SupernetSettings:
    """How the supernet is trained and how it scores; ``given`` names the fields set explicitly
    (the others follow a reused supernet file where :data:`FILE_DECIDES` lets them)."""

    given: tuple[str, ...] = ()
    steps: int = setting(1000, section="supernet", minimum=1,
                         help="Supernet training: optimizer steps, one sampled path each.")
    batch_size: int | None = setting(None, section="supernet", minimum=1,
                                     help="Supernet training batch (default: the proxy's).")
    lr: float | None = setting(None, section="supernet", minimum=0.0, min_open=True,
                               help="Supernet training peak learning rate (default: the "
                                    "proxy's).")
    seed: int = setting(0, section="supernet", minimum=0, maximum=MAX_SEED,
                        help="Supernet training seed (initialisation, data order, paths).")
    norm_scope: str | None = setting(
        None, section="supernet", choices=all_norm_scopes,
        help="Norms after the shared convs: one per output level of a cell position (level), "
             "one per cell position (cell), or, in the anchored space, one per level and "
             "number of merged features of a cell role (inputs). Default: level in the "
             "paper's space, inputs in the anchored space.")
    sampling: str | None = setting(
        None, section="supernet", choices=lambda: SAMPLINGS,
        help="Training paths: uniform over the space, or (anchored space) anchors: half "
             "uniform, half a bundled anchor after 0-4 random edits. Default: uniform in the "
             "paper's space, anchors in the anchored space.")
    split: str | None = setting(
        None, section="supernet", choices=lambda: SPLITS,
        help="The neck's weights: one supernet for every pyramid (none), or (anchored space) "
             "one sub-supernet per number of cells (cells, few-shot). Default: none.")
    checkpoint_every: int = setting(100, section="supernet", minimum=1,
                                    help="Supernet training: steps between checkpoints.")
    recalibration_batches: int = setting(4, section="supernet", minimum=0, flag="recalibrate",
                                         help="Training batches that re-estimate a candidate's "
                                              "norm statistics before it is scored (0: none).")
    # the validation loss ranked better than AP50 on the K = 16 shapes table at both supernet
    # seeds (paired +0.15 and +0.21) and as well on the digits (+0.10, -0.05), in about half the
    # time per candidate (benchmarks/cheap_scores.py, docs/search.md)
    score: str = setting("loss", section="supernet", choices=lambda: tuple(SCORES),
                         help="What scores a candidate on the validation split (loss: "
                              "1 / (1 + validation loss)).")
    path: str | None = setting(None, section="supernet", path="file",
                               help="The supernet file (default: OUT/supernet.pt).")

    @classmethod
    def from_options(cls, values: dict[str, Any], argument: str | None = None
                     ) -> "SupernetSettings":
        """From settings by field name (or flag name) and the argument's ``field=value`` list
        (which wins); SearchError naming an unknown or bad setting."""
        known = {item.name: item.name for item, _ in declared(cls)}
        known.update({meta.flag: item.name for item, meta in declared(cls) if meta.flag})
        values = {key: value for key, value in values.items() if value is not None}
        from_argument: set[str] = set()
        for text in (argument or "").split(","):
            if not text.strip():
                continue
            try:
                name, section, value = parse_assignment(text)
            except ValueError as exc:
                raise SearchError(f"--reward supernet:{argument}: {exc}") from None
            if section not in (None, "supernet"):
                raise SearchError(f"--reward supernet: {section}.{name} is not a supernet "
                                  "setting")
            name = known.get(name.replace("-", "_"), name.replace("-", "_"))
            if name in from_argument:
                raise SearchError(f"--reward supernet:{argument}: {name} is set twice")
            if name in values:  # by its --supernet-* flag (or a stored option) and here
                raise SearchError(f"--reward supernet:{argument}: {name} is also given as "
                                  f"--supernet-{name.replace('_', '-')}",
                                  hint="give each setting once")
            from_argument.add(name)
            values[name] = value
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise SearchError(f"--reward supernet: unknown setting {unknown[0]!r}; known: "
                              f"{', '.join(sorted(known))}")
        values = {known[name]: value for name, value in values.items()}
        settings = cls(given=tuple(sorted(values)), **values)
        check_declared(settings, lambda name, message: SearchError(
            f"--reward supernet: {name} {message}"))
        return settings

    def with_argument(self, argument: str | None) -> "SupernetSettings":
        """These settings with the reward argument's ``field=value`` list on top."""
        if not argument:
            return self
        return self.from_options({name: getattr(self, name) for name in self.given}, argument)


class SupernetReward(Reward):
    """Scores candidates with the supernet's inherited weights; the proxy task's data, model
    and ``cost`` (neck MACs as the proxy builds the model). Takes no budget."""

    def __init__(self, proxy: ProxySettings, settings: SupernetSettings,
                 space: SearchSpace | AnchoredSpace, output_dir: Path):
        self.task = ProxyTask(proxy, output_dir)
        self.supernet_settings = settings
        self.space = space
        self.path = Path(settings.path) if settings.path else SearchStore(output_dir).supernet
        self._detector = None  # the trained supernet, loaded once per process
        self._run = None
        self._recalibration: list | None = None

    def budget_range(self) -> None:
        return None

    def cost(self, genotype) -> int:
        return self.task.cost(genotype)

    def training_run(self, stored: dict[str, Any] | None = None):
        """The training this search expects; settings not given follow ``stored`` (a file's
        identity) where :data:`FILE_DECIDES` allows."""
        from ..supernet.training import FORMAT_VERSION, TrainingRun, data_identity

        settings, proxy = self.supernet_settings, self.task.settings
        stored_training = (stored or {}).get("training") or {}
        adopted = {name: stored_training[name] for name in FILE_DECIDES
                   if name not in settings.given and name in stored_training}
        settings = dataclasses.replace(settings, **adopted)
        anchored = isinstance(self.space, AnchoredSpace)
        defaults = ANCHORED_DEFAULTS if anchored else PAPER_DEFAULTS
        settings = dataclasses.replace(settings, **{
            name: value for name, value in defaults.items() if getattr(settings, name) is None})
        config = dataclasses.replace(
            self.task.train_config(settings.seed), seed=settings.seed,
            batch_size=settings.batch_size or proxy.batch_size, lr=settings.lr or proxy.lr)
        identity = {
            "format_version": FORMAT_VERSION,
            "space": self.space.to_dict(),
            "data": data_identity(self.task.data_paths()),
            "model": {name: config.value(name)
                      for name in ("backbone", "stack", "channels", "image_size")},
            "training": {"steps": settings.steps, "batch_size": config.batch_size,
                         "lr": config.lr, "seed": settings.seed,
                         "norm_scope": settings.norm_scope, "warmup": config.warmup,
                         "optimizer": config.optimizer, "weight_decay": config.weight_decay},
        }
        if anchored:  # the paper space's identity stays as files written before this
            identity["training"]["sampling"] = settings.sampling
            if settings.split != "none":  # and so do the anchored supernets without a split
                identity["training"]["split"] = settings.split
        return TrainingRun(self.space, config, settings.steps, settings.checkpoint_every,
                           settings.norm_scope, identity, self.path, settings.sampling,
                           settings.split)

    def prepare(self) -> None:
        """The data (as the proxy writes and checks it), then the supernet: trained, resumed
        or reused."""
        from ...errors import NasfpnError
        from .proxy import proxy_flags

        try:
            self.task.prepare()
        except NasfpnError as exc:  # the engine's hints name train's flags: say the proxy's
            exc.hint = proxy_flags(exc.hint)
            raise
        self._load(train=True)

    def _load(self, train: bool) -> None:
        from ..supernet.training import (check_identity, load_trained, read_supernet,
                                         train_supernet)

        state = read_supernet(self.path) if self.path.is_file() else None
        run = self.training_run(state["identity"] if state is not None else None)
        if state is not None:
            check_identity(self.path, state["identity"], run.identity)
        data = self.task.data()
        done = state is not None and int(state["trainer"]["step"]) >= run.steps
        if done:
            detector = load_trained(run, state, len(data.label_to_category))
        elif train:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            detector = train_supernet(run, data, resume_from=state).eval()
        else:
            step = 0 if state is None else int(state["trainer"]["step"])
            raise SearchError(f"{self.path}: the supernet is trained to step {step} of "
                              f"{run.steps}", hint="the search's prepare() trains it first")
        self._detector, self._run = detector, run

    def _supernet(self):
        if self._detector is None:
            self._load(train=False)
        return self._detector

    def recalibration_batches(self) -> list:
        """The same few training batches (images only) for every candidate of this process."""
        if self._recalibration is None:
            import itertools

            from ...data.coco import build_dataloader

            count = self.supernet_settings.recalibration_batches
            loader = build_dataloader(self.task.data().train, self._run.config.batch_size,
                                      shuffle=True, seed=self._run.config.seed)
            loader.set_epoch(0)
            self._recalibration = [images for images, _ in itertools.islice(loader, count)]
        return self._recalibration

    def final_scorer(self, spec: RewardSpec) -> RewardSpec:
        """Short trainings of the proxy (the same ``--proxy-*`` settings): the supernet's score
        is the same at every seed, so scoring its best again with it would measure nothing."""
        return RewardSpec("proxy", None, {key: value for key, value in spec.options.items()
                                          if not key.startswith(OPTION_PREFIX)}, spec.modules)

    def score(self, candidate: Candidate, budget: int | None = None) -> float:
        from ..supernet.model import supernet_neck
        from ..supernet.scoring import recalibrate_norms

        detector = self._supernet()
        supernet_neck(detector).use(candidate.genotype)
        device = next(detector.parameters()).device
        recalibrate_norms(detector, [images.to(device) for images in
                                     self.recalibration_batches()])
        score = SCORES[self.supernet_settings.score](detector, self.task.data().val, self._run.config)
        return max(0.0, float(score))


@register_reward("supernet", settings=SupernetSettings, uses=("proxy",))
def supernet_reward(argument: str | None, space: SearchSpace | AnchoredSpace,
                    settings: SupernetSettings,
                    proxy: ProxySettings, output_dir: Path) -> SupernetReward:
    settings = settings.with_argument(argument)
    check_space_settings(settings, space)
    return SupernetReward(proxy, settings, space, output_dir)


def check_space_settings(settings: SupernetSettings, space) -> None:
    """SearchError naming a supernet setting the space does not take (the paper's space has
    2-input cells of one count: no ``inputs`` norms, no anchors to sample around)."""
    anchored = isinstance(space, AnchoredSpace)
    scopes = ANCHORED_NORM_SCOPES if anchored else NORM_SCOPES
    kind = "anchored" if anchored else "paper"
    if settings.norm_scope is not None and settings.norm_scope not in scopes:
        raise SearchError(f"--reward supernet: norm_scope {settings.norm_scope!r} is not a scope "
                          f"of --space {kind} (choose {', '.join(scopes)})")
    if not anchored and settings.sampling not in (None, "uniform"):
        raise SearchError(f"--reward supernet: sampling {settings.sampling!r} needs --space "
                          "anchored (the paper's space samples uniformly)")
    if not anchored and settings.split not in (None, "none"):
        raise SearchError(f"--reward supernet: split {settings.split!r} needs --space anchored "
                          "(the paper's space has one number of cells)")
