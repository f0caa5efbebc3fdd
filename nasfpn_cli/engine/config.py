"""The training configuration: one dataclass holding every ``nasfpn train`` option.

Torch-free on purpose so the CLI can build and check a configuration before importing torch.
Defaults suit a CPU run on small data; :data:`RECIPES` holds published presets (``--recipe``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import ModelError, UsageError
from ..limits import MAX_BATCH_SIZE, MAX_CHANNELS, MAX_IMAGE_SIZE, MAX_SEED, MAX_STACK
from ..modeling.spec import DropBlockSpec, ModelSpec, check_model_option

SCHEDULES = ("cosine", "step")
OPTIMIZERS = ("sgd", "adamw")
DEVICES = ("auto", "cpu", "cuda")
# --amp: mixed precision where the hardware has it natively (auto), always (on) or never (off);
# what each means on a device: nasfpn_cli.engine.precision.AMP_DTYPES
AMP_MODES = ("auto", "on", "off")
# before "auto" existed, amp was a bool; old config.json files and checkpoints still hold one
_AMP_FROM_BOOL = {True: "on", False: "off"}


def amp_mode(value: str | bool) -> str:
    """An ``amp`` setting as a mode of :data:`AMP_MODES` (old bools mapped: True is "on")."""
    return _AMP_FROM_BOOL[value] if isinstance(value, bool) else value

# The paper's COCO recipe (DESIGN.md): batch 64, SGD momentum 0.9, lr 0.08, 50 epochs with x0.1
# steps at epochs 30 and 40, scale jitter 0.8-1.2, focal loss alpha 0.25 gamma 1.5, R-50 7@256 at
# 640 px. ``--schedule cosine`` on top of it gives the cosine variant the paper used for stability.
RECIPES: dict[str, dict[str, Any]] = {
    "paper": {
        "backbone": "resnet50",
        "stack": 7,
        "channels": 256,
        "image_size": 640,
        "batch_size": 64,
        "optimizer": "sgd",
        "momentum": 0.9,
        "lr": 0.08,
        "weight_decay": 1e-4,
        "epochs": 50,
        "schedule": "step",
        "milestones": (30, 40),
        "gamma": 0.1,
        "warmup": 1000,
        "scale_range": (0.8, 1.2),
        "flip_prob": 0.5,
        "focal_alpha": 0.25,
        "focal_gamma": 1.5,
    },
    # The architecture search's proxy task (docs/search.md), scaled to a CPU from the paper's
    # ResNet-10, 3 stacks, 512 px, 10 epochs, with the fast-learning solver and anchors of
    # "small" (lr 3e-3 for its ~100 steps), chosen by `nasfpn search calibrate` on the digits
    # (docs/search.md, "Measured"); the search's --proxy-* options go on top.
    "proxy": {
        "backbone": "resnet10",
        "stack": 3,
        "channels": 32,
        "image_size": 128,
        "anchor_size": 2.0,
        "epochs": 4,
        "batch_size": 8,
        "optimizer": "adamw",
        "lr": 0.003,
        "weight_decay": 0.05,
        "warmup": 30,
        "workers": 0,
        "log_every": 10 ** 9,
    },
    # Few CPU minutes from scratch on small objects, chosen by benchmarks/learning_speed.py
    # (docs/training.md): 128 px (a multiple of the P7 stride, so nothing is padded away),
    # anchors from 16 px, AdamW, a short warmup, a 3@64 pyramid (ResNet-18 as by default).
    "small": {
        "stack": 3,
        "channels": 64,
        "image_size": 128,
        "anchor_size": 2.0,
        "optimizer": "adamw",
        "lr": 0.001,
        "weight_decay": 0.05,
        "warmup": 30,
    },
}


# TrainConfig's fields by section: the model spec's options, the data, the solver and the
# runtime. Stored configurations (config.json, checkpoints, --config files) are nested by section.
SECTIONS: dict[str, tuple[str, ...]] = {
    "model": ("genotype", "backbone", "backbone_weights", "stack", "channels",
              "deep_supervision", "dropblock", "dropblock_size", "focal_alpha", "focal_gamma",
              "anchor_size", "sync_bn", "model_kwargs"),
    "data": ("data_dir", "train_ann", "train_images", "val_ann", "val_images", "skip_bad",
             "image_size", "scale_range", "flip_prob"),
    "solver": ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "warmup",
               "warmup_factor", "schedule", "milestones", "gamma", "grad_clip", "amp",
               "channels_last", "ema", "ema_decay"),
    "runtime": ("output_dir", "workers", "seed", "device", "resume", "init_from", "eval_every",
                "log_every", "eval_batch_size", "tensorboard", "recipe"),
}


# the annotation words of TrainConfig's fields -> the Python types a value may have
_TYPE_WORDS: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,),
                                            "bool": (bool,), "None": (type(None),)}


_TYPE_NAMES = {"int": "a whole number", "float": "a number", "str": "text",
               "bool": "true or false", "None": "unset"}
_PLURAL_NAMES = {"int": "whole numbers", "float": "numbers"}


def _type_problem(value: Any, annotation: str) -> str | None:
    """Why ``value`` does not fit a field annotated ``annotation`` (``int | None``,
    ``tuple[float, float]``...), or None when it fits. Bools are not numbers here."""
    for option in (part.strip() for part in annotation.split("|")):
        if option.startswith(("tuple[", "dict[")):
            container = tuple if option.startswith("tuple[") else dict
            if container is dict and isinstance(value, dict):
                return None
            if container is tuple and isinstance(value, (tuple, list)):
                word = option[6:].split(",")[0].strip(" ]")
                if all(_type_problem(v, word) is None for v in value):
                    return None
            continue
        kinds = _TYPE_WORDS.get(option)
        if kinds is None or (isinstance(value, kinds) and
                             (bool in kinds or not isinstance(value, bool))):
            return None
    names = []
    for option in (part.strip() for part in annotation.split("|")):
        if option.startswith("tuple["):
            word = option[6:].split(",")[0].strip(" ]")
            names.append(f"a list of {_PLURAL_NAMES.get(word, word)}")
        else:
            names.append(_TYPE_NAMES.get(option, option))
    return "must be " + " or ".join(names)


# ModelSpec's defaults: the model options below start from them (train's backbone excepted)
_SPEC_DEFAULTS = {item.name: item.default for item in dataclasses.fields(ModelSpec)}


@dataclass
class TrainConfig:
    """Everything a training run needs; ``dataclasses.asdict`` of it is stored in checkpoints.

    ``warmup`` counts optimizer steps; ``milestones`` are epochs (empty: 60% and 80% of
    ``epochs``). ``recipe`` only records which preset :meth:`from_recipe` started from.
    ``dropblock`` is DropBlock's final keep probability (None: off), reached linearly over the
    run. ``anchor_size`` is the smallest anchor's side in strides of P3 (4: 32 px).
    ``ema`` evaluates and checkpoints an exponential moving average of the weights (decay
    ``ema_decay``). ``model_kwargs`` go to ``build_detector`` as they are (e.g. ``exit_at``
    for a proxy task).
    """

    genotype: str = "nasfpn"
    output_dir: str = "runs/train"
    # data: data_dir (COCO 2017 layout) and/or explicit paths; no validation pair: no evaluation
    data_dir: str | None = None
    train_ann: str | None = None
    train_images: str | None = None
    val_ann: str | None = None
    val_images: str | None = None
    skip_bad: bool = False
    # model
    backbone: str = "resnet18"
    backbone_weights: str | None = None
    stack: int | None = None  # None: the genotype's directive, else 7 (the ModelSpec rule)
    channels: int | None = None  # None: the genotype's directive, else 256
    image_size: int = 256
    deep_supervision: bool = _SPEC_DEFAULTS["deep_supervision"]
    dropblock: float | None = None
    dropblock_size: int = DropBlockSpec.block_size
    focal_alpha: float = _SPEC_DEFAULTS["focal_alpha"]
    focal_gamma: float = _SPEC_DEFAULTS["focal_gamma"]
    anchor_size: float = _SPEC_DEFAULTS["anchor_size"]
    sync_bn: bool = False
    # optimisation
    epochs: int = 12
    batch_size: int = 8
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup: int = 100
    warmup_factor: float = 0.001
    schedule: str = "cosine"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    grad_clip: float | None = 10.0
    amp: str = "off"  # a mode of AMP_MODES (a bool from older configs is read as on/off)
    channels_last: bool = False  # NHWC weights and batches: faster convolutions on most CPUs
    ema: bool = False
    ema_decay: float = 0.999
    # augmentation
    scale_range: tuple[float, float] = (0.8, 1.2)
    flip_prob: float = 0.5
    # runtime
    workers: int = 2
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    init_from: str | None = None
    eval_every: int = 1
    log_every: int = 10
    eval_batch_size: int | None = None
    tensorboard: bool = False  # also write TensorBoard events into output_dir
    recipe: str | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.amp = amp_mode(self.amp)

    @classmethod
    def from_recipe(cls, name: str | None, **overrides: Any) -> "TrainConfig":
        """A config starting from preset ``name`` (None: the CPU defaults), then ``overrides``."""
        values: dict[str, Any] = {}
        if name is not None:
            if name not in RECIPES:
                raise UsageError(f"--recipe: unknown recipe {name!r}",
                                 hint="known recipes: " + ", ".join(RECIPES))
            values.update(RECIPES[name])
            values["recipe"] = name
        values.update(overrides)
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise UsageError("unknown training option(s): " + ", ".join(unknown))
        return cls(**values).validated()

    def resolved_milestones(self) -> tuple[int, ...]:
        """Step-schedule milestones in epochs (defaults to 60% and 80% of the run)."""
        if self.milestones:
            return tuple(int(m) for m in self.milestones)
        return (max(1, round(0.6 * self.epochs)), max(1, round(0.8 * self.epochs)))

    def validated(self) -> "TrainConfig":
        """Check every value; raises :class:`UsageError` naming the option. Returns self."""

        def need(condition: bool, option: str, message: str) -> None:
            if not condition:
                raise UsageError(f"--{option.replace('_', '-')}: {message}")

        for item in dataclasses.fields(self):  # inf and nan pass every comparison below
            value = getattr(self, item.name)
            wrong = _type_problem(value, str(item.type))  # a --config file can hold anything
            need(wrong is None, item.name, f"{wrong}, got {value!r}")
            numbers = value if isinstance(value, tuple) else (value,)
            need(all(math.isfinite(v) for v in numbers if isinstance(v, float)), item.name,
                 f"must be finite, got {value}")

        for name in ("stack", "channels", "image_size", "epochs", "batch_size", "eval_every",
                     "log_every"):
            value = getattr(self, name)
            need(value is None or int(value) >= 1, name, f"must be >= 1, got {value}")
        need(self.image_size >= 64, "image_size", f"must be >= 64 pixels, got {self.image_size}")
        need(self.image_size <= MAX_IMAGE_SIZE, "image_size",
             f"must be <= {MAX_IMAGE_SIZE} pixels (larger does not fit in memory), "
             f"got {self.image_size}")
        need(self.stack is None or self.stack <= MAX_STACK, "stack",
             f"must be <= {MAX_STACK}, got {self.stack}")
        need(self.channels is None or self.channels <= MAX_CHANNELS, "channels",
             f"must be <= {MAX_CHANNELS}, got {self.channels}")
        for name in ("batch_size", "eval_batch_size"):
            value = getattr(self, name)
            need(value is None or value <= MAX_BATCH_SIZE, name,
                 f"must be <= {MAX_BATCH_SIZE}, got {value}")
        need(0 <= self.seed <= MAX_SEED, "seed", f"must be 0..{MAX_SEED}, got {self.seed}")
        need(0 <= self.momentum < 1, "momentum", f"must be in [0, 1), got {self.momentum}")
        need(self.gamma > 0, "gamma", f"must be > 0, got {self.gamma}")
        need(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        need(self.weight_decay >= 0, "weight_decay", f"must be >= 0, got {self.weight_decay}")
        need(self.warmup >= 0, "warmup", f"must be >= 0 steps, got {self.warmup}")
        need(0 < self.warmup_factor <= 1, "warmup_factor", "must be in (0, 1]")
        need(self.schedule in SCHEDULES, "schedule",
             f"must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        need(self.optimizer in OPTIMIZERS, "optimizer",
             f"must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        need(self.device in DEVICES, "device",
             f"must be one of {', '.join(DEVICES)}, got {self.device!r}")
        need(self.amp in AMP_MODES, "amp",
             f"must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")
        need(self.workers >= 0, "workers", f"must be >= 0, got {self.workers}")
        need(self.dropblock is None or 0.0 < self.dropblock <= 1.0, "dropblock",
             f"is DropBlock's final keep probability in (0, 1] (paper: 0.9), got {self.dropblock}")
        need(self.dropblock_size >= 1 and self.dropblock_size % 2 == 1, "dropblock_size",
             f"must be a positive odd number, got {self.dropblock_size}")
        need(0.0 <= self.flip_prob <= 1.0, "flip_prob", "must be in [0, 1]")
        need(len(self.scale_range) == 2 and 0 < self.scale_range[0] <= self.scale_range[1],
             "scale_range", f"needs 0 < MIN <= MAX, got {self.scale_range}")
        need(0.0 < self.ema_decay < 1.0, "ema_decay", f"must be in (0, 1), got {self.ema_decay}")
        for key, value in self.spec_options().items():  # as ModelSpec checks them
            try:
                check_model_option(key, value)
            except ModelError as exc:
                option = key if key in self.model_kwargs else "--" + key.replace("_", "-")
                raise UsageError(f"{option}: {exc}") from None
        need(self.grad_clip is None or self.grad_clip > 0, "grad_clip", "must be > 0")
        need(self.eval_batch_size is None or self.eval_batch_size >= 1, "eval_batch_size",
             "must be >= 1")
        need(all(int(m) >= 1 for m in self.milestones)
             and list(self.milestones) == sorted(self.milestones), "milestones",
             "must be increasing epoch numbers >= 1")
        if self.resume and self.init_from:
            raise UsageError("--resume and --init-from exclude each other",
                             hint="--resume continues OUT/last.pt; --init-from loads weights only")
        self.scale_range = (float(self.scale_range[0]), float(self.scale_range[1]))
        self.milestones = tuple(int(m) for m in self.milestones)
        return self

    def spec_options(self) -> dict[str, Any]:
        """The ModelSpec options these settings give (N@C apart): the model fields, then
        ``model_kwargs`` on top."""
        options: dict[str, Any] = dict(backbone=self.backbone,
                                       deep_supervision=self.deep_supervision,
                                       focal_alpha=self.focal_alpha, focal_gamma=self.focal_gamma,
                                       anchor_size=self.anchor_size)
        if self.dropblock is not None:
            options["dropblock"] = {"block_size": self.dropblock_size,
                                    "keep_prob": self.dropblock}
        return {**options, **self.model_kwargs}

    def model_spec(self, genotype, num_classes: int) -> ModelSpec:
        """The :class:`~nasfpn_cli.modeling.spec.ModelSpec` these options describe for
        ``genotype`` (N@C: --stack/--channels > the file's directives > 7@256)."""
        return ModelSpec.create(genotype, stack=self.stack, channels=self.channels,
                                num_classes=num_classes, **self.spec_options())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict nested by :data:`SECTIONS` (tuples become lists)."""
        flat = dataclasses.asdict(self)
        return {section: {name: flat[name] for name in names}
                for section, names in SECTIONS.items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; also reads the flat dicts older versions stored. Unknown
        keys (from newer versions) are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in flatten_sections(values).items() if k in known}
        for key in ("scale_range", "milestones"):
            if key in kwargs and kwargs[key] is not None:
                kwargs[key] = tuple(kwargs[key])
        return cls(**kwargs)


def flatten_sections(values: dict[str, Any]) -> dict[str, Any]:
    """Option values from a sectioned dict (``{"solver": {"lr": ...}}``) or a flat one."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if key in SECTIONS and isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat
