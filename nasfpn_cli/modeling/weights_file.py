"""Safetensors files of a detector's weights, or of its backbone's alone: the one place that
knows their layout.

* A *detector* file holds the :class:`~nasfpn_cli.modeling.detector.Detector`'s state dict
  (``network.backbone.*``, ``network.neck.*``, ``network.head.*``: the keys a training
  checkpoint's ``"model"`` holds), so ``build_detector(spec).load_state_dict`` takes it strictly.
* A *backbone* file holds the backbone's tensors under torchvision's names (``conv1.weight``,
  ``layer1.0.bn1.running_mean``, ``features.0.0.weight``): it is ImageNet-style weights for
  ``nasfpn train --backbone-weights``.

``__metadata__`` (strings only, as safetensors requires) says what is needed to rebuild the
model: ``format`` (:data:`DETECTOR_FORMAT` or :data:`BACKBONE_FORMAT`), ``nasfpn_version``,
``genotype`` (canonical text), ``spec`` (the :class:`~nasfpn_cli.modeling.spec.ModelSpec` as
JSON), ``backbone`` (its name) and, for a detector taken from a checkpoint, ``data`` (JSON: the
categories it was trained on) and ``image_size`` (the training size).

Files are read through Python (the bytes, then ``safetensors.torch.load``) so any path works,
and no code in a file ever runs: safetensors holds tensors and strings only.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ModelError
from .spec import ModelSpec

SUFFIX = ".safetensors"
DETECTOR_FORMAT = "nasfpn-detector"
BACKBONE_FORMAT = "nasfpn-backbone"
NETWORK_PREFIX = "network."  # where a Detector keeps its RetinaNetNetwork
BACKBONE_ATTRIBUTE = "backbone"  # where the network keeps its backbone
HEADER_LENGTH_BYTES = 8  # safetensors: little-endian u64 header size, then the JSON header


def file_tensors(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``state`` as safetensors accepts it: detached CPU tensors, contiguous, each with its own
    storage (safetensors refuses tensors that share memory, as tied weights or views do)."""
    return {key: value.detach().cpu().contiguous().clone() for key, value in state.items()}


def detector_tensors(network: nn.Module) -> dict[str, Tensor]:
    """The state dict of the Detector around ``network`` (its keys prefixed ``network.``)."""
    return file_tensors({NETWORK_PREFIX + key: value
                         for key, value in network.state_dict().items()})


def backbone_tensors(network: nn.Module) -> dict[str, Tensor]:
    """The backbone's own state dict: torchvision's key names, no detector prefix."""
    return file_tensors(getattr(network, BACKBONE_ATTRIBUTE).state_dict())


def file_metadata(spec: ModelSpec, kind: str, extra: Mapping[str, str] | None = None
                  ) -> dict[str, str]:
    """The ``__metadata__`` of a file of ``kind`` (:data:`DETECTOR_FORMAT` or
    :data:`BACKBONE_FORMAT`) for a model of ``spec``; ``extra`` strings are added."""
    from .. import __version__

    data = {"format": kind, "nasfpn_version": __version__, "genotype": spec.genotype_text,
            "spec": json.dumps(spec.to_dict(), sort_keys=True), "backbone": spec.backbone}
    data.update({str(key): str(value) for key, value in (extra or {}).items()})
    return data


def to_bytes(tensors: Mapping[str, Tensor], metadata: Mapping[str, str]) -> bytes:
    """The safetensors serialisation of ``tensors`` with ``metadata``."""
    from safetensors.torch import save

    return save(dict(tensors), metadata=dict(metadata))


@dataclass
class WeightsFile:
    """A safetensors file read back: its tensors and its metadata (strings)."""

    path: str
    tensors: dict[str, Tensor]
    metadata: dict[str, str]

    @property
    def kind(self) -> str | None:
        """:data:`DETECTOR_FORMAT`, :data:`BACKBONE_FORMAT`, or None for a foreign file."""
        return self.metadata.get("format")

    @property
    def spec(self) -> ModelSpec:
        """The stored ModelSpec; ModelError when the metadata lacks it or it is not valid."""
        text, values = self.metadata.get("genotype"), self.metadata.get("spec")
        if text is None or values is None:
            raise ModelError(f"{self.path}: no nasfpn model description in its metadata "
                             "(not written by 'nasfpn export')")
        try:
            parsed = json.loads(values)
        except ValueError:
            raise ModelError(f"{self.path}: its 'spec' metadata is not JSON") from None
        if not isinstance(parsed, dict):
            raise ModelError(f"{self.path}: its 'spec' metadata is not a JSON object")
        return ModelSpec.from_dict(parsed, text, source=self.path)

    def json_field(self, key: str, expected: type | tuple[type, ...] = object,
                   required: bool = False) -> Any:
        """The metadata field ``key`` parsed as JSON, None when absent (and not ``required``).
        ModelError naming the field when it is not JSON, repeats a key, or is not of type
        ``expected`` (a damaged field is never silently dropped)."""
        from ..records import shown_value

        if key not in self.metadata:
            if required:
                raise ModelError(f"{self.path}: metadata field {key!r}: missing",
                                 hint=DAMAGED_HINT)
            return None

        def unique(pairs: list) -> dict:
            keys = [k for k, _ in pairs]
            twice = next((k for k in keys if keys.count(k) > 1), None)
            if twice is not None:
                raise ValueError(f"key {twice!r} given twice")
            return dict(pairs)

        try:
            value = json.loads(self.metadata[key], object_pairs_hook=unique,
                               parse_constant=lambda name: float(name))
        except (ValueError, RecursionError) as exc:
            reason = str(exc) if "given twice" in str(exc) else "not JSON"
            raise ModelError(f"{self.path}: metadata field {key!r}: {reason}",
                             hint=DAMAGED_HINT) from None
        if not isinstance(value, expected) or isinstance(value, bool) and expected is not bool:
            raise ModelError(f"{self.path}: metadata field {key!r}: expected "
                             f"{JSON_KINDS.get(expected, 'another value')}, got "
                             f"{shown_value(value)}", hint=DAMAGED_HINT)
        return value


DAMAGED_HINT = "the file was damaged or edited since 'nasfpn export' wrote it: export it again"
JSON_KINDS: dict[Any, str] = {dict: "a JSON object", list: "a JSON list", int: "a whole number",
                              str: "text"}


# what a torch file starts with: a zip archive (torch.save since 1.6), or a bare pickle
TORCH_STARTS = (b"PK\x03\x04", b"\x80")


def file_format(path: str | Path) -> str:
    """``"safetensors"`` or ``"torch"``: what the file's first bytes say (an 8-byte
    little-endian header length, then the header's JSON ``{``; a zip's ``PK`` or a pickle),
    the suffix only when the content says neither (a damaged file is then reported as what its
    name claims). A safetensors file named ``.pt`` or ``model`` reads as what it is."""
    with open(path, "rb") as handle:
        start = handle.read(HEADER_LENGTH_BYTES + 1)
    header = int.from_bytes(start[:HEADER_LENGTH_BYTES], "little")
    if len(start) == HEADER_LENGTH_BYTES + 1 and start[-1:] == b"{" and 0 < header < 1 << 32:
        return "safetensors"
    if start.startswith(TORCH_STARTS):
        return "torch"
    return "safetensors" if Path(path).suffix.lower() == SUFFIX else "torch"


def read_weights_file(path: str | Path) -> WeightsFile:
    """The tensors and metadata of a safetensors file; ModelError when it cannot be read."""
    from safetensors.torch import load

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        size = int.from_bytes(data[:HEADER_LENGTH_BYTES], "little")
        header = json.loads(data[HEADER_LENGTH_BYTES:HEADER_LENGTH_BYTES + size])
        metadata = header.get("__metadata__") or {}
        tensors = load(data)
    except Exception as exc:  # a truncated or foreign file: safetensors and json raise many kinds
        raise ModelError(f"{path}: not a readable safetensors file ({type(exc).__name__})"
                         ) from None
    if not isinstance(metadata, dict):
        metadata = {}
    return WeightsFile(str(path), tensors, {str(k): str(v) for k, v in metadata.items()})


def same_bits(a: Tensor, b: Tensor) -> bool:
    """Whether two tensors are equal bit for bit (dtype, shape and every byte; NaN equals the
    same NaN)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    bits = [t.detach().cpu().contiguous().reshape(-1).view(torch.uint8) for t in (a, b)]
    return torch.equal(*bits)
