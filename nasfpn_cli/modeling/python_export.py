"""``nasfpn export --to python``: write a model's neck as one self-contained Python file
(:mod:`.neck_source`), then check it: the file is run as a module, its ``build_neck()`` takes the
compiled neck's weights strictly and must give the same outputs on random backbone features.
"""
from __future__ import annotations

import math
import types
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import ModelError
from ..utils import atomic_write, eval_mode
from .backbones import backbone_spec
from .neck import FIRST_BACKBONE_LEVEL, Neck
from .neck_source import NeckSource
from .spec import ModelSpec

MODULE_NAME = "nasfpn_exported_neck"  # the name the file runs under when it is checked


@dataclass(frozen=True)
class WrittenNeck:
    """What was written: the file, its neck's class and the pieces it was written from."""

    path: Path
    class_name: str
    source: NeckSource


def neck_file_source(spec: ModelSpec) -> NeckSource:
    """The exported file's pieces for the neck of ``spec`` (its backbone's channels in)."""
    in_channels = backbone_spec(spec.backbone).out_channels
    return NeckSource(spec.genotype, in_channels, spec.channels, spec.stack, spec.neck_norm,
                      spec.separable)


def write_neck_file(spec: ModelSpec, path: str | Path,
                    origin: str = "nasfpn export") -> WrittenNeck:
    """Write the neck of ``spec`` as Python to ``path`` (atomically); ``origin`` says in its
    docstring what wrote it."""
    source = neck_file_source(spec)
    atomic_write(path, source.text(origin))
    return WrittenNeck(Path(path), source.class_name, source)


def load_neck_module(path: str | Path) -> types.ModuleType:
    """Run the Python file ``path`` as a fresh module (not entered in ``sys.modules``)."""
    path = Path(path)
    module = types.ModuleType(MODULE_NAME)
    module.__file__ = str(path)
    try:
        code = compile(path.read_bytes(), str(path), "exec")
        exec(code, module.__dict__)  # noqa: S102 - the file nasfpn has just written
    except (OSError, SyntaxError) as exc:
        raise ModelError(f"{path}: cannot run the exported neck: {exc}") from exc
    return module


def random_features(neck: Neck, in_channels: tuple[int, ...], image_size: int | tuple[int, int],
                    batch_size: int, seed: int = 1) -> list[Tensor]:
    """Random backbone features C3.. for an image of ``image_size`` rounded up to a multiple
    of the neck's size divisor."""
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    divisor = neck.size_divisor
    height, width = (math.ceil(max(side, 1) / divisor) * divisor for side in (height, width))
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch_size, channels, height >> (FIRST_BACKBONE_LEVEL + index),
                        width >> (FIRST_BACKBONE_LEVEL + index), generator=generator)
            for index, channels in enumerate(in_channels)]


def compare_with_neck(path: str | Path, neck: Neck, in_channels: tuple[int, ...],
                      image_size: int | tuple[int, int] = 256, batch_size: int = 1) -> float:
    """Build the file's neck, load ``neck``'s state dict into it strictly and return the largest
    absolute difference of their outputs; ModelError when the keys differ."""
    module = load_neck_module(path)
    exported: nn.Module = module.build_neck()
    state = {key: value.detach().cpu() for key, value in neck.state_dict().items()}
    try:
        exported.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ModelError(f"{path}: its neck does not take the compiled neck's weights: "
                         f"{first}") from None
    features = random_features(neck, in_channels, image_size, batch_size)
    parameter = next(neck.parameters())
    with eval_mode(neck), eval_mode(exported), torch.no_grad():
        want = neck([f.to(parameter.device) for f in features])
        got = exported(features)
    if len(got) != len(want):
        raise ModelError(f"{path}: its neck gives {len(got)} outputs, the compiled one "
                         f"{len(want)}")
    return max(float((a.float() - b.detach().cpu().float()).abs().max())
               for a, b in zip(got, want))
