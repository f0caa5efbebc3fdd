"""The training configuration: one dataclass holding every ``nasfpn train`` option.

Torch-free on purpose so the CLI can build and check a configuration before importing torch.
Defaults suit a CPU run on small data; :data:`RECIPES` holds published presets (``--recipe``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ModelError, UsageError
from ..limits import MAX_BATCH_SIZE, MAX_IMAGE_SIZE, MAX_SEED, max_local_processes
from ..modeling.pretrained import is_weights_name, published_weights
from ..modeling.spec import (MODEL_OPTION_FIELDS, DropBlockSpec, ModelOptions, ModelSpec,
                             as_json, check_model_option)
from ..settings import (check_declared, meta_of, part, sections, setting, setting_value,
                        value_problem)

SCHEDULES = ("cosine", "step")
OPTIMIZERS = ("sgd", "adamw")
DEVICES = ("auto", "cpu", "cuda")
# --amp and --channels-last: mixed precision (NHWC layout) where the hardware has native bf16 or
# a GPU (auto), always (on) or never (off); what each means on a device:
# nasfpn_cli.engine.precision.AMP_DTYPES and LAYOUTS
AMP_MODES = ("auto", "on", "off")
# before "auto" existed, both were bools; old config.json files and checkpoints still hold them
_MODE_FROM_BOOL = {True: "on", False: "off"}


def amp_mode(value: str | bool) -> str:
    """An ``amp`` setting as a mode of :data:`AMP_MODES` (old bools mapped: True is "on")."""
    return _MODE_FROM_BOOL[value] if isinstance(value, bool) else value


layout_mode = amp_mode  # a ``channels_last`` setting as a mode (old bools mapped alike)


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
    # Fine-tuning from ImageNet weights, as detectron2's RetinaNet 1x (and mmdetection's 1x)
    # does: the published backbone (torchvision's V1), its stem and first stage frozen
    # (detectron2 FREEZE_AT=2: stem + res2), frozen batch-norm statistics (FrozenBN), SGD momentum
    # 0.9, weight decay 1e-4, lr 0.01 for a batch of 16 images, linear warmup over 1000 steps
    # from 0.001 of the lr, 12 epochs with x0.1 steps at epochs 8 and 11 (detectron2: 60k and
    # 80k of 90k iterations, 2/3 and 8/9; mmdetection: epochs 8 and 11 of 12). The recipe fixes
    # the batch; with another --batch-size scale --lr linearly (lr = 0.01 x images per step over
    # all processes / 16, Goyal et al. 2017), and with another --epochs give --milestones at
    # about 2/3 and 8/9 of them (docs/training.md).
    "finetune": {
        "backbone_weights": "imagenet",
        "frozen_stages": 1,
        "frozen_bn": True,
        "batch_size": 16,
        "optimizer": "sgd",
        "momentum": 0.9,
        "lr": 0.01,
        "weight_decay": 1e-4,
        "warmup": 1000,
        "warmup_factor": 0.001,
        "epochs": 12,
        "schedule": "step",
        "milestones": (8, 11),
        "gamma": 0.1,
    },
}


# train's default backbone (ModelSpec's is the paper's ResNet-50): small enough for a CPU
CPU_BACKBONE = "resnet18"


@dataclass
class TrainConfig:
    """Everything a training run needs, each field declared once with its help, section and
    range (:mod:`nasfpn_cli.settings`); ``dataclasses.asdict`` of it is stored in checkpoints.

    ``warmup`` counts optimizer steps; ``milestones`` are epochs (empty: 60% and 80% of
    ``epochs``). ``recipe`` only records which preset :meth:`from_recipe` started from.
    ``ema`` evaluates and checkpoints an exponential moving average of the weights (decay
    ``ema_decay``). ``model`` holds the detector's options (:class:`ModelOptions`, declared
    there once); their names read as this config's own in :meth:`of`, :meth:`value`, flags,
    ``--config`` and ``--set`` keys, and the stored dicts' ``model`` section.
    """

    # model: the genotype, the detector's options (declared in ModelOptions; their flags read as
    # train's own), and what only training needs of the model
    genotype: str = setting("nasfpn", section="model", cli=False,
                            help="A genotype file or bundled name.")
    model: ModelOptions = part(lambda: ModelOptions(backbone=CPU_BACKBONE))
    backbone_weights: str | None = setting(
        None, section="model", path="any", metavar="FILE|URL|imagenet",
        help="Start the backbone from ImageNet weights: imagenet (torchvision's, also "
             "imagenet-v1/imagenet-v2; downloaded once into the torch hub cache, checksum "
             "checked), an http(s):// or file:// URL, or a torchvision-style state dict file "
             "(.pth or .safetensors).")
    sync_bn: bool = setting(False, section="model",
                            help="Batch norm statistics across processes (distributed runs).")
    # data: data_dir (COCO 2017 layout) and/or explicit paths; no validation pair: no evaluation
    data_dir: str | None = setting(None, section="data", flag="data", path="any",
                                   help="Dataset folder in the COCO 2017 layout.")
    train_ann: str | None = setting(None, section="data", path="any",
                                    help="Training annotations (COCO JSON).")
    train_images: str | None = setting(None, section="data", path="any",
                                       help="Folder of the training images.")
    val_ann: str | None = setting(None, section="data", path="any",
                                  help="Validation annotations (COCO JSON).")
    val_images: str | None = setting(None, section="data", path="any",
                                     help="Folder of the validation images.")
    skip_bad: bool = setting(False, section="data",
                             help="Drop bad boxes/images the data checks find instead of "
                                  "refusing the data.")
    image_size: int = setting(256, section="data", minimum=64, maximum=MAX_IMAGE_SIZE,
                              unit="pixels",
                              help="Square training size in pixels (default {default}).")
    scale_range: tuple[float, float] = setting(
        (0.8, 1.2), section="data", minimum=0.0, min_open=True, metavar="MIN,MAX",
        range_text="needs 0 < MIN <= MAX", help="Scale jitter range (default {default}).")
    flip_prob: float = setting(0.5, section="data", minimum=0.0, maximum=1.0,
                               help="Horizontal flip probability (default {default}).")
    # solver
    epochs: int = setting(12, section="solver", minimum=1, help="Epochs (default {default}).")
    batch_size: int = setting(8, section="solver", minimum=1, maximum=MAX_BATCH_SIZE,
                              help="Images per step and process (default {default}).")
    optimizer: str = setting("sgd", section="solver", choices=OPTIMIZERS,
                             help="Default {default}.")
    lr: float = setting(0.01, section="solver", minimum=0.0, min_open=True,
                        help="Peak learning rate (default {default}).")
    momentum: float = setting(0.9, section="solver", minimum=0.0, maximum=1.0, max_open=True,
                              help="SGD momentum (default {default}).")
    weight_decay: float = setting(1e-4, section="solver", minimum=0.0,
                                  help="Default {default}; never on norms and biases.")
    warmup: int = setting(100, section="solver", minimum=0, unit="steps",
                          help="Linear warmup steps (default {default}).")
    warmup_factor: float = setting(0.001, section="solver", minimum=0.0, maximum=1.0,
                                   min_open=True, help="Warmup starts at this fraction of --lr "
                                                       "(default {default}).")
    schedule: str = setting("cosine", section="solver", choices=SCHEDULES,
                            help="Default {default}.")
    milestones: tuple[int, ...] = setting((), section="solver", minimum=1, metavar="E1,E2",
                                          help="Epochs where the step schedule multiplies the "
                                               "lr by --gamma (default 60%,80% of --epochs).")
    gamma: float = setting(0.1, section="solver", minimum=0.0, min_open=True,
                           help="Step schedule factor (default {default}).")
    grad_clip: float | None = setting(10.0, section="solver", minimum=0.0,
                                      help="Clip the gradient norm (default {default}; 0 = off).")
    amp: str = setting("auto", section="solver", choices=AMP_MODES, bare="on", negated="off",
                       help="Mixed precision: bf16 autocast on CPU, fp16 with loss scaling on "
                            "CUDA; auto: only where the hardware has it natively (a GPU, or "
                            "bf16 on CPUs with AVX-512 BF16 or AMX), else fp32. --amp alone: "
                            "on, --no-amp: off (default {default}).")
    channels_last: str = setting("auto", section="solver", choices=AMP_MODES, bare="on",
                                 negated="off",
                                 help="NHWC weights and batches; auto: where --amp auto means "
                                      "mixed precision (there the two together train fastest), "
                                      "else contiguous. --channels-last alone: on, "
                                      "--no-channels-last: off (default {default}).")
    ema: bool = setting(False, section="solver", switch=True,
                        help="Evaluate, keep and export an exponential moving average of the "
                             "weights.")
    ema_decay: float = setting(0.999, section="solver", minimum=0.0, maximum=1.0,
                               min_open=True, max_open=True,
                               help="EMA decay per step (default {default}).")
    # runtime
    output_dir: str = setting("runs/train", section="runtime", short="-o", path="any",
                              help="Run folder: last.pt, best.pt, metrics.jsonl, config.json "
                                   "(required unless --config sets output_dir).")
    workers: int = setting(2, section="runtime", minimum=0, maximum=max_local_processes,
                           help="DataLoader worker processes (default {default}).")
    seed: int = setting(0, section="runtime", minimum=0, maximum=MAX_SEED,
                        help="Seed for initialisation, order and augmentation.")
    device: str = setting("auto", section="runtime", choices=DEVICES, help="Default {default}.")
    resume: bool = setting(False, section="runtime",
                           help="Continue OUTPUT_DIR/last.pt exactly where it stopped.")
    init_from: str | None = setting(None, section="runtime", path="any", metavar="CKPT",
                                    help="Load weights only from CKPT.")
    eval_every: int = setting(1, section="runtime", minimum=1,
                              help="Evaluate every N epochs and after the last.")
    log_every: int = setting(10, section="runtime", minimum=1,
                             help="Log to metrics.jsonl every N steps (default {default}).")
    eval_batch_size: int | None = setting(None, section="runtime", minimum=1,
                                          maximum=MAX_BATCH_SIZE, help="Default: --batch-size.")
    tensorboard: bool = setting(False, section="runtime",
                                help="Also write TensorBoard events (scalars, prediction images) "
                                     "into OUTPUT_DIR (needs the tensorboard extra).")
    recipe: str | None = setting(None, section="runtime", choices=lambda: tuple(RECIPES),
                                 help="Start from a preset (paper: R-50 7@256, 640 px, batch 64, "
                                      "lr 0.08, 50 epochs, steps at 30 and 40; small: few CPU "
                                      "minutes on small objects, 3@64, 128 px, --anchor-size 2, "
                                      "AdamW lr 1e-3, warmup 30; finetune: from "
                                      "--backbone-weights imagenet with stem and first stage "
                                      "and batch norm frozen, SGD lr 0.01 for batch 16, 12 "
                                      "epochs, steps at 8 and 11).")

    def __post_init__(self) -> None:
        self.amp = amp_mode(self.amp)
        self.channels_last = layout_mode(self.channels_last)

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
        return cls.of(**values).validated()

    @classmethod
    def of(cls, **values: Any) -> "TrainConfig":
        """A config from settings by their flat names (the model's go into ``model``), not yet
        checked (:meth:`validated`). Also takes what older versions stored: ``model_kwargs``
        and ``dropblock`` as the keep probability beside ``dropblock_size``."""
        values = dict(values)
        model = dict(values.pop("model_kwargs", None) or {})
        dropblock = _dropblock(values.pop("dropblock", None), values.pop("dropblock_size", None))
        if dropblock is not None:
            model["dropblock"] = dropblock
        model.update({key: values.pop(key) for key in list(values) if key in MODEL_OPTION_FIELDS})
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise UsageError("unknown training option(s): " + ", ".join(unknown))
        base = values.pop("model", None) or cls.__dataclass_fields__["model"].default_factory()
        try:
            return cls(**values, model=ModelOptions.from_values(model, base))
        except ModelError as exc:
            raise UsageError(str(exc)) from None

    def value(self, name: str) -> Any:
        """Setting ``name`` by its flat name, wherever in the tree it is (``lr``, ``stack``)."""
        return setting_value(self, name)

    def resolved_milestones(self) -> tuple[int, ...]:
        """Step-schedule milestones in epochs (defaults to 60% and 80% of the run)."""
        if self.milestones:
            return tuple(int(m) for m in self.milestones)
        return (max(1, round(0.6 * self.epochs)), max(1, round(0.8 * self.epochs)))

    def validated(self) -> "TrainConfig":
        """Check every value against its declaration, then the rules between fields; raises
        :class:`UsageError` naming the option. Returns self."""

        def need(condition: bool, option: str, message: str) -> None:
            if not condition:
                raise UsageError(f"--{option.replace('_', '-')}: {message}")

        if self.grad_clip == 0:  # "0 = off", as on the command line
            self.grad_clip = None
        check_declared(self, lambda name, message: UsageError(f"{option_name(name)}: {message}"))
        need(len(self.scale_range) == 2 and self.scale_range[0] <= self.scale_range[1],
             "scale_range", f"needs 0 < MIN <= MAX, got {self.scale_range}")
        need(list(self.milestones) == sorted(self.milestones), "milestones",
             "must be increasing epoch numbers >= 1")
        late = [m for m in self.milestones if m >= self.epochs]
        if self.schedule == "step" and late:  # the lr would never step there
            recipe = RECIPES.get(self.recipe or "", {})
            given = (f" (from --recipe {self.recipe})"
                     if tuple(recipe.get("milestones", ())) == tuple(self.milestones) else "")
            raise UsageError(f"--milestones {','.join(map(str, self.milestones))}{given}: "
                             f"epoch {late[0]} is not before the end of --epochs "
                             f"{self.epochs}, so the step schedule never steps there",
                             hint="give --milestones before --epochs (about 2/3 and 8/9 of it), "
                                  "or leave them out: 60% and 80% of --epochs")
        for key, value in self.model.options().items():  # and as ModelSpec checks them
            if key in ("stack", "channels"):  # a genotype's N@C: their declarations hold
                continue
            try:
                check_model_option(key, value)
            except ModelError as exc:
                raise UsageError(f"{option_name(key)}: {exc}") from None
        if self.model.negative_iou > self.model.positive_iou:
            raise UsageError(f"{option_name('negative_iou')}={self.model.negative_iou:g} and "
                             f"{option_name('positive_iou')}={self.model.positive_iou:g}: "
                             "anchors below the negative IoU are background and those from the "
                             "positive IoU up are matched, so it must not exceed the positive",
                             hint="lower model.negative_iou or raise model.positive_iou")
        if is_weights_name(self.backbone_weights):  # a ModelError (exit 1) before any data
            published_weights(self.model.backbone, self.backbone_weights)
        if self.resume and self.init_from:
            raise UsageError("--resume and --init-from exclude each other",
                             hint="--resume continues OUT/last.pt; --init-from loads weights only")
        self.scale_range = (float(self.scale_range[0]), float(self.scale_range[1]))
        self.milestones = tuple(int(m) for m in self.milestones)
        return self

    def model_spec(self, genotype, num_classes: int) -> ModelSpec:
        """The :class:`~nasfpn_cli.modeling.spec.ModelSpec` these options describe for
        ``genotype`` (N@C: --stack/--channels > the file's directives > 7@256)."""
        return ModelSpec.create(genotype, num_classes=num_classes, **self.model.options())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict nested by :data:`SECTIONS` (tuples become lists)."""
        return {section: {name: as_json(self.value(name)) for name in names}
                for section, names in SECTIONS.items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; also reads the flat dicts older versions stored (see
        :meth:`of`). Unknown keys (from newer versions) are ignored."""
        kwargs = {k: v for k, v in flatten_sections(values).items() if k in FLAT_KEYS}
        for key in ("scale_range", "milestones"):
            if key in kwargs and kwargs[key] is not None:
                kwargs[key] = tuple(kwargs[key])
        return cls.of(**kwargs)


def option_name(name: str) -> str:
    """How a user sets TrainConfig setting ``name``: its flag, or ``--set SECTION.NAME`` for
    a setting without one."""
    meta = meta_of(TrainConfig, name)
    return meta.flag_name(name) if meta.cli else f"--set {meta.section}.{name}"


def _dropblock(keep: Any, size: Any) -> Any:
    """The ``dropblock`` model option from its flat forms: a mapping of its fields (stored), or
    the keep probability with the block size (``--dropblock KEEP --dropblock-size N``, and
    older stored configs); None: off. Values are checked as their flags declare them."""
    if keep is None or isinstance(keep, (Mapping, DropBlockSpec)):
        return keep
    values = {"keep_prob": keep, **({"block_size": size} if size is not None else {})}
    for name, value in values.items():
        problem = value_problem(value, str(DropBlockSpec.__dataclass_fields__[name].type),
                                meta_of(DropBlockSpec, name))
        if problem is not None:
            raise UsageError(f"{meta_of(DropBlockSpec, name).flag_name(name)}: {problem}")
    try:
        return DropBlockSpec(**values)
    except ModelError as exc:  # what a declaration cannot say: the block size is odd
        raise UsageError(f"--dropblock-size: {exc}") from None


def flatten_sections(values: dict[str, Any]) -> dict[str, Any]:
    """Option values from a sectioned dict (``{"solver": {"lr": ...}}``) or a flat one."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if key in SECTIONS and isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat


# TrainConfig's fields by section (model, data, solver, runtime), from their declarations: stored
# configurations (config.json, checkpoints, --config files) are nested by section
SECTIONS: dict[str, tuple[str, ...]] = sections(TrainConfig)
# every key TrainConfig.of takes by flat name: its settings, the model's, and what older versions
# stored (--config files and config.json are read with these)
FLAT_KEYS: frozenset[str] = frozenset(
    {f.name for f in dataclasses.fields(TrainConfig)} - {"model"} | set(MODEL_OPTION_FIELDS)
    | {"model_kwargs", "dropblock_size"})
