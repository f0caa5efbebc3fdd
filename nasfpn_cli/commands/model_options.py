"""The model options shared by the commands that build a detector from a genotype (``flops``,
``export``), generated from :class:`~nasfpn_cli.modeling.spec.ModelSpec` and its registries'
keys so the choices and defaults are written once."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..modeling.spec import (BACKBONES, DEFAULT_CHANNELS, DEFAULT_STACK, HEAD_NORMS,
                             ModelSpec)
from .params import CHANNELS, NUM_CLASSES, STACK

MODEL_OPTION_NAMES = ("backbone", "stack", "channels", "num_classes", "head_norm")
PYRAMID_RULE = f"[default: the file's directive, else {DEFAULT_STACK}@{DEFAULT_CHANNELS}]"


def model_options(command: Callable) -> Callable:
    """Decorate a click command with --backbone, --stack, --channels, --num-classes and
    --head-norm (defaults from ModelSpec; N@C by the spec's rule)."""
    defaults = ModelSpec.__dataclass_fields__
    decorators = [
        click.option("--backbone", type=click.Choice(BACKBONES),
                     default=defaults["backbone"].default, show_default=True,
                     help="Backbone network."),
        click.option("--stack", type=STACK, default=None,
                     help=f"Pyramid copies N of N@C {PYRAMID_RULE}."),
        click.option("--channels", type=CHANNELS, default=None,
                     help=f"Pyramid channels C of N@C {PYRAMID_RULE}."),
        click.option("--num-classes", type=NUM_CLASSES,
                     default=defaults["num_classes"].default, show_default=True),
        click.option("--head-norm", type=click.Choice(HEAD_NORMS),
                     default=defaults["head_norm"].default, show_default=True,
                     help="Normalisation in the RetinaNet head."),
    ]
    for decorate in reversed(decorators):
        command = decorate(command)
    return command


def spec_from_options(genotype: Any, **options: Any) -> ModelSpec:
    """The ModelSpec of ``genotype`` with the command's model options (None: not given)."""
    return ModelSpec.create(genotype, **{k: v for k, v in options.items() if v is not None
                                         or k in ("stack", "channels")})
