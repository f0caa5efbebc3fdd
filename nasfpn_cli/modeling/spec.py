"""``ModelSpec``: the one description of a detector that travels through the house.

A frozen, JSON-able record of everything that decides the network: the genotype (object, stored
as canonical text), N@C, backbone, head, anchors, losses, post-processing, norms, DropBlock and
the anytime exit. ``build_detector(spec)``, ``count_network(spec)``, export, training
checkpoints and the search's proxy all take it. Torch-free, so commands can resolve and check a
model before importing torch.

The pyramid size rule, the same in every command: an explicit ``--stack`` / ``--channels``
option wins, else the genotype file's ``stack`` / ``channels`` directive, else the paper's
7@256 (:data:`DEFAULT_STACK`, :data:`DEFAULT_CHANNELS`; one copy of a pyramid whose inputs are
not all among its outputs, since such a pyramid cannot be stacked).
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..records import shown_value
from ..limits import MAX_CHANNELS, MAX_HEAD_CONVS, MAX_NUM_CLASSES, MAX_STACK
from ..settings import setting
from ..genotype import Genotype, format_genotype, load_genotype, parse_genotype

DEFAULT_STACK = 7
DEFAULT_CHANNELS = 256
# the registries' keys, known without importing torch (tests check them against the registries)
BACKBONES = ("resnet10", "resnet18", "resnet34", "resnet50", "resnet101", "mobilenetv2")
NORMS = ("bn", "syncbn", "gn", "frozenbn", "none")
HEAD_NORMS = ("gn", "bn", "none")
BOX_LOSSES = ("smooth_l1", "l1", "giou")
# every backbone has a stem (stage 0) and four stages: freezing up to 4 freezes all of it
MAX_FROZEN_STAGES = 4
DEFAULT_ANCHOR_SCALES = (2.0 ** 0, 2.0 ** (1 / 3), 2.0 ** (2 / 3))
DEFAULT_ANCHOR_RATIOS = (0.5, 1.0, 2.0)  # height / width
PYRAMID_RULE = f"[default: the file's directive, else {DEFAULT_STACK}@{DEFAULT_CHANNELS}]"


def resolve_pyramid_size(genotype: Genotype, stack: int | None = None,
                         channels: int | None = None) -> tuple[int, int]:
    """N@C by the one rule: explicit value > the file's directive > 7@256 (one copy for a
    pyramid that cannot be stacked because some of its inputs are not outputs)."""
    stackable = set(genotype.inputs) <= set(genotype.outputs)
    default_stack = DEFAULT_STACK if stackable else 1
    return (stack if stack is not None else genotype.stack or default_stack,
            channels if channels is not None else genotype.channels or DEFAULT_CHANNELS)


def as_genotype(genotype: Genotype | str | Path) -> Genotype:
    """A Genotype as given, or loaded (and checked) from a path / bundled name."""
    return genotype if isinstance(genotype, Genotype) else load_genotype(genotype)


DROPBLOCK_SCHEDULES = ("linear", "constant")


@dataclass(frozen=True)
class DropBlockSpec:
    """DropBlock in the merging cells: odd ``block_size``, final ``keep_prob`` and its schedule
    (``linear``: from 1 to keep_prob over training; ``constant``). Checked when made; ``train``'s
    ``--dropblock`` and ``--dropblock-size`` are generated from these declarations."""

    block_size: int = setting(3, section="model", minimum=1, flag="dropblock-size",
                              help="DropBlock block size, odd (default {default}).")
    keep_prob: float = setting(0.9, section="model", minimum=0.0, maximum=1.0, min_open=True,
                               flag="dropblock", metavar="KEEP",
                               range_text="is DropBlock's final keep probability in (0, 1] "
                                          "(paper: 0.9)",
                               help="DropBlock in the pyramid cells, final keep probability "
                                    "(paper: 0.9).")
    schedule: str = setting("linear", section="model", cli=False,
                            choices=DROPBLOCK_SCHEDULES)

    def __post_init__(self) -> None:
        if (not isinstance(self.block_size, int) or self.block_size < 1
                or self.block_size % 2 == 0):
            raise ModelError("dropblock block size must be a positive odd number "
                             f"(got {self.block_size!r})")
        if not 0.0 < self.keep_prob <= 1.0:
            raise ModelError(f"dropblock keep probability must be in (0, 1] (got {self.keep_prob})")
        if self.schedule not in DROPBLOCK_SCHEDULES:
            raise ModelError(f"dropblock schedule must be one of {', '.join(DROPBLOCK_SCHEDULES)} "
                             f"(got {self.schedule!r})")

    def __str__(self) -> str:
        """As a user sets it: ``keep 0.9, block 3`` (the schedule when not linear)."""
        schedule = "" if self.schedule == "linear" else f", {self.schedule}"
        return f"keep {self.keep_prob:g}, block {self.block_size}{schedule}"


@dataclass(frozen=True, kw_only=True)
class ModelOptions:
    """What a user chooses of a detector, besides its genotype and classes: each option
    declared once, here, with its help and limits. ``TrainConfig.model`` holds one (its N@C
    unset: the pyramid size rule decides); :class:`ModelSpec` is these options resolved for a
    genotype. ``--set model.FIELD=VALUE`` reaches those without a flag. A field declared here
    without bounds or choices is held to :meth:`ModelSpec.checked`'s alone (one limit each)."""

    # backbone
    backbone: str = setting("resnet50", section="model", choices=BACKBONES,
                            help="Backbone network (default {default}).")
    frozen_stages: int = setting(-1, section="model", minimum=-1, maximum=MAX_FROZEN_STAGES,
                                 help="Freeze the backbone's stem (0) and stages up to N: no "
                                      "gradients, norms in eval mode (default {default}: "
                                      "none; detectron2 freezes 1: stem and first stage).")
    frozen_bn: bool = setting(False, section="model", switch=True,
                              help="Fixed batch-norm statistics and affine parameters in the "
                                   "backbone (FrozenBatchNorm, for ImageNet weights; default "
                                   "{default}).")
    # pyramid: N@C (None: the rule of this module)
    stack: int | None = setting(None, section="model", minimum=1, maximum=MAX_STACK,
                                help="Pyramid copies N of N@C.", unset_help=PYRAMID_RULE)
    channels: int | None = setting(None, section="model", minimum=1, maximum=MAX_CHANNELS,
                                   help="Pyramid channels C of N@C.", unset_help=PYRAMID_RULE)
    neck_norm: str = setting("bn", section="model", cli=False)
    separable: bool = setting(False, section="model", cli=False)
    dropblock: DropBlockSpec | None = setting(None, section="model", cli=False)
    # head and anytime exits
    head_norm: str = setting("gn", section="model", choices=HEAD_NORMS,
                             help="Normalisation in the RetinaNet head.")
    num_convs: int = setting(4, section="model", cli=False)
    prior_prob: float = setting(0.01, section="model", cli=False)
    deep_supervision: bool = setting(False, section="model",
                                     help="A head and loss after every pyramid copy.")
    exit_at: int | None = setting(None, section="model", minimum=1, maximum=MAX_STACK,
                                  help="The outputs of pyramid copy K (anytime prediction).",
                                  unset_help="[default: the last]")
    # anchors
    anchor_scales: tuple[float, ...] = setting(DEFAULT_ANCHOR_SCALES, section="model",
                                               cli=False)
    anchor_ratios: tuple[float, ...] = setting(DEFAULT_ANCHOR_RATIOS, section="model",
                                               cli=False)
    anchor_size: float = setting(
        4.0, section="model",
        help="Smallest anchor side in P3 strides of 8 px (default {default}; 2 suits objects "
             "of 10-30 px). The start of the run prints how many training boxes it covers.")
    # losses and matching
    focal_alpha: float = setting(0.25, section="model",
                                 help="Focal loss alpha (default {default}).")
    focal_gamma: float = setting(1.5, section="model",
                                 help="Focal loss gamma (default {default}).")
    box_loss: str = setting("smooth_l1", section="model", cli=False)
    smooth_l1_beta: float = setting(0.11, section="model", cli=False)
    box_loss_weight: float = setting(1.0, section="model", cli=False)
    positive_iou: float = setting(0.5, section="model", cli=False)
    negative_iou: float = setting(0.4, section="model", cli=False)
    allow_low_quality: bool = setting(True, section="model", cli=False)
    # post-processing
    score_threshold: float = setting(0.05, section="model", cli=False)
    nms_threshold: float = setting(0.5, section="model", cli=False)
    topk_per_level: int = setting(1000, section="model", cli=False)
    detections_per_image: int = setting(100, section="model", cli=False)

    def options(self) -> dict[str, Any]:
        """The options as :meth:`ModelSpec.create` takes them (N@C left out when unset)."""
        return {item.name: getattr(self, item.name) for item in dataclasses.fields(ModelOptions)
                if not (item.name in ("stack", "channels") and getattr(self, item.name) is None)}

    @classmethod
    def from_values(cls, values: Mapping[str, Any], base: "ModelOptions | None" = None
                    ) -> "ModelOptions":
        """``base`` (default: the defaults) with ``values`` by field name, in their JSON shapes
        too (lists, a dropblock mapping); ModelError names an unknown option. Not checked:
        :meth:`ModelSpec.checked` and the settings' declarations do that."""
        unknown = sorted(set(values) - set(MODEL_OPTION_FIELDS))
        if unknown:
            raise ModelError("unknown model option(s): " + ", ".join(unknown))
        changes = {key: _normalised(key, value) for key, value in values.items()}
        return dataclasses.replace(base or cls(), **changes)


# every option a ModelOptions holds, in declaration order
MODEL_OPTION_FIELDS = tuple(item.name for item in dataclasses.fields(ModelOptions))


def as_json(value: Any) -> Any:
    """A setting as JSON: a DropBlockSpec as its fields, a tuple as a list."""
    if isinstance(value, DropBlockSpec):
        return dataclasses.asdict(value)
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True, kw_only=True)
class ModelSpec(ModelOptions):
    """A detector, fully described: the options of :class:`ModelOptions` resolved for a
    genotype (N@C set) and a number of classes. Build it with :func:`ModelSpec.create` (which
    applies the pyramid size rule and checks the values) or :meth:`from_dict` (a stored spec)."""

    genotype: Genotype = field(compare=False, repr=False)
    genotype_text: str = ""
    num_classes: int = setting(80, section="model", minimum=1, maximum=MAX_NUM_CLASSES,
                               help="Object classes of the head.")

    @classmethod
    def create(cls, genotype: Genotype | str | Path, *, stack: int | None = None,
               channels: int | None = None, **options: Any) -> "ModelSpec":
        """The spec of ``genotype`` (object, file or bundled name) with ``options``; N@C by the
        rule of this module. ModelError names a bad or unknown option."""
        resolved = as_genotype(genotype)
        unknown = sorted(set(options) - set(option_names()))
        if unknown:
            raise ModelError("unknown model option(s): " + ", ".join(unknown))
        stack, channels = resolve_pyramid_size(resolved, stack, channels)
        values = {key: _normalised(key, value) for key, value in options.items()}
        return cls(genotype=resolved, genotype_text=format_genotype(resolved), stack=stack,
                   channels=channels, **values).checked()

    def replace(self, **changes: Any) -> "ModelSpec":
        """A copy with ``changes`` (checked again)."""
        values = {key: _normalised(key, value) for key, value in changes.items()}
        return dataclasses.replace(self, **values).checked()

    @property
    def num_anchors(self) -> int:
        return len(self.anchor_scales) * len(self.anchor_ratios)

    @property
    def name(self) -> str:
        return self.genotype.name or "genotype"

    def checked(self) -> "ModelSpec":
        """ModelError naming the first bad value; returns self."""
        def need(condition: bool, message: str) -> None:
            if not condition:
                raise ModelError(message)

        for key in ("stack", "channels", "num_classes", "num_convs", "topk_per_level",
                    "detections_per_image"):
            value = getattr(self, key)
            need(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                 f"{key} must be a positive integer (got {value!r})")
        for key, limit in (("stack", MAX_STACK), ("channels", MAX_CHANNELS),
                           ("num_classes", MAX_NUM_CLASSES),
                           ("num_convs", MAX_HEAD_CONVS)):  # one limit each: limits.py
            need(getattr(self, key) <= limit, f"{key} must be at most {limit} "
                                              f"(got {getattr(self, key)})")
        for key in FLOAT_OPTIONS:  # the rules below compare them: numbers first
            value = getattr(self, key)
            need(isinstance(value, (int, float)) and not isinstance(value, bool),
                 f"{key} must be a number (got {shown_value(value)})")
        for key in BOOL_OPTIONS:
            need(isinstance(getattr(self, key), bool),
                 f"{key} must be true or false (got {shown_value(getattr(self, key))})")
        need(self.exit_at is None or type(self.exit_at) is int,
             f"exit_at must be a whole number (got {shown_value(self.exit_at)})")
        for key, choices in (("backbone", BACKBONES), ("neck_norm", NORMS),
                             ("head_norm", HEAD_NORMS), ("box_loss", BOX_LOSSES)):
            need(getattr(self, key) in choices,
                 f"unknown {key} {getattr(self, key)!r}; choose one of: {', '.join(choices)}")
        for key in ("focal_alpha", "score_threshold", "nms_threshold", "positive_iou",
                    "negative_iou"):
            value = getattr(self, key)
            need(math.isfinite(value) and 0.0 <= value <= 1.0,
                 f"{key} must lie in [0, 1] (got {value})")
        for key in ("focal_gamma", "smooth_l1_beta", "box_loss_weight"):
            value = getattr(self, key)
            need(math.isfinite(value) and value >= 0, f"{key} must be a finite number >= 0 "
                                                      f"(got {value})")
        need(isinstance(self.frozen_stages, int) and not isinstance(self.frozen_stages, bool)
             and -1 <= self.frozen_stages <= MAX_FROZEN_STAGES,
             f"frozen_stages must be a whole number from -1 to {MAX_FROZEN_STAGES} "
             f"(got {self.frozen_stages!r})")
        need(self.negative_iou <= self.positive_iou,
             f"negative_iou ({self.negative_iou}) must not exceed positive_iou "
             f"({self.positive_iou}): anchors between the two are ignored in training")
        need(math.isfinite(self.anchor_size) and self.anchor_size > 0,
             f"anchor_size must be a finite number > 0 (got {self.anchor_size})")
        need(0.0 < self.prior_prob < 1.0, f"prior_prob must lie in (0, 1) (got {self.prior_prob})")
        need(self.exit_at is None or 1 <= self.exit_at <= self.stack,
             f"exit_at must be a stack between 1 and {self.stack} (got {self.exit_at})")
        need(bool(self.anchor_scales) and bool(self.anchor_ratios)
             and all(math.isfinite(v) and v > 0 for v in self.anchor_scales + self.anchor_ratios),
             "anchor scales and ratios must be finite positive numbers")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: the genotype as canonical text, tuples as lists."""
        return {f.name: as_json(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name != "genotype"}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], genotype_text: str | None = None,
                  source: str = "model spec") -> "ModelSpec":
        """Inverse of :meth:`to_dict`. Also reads what older checkpoints stored (the
        ``build_detector`` arguments, the genotype text beside them); ModelError for options
        this version does not know."""
        values = dict(values)
        text = values.pop("genotype_text", None) or genotype_text
        if not isinstance(text, str):
            raise ModelError(f"{source}: no genotype text")
        genotype = parse_genotype(text, f"{source}:genotype_text")
        unknown = sorted(set(values) - set(option_names()) - {"stack", "channels"})
        if unknown:
            raise ModelError(f"{source}: unknown model option(s) {', '.join(unknown)} "
                             "(written by a newer nasfpn?)")
        return cls.create(genotype, **values)


def check_model_option(key: str, value: Any) -> None:
    """ModelError when ``value`` is not a valid ``key`` option of :meth:`ModelSpec.create`
    (checked alone, as the spec checks it, without a genotype)."""
    if key not in option_names():
        raise ModelError(f"unknown model option: {key}")
    # exit_at is bounded by the stack, which is not known here: check it against its own value
    stack = value if key == "exit_at" and isinstance(value, int) and value >= 1 else DEFAULT_STACK
    values = {"stack": stack, "channels": DEFAULT_CHANNELS, key: _normalised(key, value)}
    # a rule between two options holds once both are known (ModelSpec.create): alone, each is
    # checked against the partner's widest value
    values.update({partner: loosest for partner, loosest in PAIRED_OPTIONS.get(key, {}).items()
                   if partner not in values})
    ModelSpec(genotype=None, **values).checked()


# options that are numbers (compared by the rules of ModelSpec.checked) and switches
FLOAT_OPTIONS = ("focal_alpha", "score_threshold", "nms_threshold", "positive_iou",
                 "negative_iou", "focal_gamma", "smooth_l1_beta", "box_loss_weight",
                 "anchor_size", "prior_prob")
BOOL_OPTIONS = ("frozen_bn", "deep_supervision", "separable", "allow_low_quality")
# option -> {the other option of a rule between the two: its value that lets any value pass}
PAIRED_OPTIONS: dict[str, dict[str, Any]] = {"negative_iou": {"positive_iou": 1.0},
                                             "positive_iou": {"negative_iou": 0.0}}


def option_names() -> tuple[str, ...]:
    """The fields :meth:`ModelSpec.create` takes as options (all but the genotype and N@C)."""
    return tuple(f.name for f in dataclasses.fields(ModelSpec)
                 if f.name not in ("genotype", "genotype_text", "stack", "channels"))


def _normalised(key: str, value: Any) -> Any:
    """JSON shapes back to the spec's types: lists to tuples, a dropblock dict to its spec.
    ModelError for a value that could not be stored in a checkpoint (not JSON-able)."""
    try:
        json.dumps(dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value)
    except (TypeError, ValueError):
        raise ModelError(f"model option {key}={value!r} cannot be stored in a checkpoint "
                         "(not JSON-able)") from None
    if key == "dropblock" and isinstance(value, Mapping):
        return dropblock_spec(value)
    if key in ("anchor_scales", "anchor_ratios") and value is not None:
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise ModelError(f"{key} must be a list of numbers (got {shown_value(value)})")
        return tuple(float(v) for v in value)
    return value


def dropblock_spec(dropblock: DropBlockSpec | Mapping | None) -> DropBlockSpec | None:
    """A DropBlockSpec from itself, its fields as a mapping, or None (off); ModelError else."""
    if dropblock is None or isinstance(dropblock, DropBlockSpec):
        return dropblock
    if isinstance(dropblock, Mapping):
        fields = [item.name for item in dataclasses.fields(DropBlockSpec)]
        unknown = sorted(str(key) for key in dropblock if key not in fields)
        if unknown:
            raise ModelError(f"dropblock: unknown field(s) {', '.join(unknown)}; its fields are "
                             f"{', '.join(fields)}")
        return DropBlockSpec(**dropblock)
    raise ModelError(f"dropblock must be a DropBlockSpec, a mapping or None (got {dropblock!r})")
