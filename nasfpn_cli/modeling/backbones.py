"""Backbones by name, ImageNet weight loading with strict key checks, freezing options.

``build_backbone("resnet50", weights="resnet50.pth")`` loads a torchvision-style state dict (a
``.pth`` file or a ``.safetensors`` one, as timm and the Hugging Face hub publish them): the
classifier keys (``fc.*``, ``classifier.*``) are skipped, every other key must match by name and
shape, and a mismatch raises a ModelError listing the missing and unexpected keys. ``weights``
may also be a published name (``"imagenet"``) or a URL, fetched into the torch hub cache first
(:mod:`~nasfpn_cli.modeling.pretrained`).
"""
from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..errors import ModelError, torch_load_failure
from ..utils import listed
from .backbone_base import Backbone
from .layers import freeze_batchnorm
from .mobilenet import MobileNetV2
from .pretrained import regular_file, resolve_weights
from .resnet import resnet
from .tensor_checks import refuse_unusable
from .weights_file import BACKBONE_ATTRIBUTE, NETWORK_PREFIX

MAX_LISTED_KEYS = 8
# the keys of a detector's backbone in a detector's state dict (a checkpoint or .safetensors)
DETECTOR_BACKBONE_PREFIX = f"{NETWORK_PREFIX}{BACKBONE_ATTRIBUTE}."


@dataclass(frozen=True)
class BackboneSpec:
    """How to build a backbone and what it gives, known without building it."""

    factory: Callable[[], Backbone]
    out_channels: tuple[int, int, int]
    skipped_prefixes: tuple[str, ...]  # classifier keys found in ImageNet files


BACKBONES: dict[str, BackboneSpec] = {
    "resnet10": BackboneSpec(lambda: resnet("resnet10"), (128, 256, 512), ("fc.",)),
    "resnet18": BackboneSpec(lambda: resnet("resnet18"), (128, 256, 512), ("fc.",)),
    "resnet34": BackboneSpec(lambda: resnet("resnet34"), (128, 256, 512), ("fc.",)),
    "resnet50": BackboneSpec(lambda: resnet("resnet50"), (512, 1024, 2048), ("fc.",)),
    "resnet101": BackboneSpec(lambda: resnet("resnet101"), (512, 1024, 2048), ("fc.",)),
    "mobilenetv2": BackboneSpec(MobileNetV2, (32, 96, 1280), ("classifier.",)),
}


def backbone_spec(name: str) -> BackboneSpec:
    """The spec of backbone ``name``; ModelError naming the choices if unknown."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise ModelError(f"unknown backbone {name!r}; choose one of: {', '.join(BACKBONES)}") from None


def build_backbone(name: str, *, weights: str | Path | None = None, frozen_stages: int = -1,
                   frozen_bn: bool = False) -> Backbone:
    """Backbone ``name`` (see :data:`BACKBONES`), ``forward(x) -> [C3, C4, C5]``.

    ``weights``: a state-dict file to load (strict key check), a published name (``imagenet``)
    or a URL (downloaded into the torch hub cache once, :func:`~.pretrained.resolve_weights`);
    ``frozen_stages``: freeze the stem
    (0) and the first stages up to this index (-1: none); ``frozen_bn``: replace every batch norm
    by a FrozenBatchNorm2d (fixed statistics and affine parameters).
    """
    spec = backbone_spec(name)
    backbone = spec.factory()
    if weights is not None:
        load_backbone_weights(backbone, resolve_weights(weights, name), name=name,
                              skipped_prefixes=spec.skipped_prefixes)
    if frozen_bn:
        freeze_batchnorm(backbone)
    backbone.freeze_stages(frozen_stages)
    return backbone


def is_safetensors(path: Path) -> bool:
    """Whether ``path`` holds safetensors, by its first bytes (the suffix only when they say
    neither: :func:`~.weights_file.file_format`)."""
    from .weights_file import file_format

    return file_format(path) == "safetensors"


def _load_safetensors(path: Path) -> dict[str, Tensor]:
    from safetensors.torch import load

    data = path.read_bytes()  # through Python: any path works, UTF-8 or not
    try:
        return load(data)
    except Exception as exc:  # SafetensorError, or OSError for a header that lies about sizes
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ModelError(f"backbone weights {path}: cannot read this safetensors file "
                         f"({type(exc).__name__}{': ' + first if first else ''})",
                         hint="it is truncated or damaged: download it again") from None


def _load_torch(path: Path) -> object:
    try:
        data = io.BytesIO(path.read_bytes())  # by content: torch reads a name's suffix too
        return torch.load(data, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as exc:  # torch raises many types for a corrupt or foreign file
        raise ModelError(f"backbone weights {path}: cannot read ({torch_load_failure(exc)})"
                         ) from None


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a weights file: a torch file (a bare state dict, or one under
    "state_dict"/"model") or a safetensors file; ModelError naming the file otherwise."""
    path = regular_file(Path(path))
    try:
        data = _load_safetensors(path) if is_safetensors(path) else _load_torch(path)
    except OSError as exc:
        raise ModelError(f"backbone weights {path}: cannot read ({exc.strerror or exc})") from None
    for key in ("state_dict", "model"):
        if isinstance(data, Mapping) and isinstance(data.get(key), Mapping):
            data = data[key]
    if not isinstance(data, Mapping) or not all(isinstance(v, Tensor) for v in data.values()):
        raise ModelError(f"backbone weights {path}: not a state dict of tensors")
    if data and all(key.startswith("module.") for key in data):
        data = {key[len("module."):]: value for key, value in data.items()}
    return dict(data)


def load_backbone_weights(backbone: Backbone, path: str | Path, *, name: str = "backbone",
                          skipped_prefixes: tuple[str, ...] = ()) -> None:
    """Load ``path`` into ``backbone``; every non-classifier key must match by name and shape.

    ``num_batches_tracked`` counters may be absent from the file. Raises a ModelError that lists
    missing, unexpected and wrongly shaped keys.
    """
    file_state = {key: value for key, value in read_state_dict(path).items()
                  if not key.startswith(skipped_prefixes)}
    if any(key.startswith(DETECTOR_BACKBONE_PREFIX) for key in file_state):
        raise ModelError(f"backbone weights {path}: a whole detector's weights (its keys start "
                         f"with {DETECTOR_BACKBONE_PREFIX}), not a backbone's",
                         hint="nasfpn export --checkpoint FILE --backbone-only -o "
                              "backbone.safetensors writes its backbone alone")
    model_state = backbone.state_dict()
    optional = {key for key in model_state if key.endswith("num_batches_tracked")}
    file_state = {key: value for key, value in file_state.items()
                  if key in model_state or not key.endswith("num_batches_tracked")}
    missing = sorted(set(model_state) - set(file_state) - optional)
    unexpected = sorted(set(file_state) - set(model_state))
    wrong_shape = sorted(f"{key} {tuple(file_state[key].shape)} != {tuple(model_state[key].shape)}"
                         for key in set(file_state) & set(model_state)
                         if file_state[key].shape != model_state[key].shape)
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {listed(missing, MAX_LISTED_KEYS)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): "
                        f"{listed(unexpected, MAX_LISTED_KEYS)}")
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} key(s) with another shape: "
                        f"{listed(wrong_shape, MAX_LISTED_KEYS)}")
    if problems:
        raise ModelError(f"backbone weights {path} do not fit {name}:\n  " + "\n  ".join(problems),
                         hint="the file must hold a torchvision-style state dict of the same backbone")
    refuse_unusable(file_state, model_state, ModelError, f"backbone weights {path}",
                    "the file is damaged or not a weights file")
    backbone.load_state_dict(file_state, strict=False)
