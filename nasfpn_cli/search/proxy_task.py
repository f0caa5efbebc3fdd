"""The proxy task: a short training of a small detector on the search's data, and its score.

The paper trained every sampled pyramid briefly (ResNet-10, 3 stacks, 512 px, 10 epochs) and
used its AP on a held-out split as the reward. :class:`ProxyTask` does the same through the
training engine (:func:`nasfpn_cli.engine.train`), with every knob a ``--proxy-*`` option
(:class:`ProxySettings`) and smaller defaults. The data is a COCO-format train/validation pair:
by default one generated once in ``OUT/proxy_data`` (``--proxy-data``: real handwritten digits
on photos, or synthetic shapes; see :data:`GENERATED_DATA`), or one of your own
(``--proxy-train-ann``, ``--proxy-train-images``, ``--proxy-val-ann``, ``--proxy-val-images``).
The score is taken on the validation split after the last epoch: COCO AP50 (0-1) by default, or
AP, or ``1 / (1 + validation loss)`` (see :data:`SCORES`).

One task serves every user of the proxy: the ``proxy`` reward (a trial is one :meth:`ProxyTask.
evaluate`), the supernet (its data and model, and its final selection by short trainings) and
the calibration (whose reference schedule is a ProxyTask of other settings).

Trials are cheap to start: each process reads and checks the annotations once and keeps the
decoded images in memory (up to :data:`IMAGE_CACHE_BYTES`), the model is built from the
candidate's Genotype object, and a proxy training writes no files at all.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import DatasetError, SearchError, UsageError
from ..limits import MAX_SEED
from ..settings import OptionSource, check_declared, meta_of, setting
from .rewards import Evaluation
from .store import SearchStore

DATA_PATH_OPTIONS = ("train_ann", "train_images", "val_ann", "val_images")
IMAGE_CACHE_BYTES = 2 * 1024 ** 3  # decoded images kept per process (RGB bytes)


# TrainConfig fields that --proxy-* options set, on top of the "proxy" recipe (their flags,
# types and ranges are train's: one declaration, see commands/search.py)
TRAINED_FIELDS = ("backbone", "stack", "channels", "image_size", "epochs", "batch_size", "lr",
                  "warmup", "device", "amp", "channels_last")
# the proxy's numerics unless given (--proxy-amp, --proxy-channels-last, a proxy.toml): fp32 and
# contiguous, as every calibration measured it, on any hardware. `search calibrate --tune` may
# choose mixed precision per dataset when it ranks as well (docs/search.md); absent from a stored
# plan or search, they mean this.
PROXY_NUMERICS = {"amp": "off", "channels_last": "off"}


@dataclass(frozen=True)
class ProxySettings:
    """The proxy task: the training is the ``proxy`` recipe of
    :class:`~nasfpn_cli.engine.config.TrainConfig` with the ``--proxy-*`` training options
    given on top (``train``; read back as attributes: ``settings.epochs``); the other fields are
    what only the proxy has (its data and what it scores), each declared once for its
    ``--proxy-*`` option."""

    train: dict[str, Any] = field(default_factory=dict)  # TRAINED_FIELDS given
    # what the reward is (ap50: measured, docs/search.md)
    score: str = setting("ap50", section="proxy", choices=lambda: tuple(SCORES),
                         help="The reward: validation AP, AP50, or 1 / (1 + validation loss).")
    # your own dataset (all four paths), or None: --proxy-data generated in OUT/proxy_data
    train_ann: str | None = setting(None, section="proxy", path="file",
                                    help="Your own proxy data (all four paths); default: "
                                         "--proxy-data written in OUT/proxy_data.")
    train_images: str | None = setting(None, section="proxy", path="folder")
    val_ann: str | None = setting(None, section="proxy", path="file",
                                  help="The held-out split that scores the reward.")
    val_images: str | None = setting(None, section="proxy", path="folder")
    # the generated dataset (without real data): a key of GENERATED_DATA, images in all, the
    # part held out for scoring, the seed
    synth_kind: str = setting("digits", section="proxy", flag="data",
                              choices=lambda: tuple(GENERATED_DATA),
                              help="The data a proxy without --proxy-train-ann writes for "
                                   "itself: handwritten digits on photos (real images) or "
                                   "synthetic shapes.")
    synth_images: int = setting(300, section="proxy", flag="images", minimum=8,
                                help="Generated proxy data: images in all (a third held out).")
    synth_val_fraction: float = setting(1 / 3, section="proxy", cli=False, minimum=0.0,
                                        maximum=1.0, min_open=True, max_open=True)
    synth_seed: int = setting(0, section="proxy", flag="data-seed", minimum=0, maximum=MAX_SEED,
                              help="Generated proxy data: seed.")
    # stop after this epoch of the --proxy-epochs schedule (a truncated run: e.g. the reference
    # stopped early, as `search calibrate --tune` may choose); None: run the whole schedule
    stop_epoch: int | None = setting(None, section="proxy", minimum=1,
                                     help="Stop the training after this epoch, its learning rate "
                                          "schedule still planned for --proxy-epochs.")
    # score the curve's last two points extended linearly to the end of the schedule (with
    # stop_epoch: `search calibrate --tune` may choose it)
    extrapolate: bool = setting(False, section="proxy",
                                help="With --proxy-stop-epoch: score the learning curve's last "
                                     "two epochs extended linearly to --proxy-epochs.")
    # evaluate after every epoch and keep the learning curve (calibrations)
    curve: bool = setting(False, section="proxy", cli=False)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "ProxySettings":
        """From reward options (``--proxy-*`` by field name); values are checked as ``nasfpn
        train`` checks them (UsageError naming the option)."""
        known = {f.name for f in dataclasses.fields(cls)} - {"train"}
        given = {key: value for key, value in options.items() if value is not None}
        settings = cls({key: given[key] for key in TRAINED_FIELDS if key in given},
                       **{key: value for key, value in given.items() if key in known})
        check_declared(settings, lambda name, message: SearchError(
            f"{meta_of(cls, name).flag_name(name, 'proxy-')} {message}"))
        settings.config  # noqa: B018 - check the training values now
        problem = settings_problem(
            {name: getattr(settings, name) for name in ("epochs", "stop_epoch", "extrapolate")},
            lambda name: meta_of(type(settings.config) if name in TRAINED_FIELDS else cls,
                                 name).flag_name(name, "proxy-"))
        if problem is not None:
            raise UsageError(problem)
        return settings

    @classmethod
    def option_sources(cls) -> list[OptionSource]:
        """The ``--proxy-*`` flags: ``train``'s declarations of :data:`TRAINED_FIELDS`
        (defaults of the proxy recipe), then the proxy's own settings."""
        defaults = cls()
        return [OptionSource(type(defaults.config), TRAINED_FIELDS, defaults.config, "proxy"),
                OptionSource(cls, None, defaults)]

    @functools.cached_property
    def config(self):
        """The proxy's TrainConfig (without data paths, seed or output folder)."""
        from ..engine.config import TrainConfig

        return TrainConfig.from_recipe("proxy", **{**PROXY_NUMERICS, **self.train})

    def __getattr__(self, name: str) -> Any:
        if name in TRAINED_FIELDS:
            return self.config.value(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """Every setting, the training ones resolved through the recipe."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                  if f.name != "train"}
        return {**{name: getattr(self, name) for name in TRAINED_FIELDS}, **values}

    @property
    def uses_real_data(self) -> bool:
        return any(getattr(self, name) for name in DATA_PATH_OPTIONS)


def settings_problem(values: dict[str, Any], name: Callable[[str], str]) -> str | None:
    """Why proxy settings ``values`` (by field, those known) hold one that would do nothing, or
    None: a stop epoch at or after the last epoch, an extrapolation without a stop epoch of at
    least 2 (it extends the curve's last two epochs). ``name(field)`` says how the user set it."""
    stop, epochs = values.get("stop_epoch"), values.get("epochs")
    if stop is not None and epochs is not None and stop >= epochs:
        return (f"{name('stop_epoch')} {stop} stops nothing: the training ends after "
                f"{name('epochs')} {epochs} epochs anyway")
    if values.get("extrapolate") and "stop_epoch" in values and (stop is None or stop < 2):
        return (f"{name('extrapolate')} applies only with {name('stop_epoch')} 2 or later (it "
                "extends the learning curve's last two epochs)")
    return None


def proxy_options(settings: ProxySettings) -> dict[str, Any]:
    """Every resolved setting that has a ``--proxy-*`` option, by field (a proxy.toml's keys)."""
    return {name: value for name, value in settings.to_dict().items()
            if name in TRAINED_FIELDS or meta_of(ProxySettings, name).cli}


class ProxyTask:
    """The proxy's training on its data: written and checked once (:meth:`prepare`), read once
    per process (:meth:`data`), then trained and scored per genotype (:meth:`evaluate`) without
    a run folder. ``output_dir`` holds the generated data (``output_dir/proxy_data``)."""

    def __init__(self, settings: ProxySettings, output_dir: Path):
        check_declared(settings, lambda name, message: SearchError(
            f"{meta_of(ProxySettings, name).flag_name(name, 'proxy-')} {message}"))
        self.settings = settings
        self.synthetic_dir = SearchStore(output_dir).proxy_data
        self._bundle = None  # the datasets, opened on the first training of this process

    def data_paths(self) -> dict[str, str]:
        settings = self.settings
        if settings.uses_real_data:
            missing = [f"--proxy-{name.replace('_', '-')}" for name in DATA_PATH_OPTIONS
                       if not getattr(settings, name)]
            if missing:
                raise SearchError("real proxy data needs all four paths; missing "
                                  + ", ".join(missing))
            return {name: str(getattr(settings, name)) for name in DATA_PATH_OPTIONS}
        root = self.synthetic_dir
        return {"train_ann": str(root / "annotations" / "instances_train2017.json"),
                "train_images": str(root / "train2017"),
                "val_ann": str(root / "annotations" / "instances_val2017.json"),
                "val_images": str(root / "val2017")}

    def prepare(self) -> None:
        """Write the synthetic dataset once (kept for later searches), then check the data (the
        same checks as ``nasfpn train``: a bad file is refused before the first training)."""
        from ..data.coco import resolve_data_paths

        settings = self.settings
        paths = self.data_paths()
        if not settings.uses_real_data and not Path(paths["val_ann"]).is_file():
            GENERATED_DATA[settings.synth_kind](
                self.synthetic_dir, settings.synth_images, settings.image_size,
                settings.synth_seed, settings.synth_val_fraction)
        try:
            resolve_data_paths(None, paths["train_ann"], paths["train_images"], paths["val_ann"],
                               paths["val_images"])
            self.data()
        except DatasetError as exc:
            raise SearchError(f"proxy data: {exc}", hint=exc.hint) from exc

    def cost(self, genotype) -> int:
        """Neck multiply-adds per image of the proxy's model with this pyramid."""
        from .cost import neck_macs

        return neck_macs(genotype, self.settings.config)

    def evaluate(self, genotype, seed: int, budget: int | None = None) -> Evaluation:
        """Train ``genotype`` at ``seed`` (``budget`` epochs, default all; stopped after
        ``stop_epoch``), then score it on the validation split; with ``curve`` AP and AP50
        after every epoch."""
        from ..engine import train

        settings = self.settings
        config, run = self.trial_training(seed, budget)
        data = self.data()
        hooks = [divergence_hook()]
        if settings.stop_epoch is not None and settings.stop_epoch < config.epochs:
            hooks.append(stop_after_epoch(settings.stop_epoch))
        extrapolating = settings.extrapolate and settings.stop_epoch is not None \
            and 2 <= settings.stop_epoch < config.epochs
        curve = curve_hook(data.val, config) if settings.curve or extrapolating else None
        if curve is not None:
            hooks.append(curve)
        result = train(config, progress=False, genotype=genotype, data=run,
                       write_files=False, extra_hooks=tuple(hooks))
        curves = curve.curve if curve is not None else {}
        if extrapolating and settings.score in curves:
            value = extrapolate(curves[settings.score], settings.stop_epoch, config.epochs)
        elif settings.score in curves:  # the last point of the curve is the final score
            value = curves[settings.score][-1]
        else:
            value = float(SCORES[settings.score](result.model, data.val, config))
        return Evaluation(max(0.0, value), curves)

    def trial_training(self, seed: int, epochs: int | None = None):
        """The TrainConfig and data a training of ``seed`` uses: its own augmentation stream
        over the shared records and image cache, no validation per epoch (the genotype is
        scored after training)."""
        data = self.data()
        train_set = copy.copy(data.train)  # shares the records and the image cache
        train_set.seed = seed
        return self.train_config(seed, epochs), dataclasses.replace(data, train=train_set,
                                                                     val=None)

    def train_config(self, seed: int, epochs: int | None = None):
        """The proxy's TrainConfig for ``epochs`` (None: all of them); writes nothing:
        ``output_dir`` is never created."""
        epochs = epochs or self.settings.epochs
        return dataclasses.replace(self.settings.config, genotype="<candidate>",
                                   output_dir="<proxy: no files>", **self.data_paths(),
                                   seed=seed, epochs=epochs, eval_every=epochs)

    def data(self):
        """The datasets, read and checked once per process; decoded images cached."""
        if self._bundle is None:
            from ..engine.distributed import DistContext
            from ..engine.run import build_data

            bundle = build_data(self.train_config(0), DistContext())
            for dataset in (bundle.train, bundle.val):
                cache_decoded_images(dataset, IMAGE_CACHE_BYTES)
            self._bundle = bundle
        return self._bundle


def extrapolate(curve: list[float], epoch: int, total: int) -> float:
    """The curve's value at ``total`` epochs, extended linearly from its points at ``epoch - 1``
    and ``epoch`` (1-based)."""
    last, before = curve[epoch - 1], curve[epoch - 2]
    return last + (last - before) * (total - epoch)


def write_digits(out: Path, images: int, image_size: int, seed: int,
                 val_fraction: float) -> None:
    """Handwritten digits on photos (``nasfpn data digits``): up to 4 digits of 3/16 to 1/2
    of the image side (24-64 px at 128 px), large enough for a few epochs to learn."""
    from ..data.digits import make_digits_dataset

    num_val = max(1, round(images * val_fraction))
    make_digits_dataset(out, num_train=max(1, images - num_val), num_val=num_val,
                        image_size=image_size, seed=seed, max_objects=4,
                        min_object_size=max(6, image_size * 3 // 16),
                        max_object_size=image_size // 2)


def write_shapes(out: Path, images: int, image_size: int, seed: int,
                 val_fraction: float) -> None:
    """Synthetic coloured shapes (``nasfpn data synth``)."""
    from ..data.synth import make_synthetic_dataset

    make_synthetic_dataset(out, num_images=images, image_size=image_size, seed=seed,
                           val_fraction=val_fraction)


# --proxy-data: the datasets a proxy writes for itself when it is given no real data
GENERATED_DATA: dict[str, Callable[[Path, int, int, int, float], None]] = {
    "digits": write_digits, "shapes": write_shapes}


# ``search calibrate``'s reference schedule on top of the proxy's settings: 3x the epochs, 2x
# the generated images; it scores COCO AP whatever the proxy scores (the real objective), in the
# numerics `train` defaults to (mixed precision and channels_last where the hardware has native
# bf16 or a GPU; a plan records them decided, "on" or "off"). Here, not in search.calibration,
# so the CLI reads it without importing the calibration machinery.
DEFAULT_REFERENCE = {"epochs": 12, "synth_images": 600, "score": "ap", "amp": "auto",
                     "channels_last": "auto"}
# the settings a reference schedule may change (--reference-*)
REFERENCE_FIELDS = ("epochs", "image_size", "synth_images", "lr", "batch_size", "warmup",
                    "score", "amp", "channels_last")
# proxy settings the reference never takes over: a proxy stopped early (or extrapolated) still
# has a whole reference training to be compared with
PROXY_ONLY = ("stop_epoch", "extrapolate")


DIVERGENCE_FACTOR = 10.0  # a loss this many times the first step's means the run diverged


def divergence_hook(factor: float = DIVERGENCE_FACTOR):
    """A training hook that stops a run whose loss rises above ``factor`` x its first step's
    (a NaN or infinite loss stops any run already): the trial scores 0 without training on."""
    from ..engine.trainer import Hook
    from ..errors import TrainingError

    class StopDiverging(Hook):
        first: float | None = None

        def after_step(self, trainer) -> None:
            loss = trainer.last_losses["loss"]
            if self.first is None:
                self.first = loss
            elif loss > factor * self.first:
                raise TrainingError(f"the run diverged: loss {loss:.4g} at step {trainer.step}, "
                                    f"over {factor:g} x the first step's {self.first:.4g}")

    return StopDiverging()


def stop_after_epoch(epoch: int):
    """A hook that ends the training after ``epoch`` (the schedule still planned for all)."""
    from ..engine.trainer import Hook

    class StopAfter(Hook):
        def after_epoch(self, trainer) -> None:
            if trainer.epoch >= epoch:
                trainer.stop_training = True

    return StopAfter()


# the metrics a learning curve keeps: one COCO evaluation gives both
CURVE_METRICS = {"ap": "AP", "ap50": "AP50"}


def curve_hook(dataset, config):
    """A hook that evaluates after every epoch and keeps ``curve``: ap and ap50 by epoch."""
    from ..engine.trainer import Hook

    class Curve(Hook):
        def __init__(self) -> None:
            self.curve: dict[str, list[float]] = {name: [] for name in CURVE_METRICS}

        def after_epoch(self, trainer) -> None:
            metrics = _evaluate(trainer.eval_module, dataset, config)
            for name, key in CURVE_METRICS.items():
                self.curve[name].append(round(float(metrics[key]), 6))

    return Curve()


def cache_decoded_images(dataset, budget_bytes: int) -> None:
    """Make ``dataset.load_image`` remember decoded images (copies are handed out, so a
    transform cannot change the cached one) until ``budget_bytes`` of pixels are held."""
    decode = dataset.load_image
    cache: dict[int, Any] = {}
    held = [0]

    def load_image(index: int):
        if index in cache:
            return cache[index].copy()
        image = decode(index)
        size = image.width * image.height * 3
        if held[0] + size <= budget_bytes:
            cache[index] = image
            held[0] += size
            return image.copy()
        return image

    dataset.load_image = load_image


def _evaluate(model, dataset, config) -> dict[str, Any]:
    from ..engine.evaluation import evaluate
    from ..engine.distributed import resolve_device

    return evaluate(model, dataset, batch_size=config.batch_size, workers=0,
                    device=resolve_device(config.device), channels_last=config.channels_last)


def validation_loss(model, dataset, config) -> float:
    """Mean training loss (focal + box) of ``model`` over ``dataset``, in eval mode."""
    import torch

    from ..data.coco import build_dataloader
    from ..engine.precision import memory_format
    from ..engine.trainer import move_targets
    from ..engine.distributed import resolve_device

    device = resolve_device(config.device)
    model.eval()
    total, images_seen = 0.0, 0
    loader = build_dataloader(dataset, config.batch_size, shuffle=False, workers=0)
    with torch.no_grad():
        for images, targets in loader:
            images = images.to(device, memory_format=memory_format(config.channels_last, device))
            losses = model.losses(images, move_targets(targets, device))
            total += float(losses["loss"]) * len(images)
            images_seen += len(images)
    return total / max(1, images_seen)


def _inverse_loss(model, dataset, config) -> float:
    loss = validation_loss(model, dataset, config)
    if loss != loss or loss == float("inf"):
        from ..errors import TrainingError

        raise TrainingError(f"the validation loss is {loss}")
    return 1.0 / (1.0 + loss)


# --proxy-score NAME -> (model, validation dataset, TrainConfig) -> reward (higher is better)
SCORES: dict[str, Callable[[Any, Any, Any], float]] = {
    "ap": lambda model, dataset, config: _evaluate(model, dataset, config)["AP"],
    "ap50": lambda model, dataset, config: _evaluate(model, dataset, config)["AP50"],
    "loss": _inverse_loss,
}
