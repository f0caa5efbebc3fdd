"""The model options shared by the commands that build a detector from a genotype (``flops``,
``export``), generated from :class:`~nasfpn_cli.modeling.spec.ModelSpec` and its registries'
keys so the choices and defaults are written once."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from ..modeling.spec import ModelSpec
from .settings_options import settings_options

MODEL_OPTION_NAMES = ("backbone", "stack", "channels", "num_classes", "head_norm")
# the defaults the options show: ModelSpec's, with N@C unset (the spec's rule decides it)
_DEFAULTS = SimpleNamespace(**{**{item.name: item.default for item in dataclasses.fields(ModelSpec)
                                  if not isinstance(item.default, type(dataclasses.MISSING))},
                               "stack": None, "channels": None})


def model_options(*names: str) -> Callable:
    """A decorator adding ModelSpec's options ``names`` (default: --backbone, --stack,
    --channels, --num-classes, --head-norm), generated from the spec's declarations."""
    return settings_options(ModelSpec, names=names or MODEL_OPTION_NAMES, defaults=_DEFAULTS,
                            concrete=True)


def spec_from_options(genotype: Any, **options: Any) -> ModelSpec:
    """The ModelSpec of ``genotype`` with the command's model options (None: not given)."""
    return ModelSpec.create(genotype, **{k: v for k, v in options.items() if v is not None
                                         or k in ("stack", "channels")})
