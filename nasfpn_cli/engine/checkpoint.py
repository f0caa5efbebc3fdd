"""Checkpoint files: the one place that knows their layout.

A checkpoint is a dict ``{"format_version", "model", "optimizer", "scheduler", "scaler",
"epoch", "step", "rng", "metrics_history", "best_ap", "config": {"genotype_text", "model",
"train", "data"}}`` (plus ``"ema"`` with ``--ema``: the averaged weights, which evaluation and
export use); ``config.model`` is the :class:`~nasfpn_cli.modeling.spec.ModelSpec` as
JSON. Only plain containers, numbers, strings and tensors go in, so files are read with
``weights_only=True`` (no pickled code runs). Files are written atomically. Version 1 files
(no ``format_version``, written before the ModelSpec) still load; newer versions are refused
with a message naming the version.

A detector weights file (``*.safetensors`` written by ``nasfpn export``) reads as a checkpoint
too: its tensors are the model, its metadata the spec, the categories and the training size
(layout: :mod:`~nasfpn_cli.modeling.weights_file`), so eval, predict, bench and export take it.
"""
from __future__ import annotations

import functools
import io
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..limits import MAX_IMAGE_SIZE
from ..errors import CheckpointError, NasfpnError, torch_load_failure
from ..modeling.detector import Detector, build_detector
from ..modeling import weights_file
from ..modeling.tensor_checks import refuse_unusable
from ..modeling.spec import ModelSpec
from ..utils import atomic_write, listed
from .config import flatten_sections
from ..records import shown_value

FORMAT_VERSION = 2
REQUIRED_KEYS = ("model", "config")
MAX_LISTED_KEYS = 5


def write_checkpoint(state: dict[str, Any], *paths: str | Path) -> None:
    """Serialise once (stamped with :data:`FORMAT_VERSION`), then write atomically to every
    path (e.g. last.pt and best.pt)."""
    buffer = io.BytesIO()
    torch.save({**state, "format_version": FORMAT_VERSION}, buffer)
    data = buffer.getvalue()
    for path in paths:
        atomic_write(path, data)


def _load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, foreign or pickled-code files raise many kinds
        # torch's own message advises weights_only=False, i.e. running the file's code: never
        raise CheckpointError(f"{path}: cannot read checkpoint: {torch_load_failure(exc)}",
                              hint="only files written by 'nasfpn train' (or detector "
                                   ".safetensors files of 'nasfpn export') are read") from None


def _from_weights_file(path: Path) -> dict[str, Any]:
    """A detector weights file laid out as a checkpoint's state (no optimizer, no history);
    CheckpointError for a backbone-only or foreign file."""
    try:
        stored = weights_file.read_weights_file(path)
    except NasfpnError as exc:
        raise CheckpointError(str(exc)) from None
    if stored.kind != weights_file.DETECTOR_FORMAT:
        hint = ("give it to 'nasfpn train --backbone-weights'"
                if stored.kind == weights_file.BACKBONE_FORMAT else
                "only detector files written by 'nasfpn export' are read")
        raise CheckpointError(f"{path}: not a nasfpn detector weights file (format "
                              f"{stored.kind or 'not stated'})", hint=hint)
    try:
        model = stored.json_field("spec", dict, required=True)
        image_size = stored.json_field("image_size", int)
        data = stored.json_field("data", dict) or {}
        genotype = stored.metadata.get("genotype")
        if genotype is None:
            stored.json_field("genotype", required=True)
    except NasfpnError as exc:
        raise CheckpointError(str(exc), hint=exc.hint) from None
    if isinstance(model.get("genotype_text"), str) and model["genotype_text"] != genotype:
        raise CheckpointError(f"{path}: metadata fields 'genotype' and 'spec' "
                              f"(genotype_text) describe different genotypes",
                              hint=weights_file.DAMAGED_HINT)
    _check_data(data, model.get("num_classes"), f"{path}: metadata field 'data'")
    return {"model": stored.tensors, "format_version": FORMAT_VERSION,
            "config": {"genotype_text": genotype, "model": model, "data": data,
                       "train": {} if image_size is None else {"image_size": image_size}}}


def _check_data(data: Mapping[str, Any], num_classes: object, where: str) -> None:
    """A stored ``data`` (label_to_category, category_names): CheckpointError naming
    ``where`` unless each part present is a list of distinct ids / of names, one a class."""
    ids, names = data.get("label_to_category"), data.get("category_names")
    count = num_classes if type(num_classes) is int else None
    if ids is not None:
        if not isinstance(ids, list) or not all(type(c) is int for c in ids) \
                or len(set(ids)) != len(ids):
            raise CheckpointError(f"{where}: label_to_category {shown_value(ids)} is not a "
                                  f"list of distinct category ids",
                                  hint=weights_file.DAMAGED_HINT)
        count = count if count is not None else len(ids)
        if len(ids) != count:
            raise CheckpointError(f"{where}: label_to_category has {len(ids)} ids for "
                                  f"{count} classes", hint=weights_file.DAMAGED_HINT)
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names) \
                or (count is not None and len(names) != count):
            raise CheckpointError(f"{where}: category_names {shown_value(names)} is not a "
                                  f"list of {count if count is not None else 'the'} class "
                                  f"names", hint=weights_file.DAMAGED_HINT)


def stored_image_size(train: Mapping[str, Any], source: str) -> int | None:
    """The training image size stored in a run's ``train`` settings (sectioned or flat), None
    when there is none; CheckpointError naming ``source`` for one that is no size."""
    size = flatten_sections(dict(train)).get("image_size")
    if size is not None and (type(size) is not int or not 1 <= size <= MAX_IMAGE_SIZE):
        raise CheckpointError(f"{source}: stored image_size {shown_value(size)} is not a size "
                              f"in 1..{MAX_IMAGE_SIZE}", hint="pass --image-size")
    return size


@dataclass
class Checkpoint:
    """A checkpoint read from ``path``: its raw ``state`` and what it describes."""

    path: str
    state: dict[str, Any]

    @classmethod
    def read(cls, path: str | Path) -> "Checkpoint":
        """Read and check a checkpoint file (tensors on the CPU); CheckpointError saying what
        is wrong otherwise."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such checkpoint file")
        try:
            safetensors = weights_file.file_format(path) == "safetensors"
        except OSError as exc:
            raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
        state = _from_weights_file(path) if safetensors else _load(path)
        if not isinstance(state, dict):
            raise CheckpointError(f"{path}: not a nasfpn checkpoint (top level is a "
                                  f"{type(state).__name__}, expected a dict)")
        missing = [key for key in REQUIRED_KEYS if not isinstance(state.get(key), Mapping)]
        if missing:
            raise CheckpointError(f"{path}: not a nasfpn checkpoint (missing "
                                  f"{', '.join(missing)})")
        version = state.get("format_version", 1)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise CheckpointError(f"{path}: checkpoint format version {version!r} is newer "
                                  f"than this nasfpn reads (up to {FORMAT_VERSION})",
                                  hint="upgrade nasfpn to load it")
        return cls(str(path), state)

    @property
    def config(self) -> dict[str, Any]:
        return self.state["config"]

    @property
    def train_config(self) -> dict[str, Any]:
        """The stored training options, flat (empty when the file holds none)."""
        train = self.config.get("train")
        return flatten_sections(dict(train)) if isinstance(train, Mapping) else {}

    @property
    def data(self) -> dict[str, Any]:
        """What the run stored about its dataset (labels, names); empty when nothing usable."""
        data = self.config.get("data")
        return dict(data) if isinstance(data, Mapping) else {}

    @property
    def image_size(self) -> int | None:
        return stored_image_size(self.train_config, self.path)

    @property
    def label_to_category(self) -> list[int]:
        ids = self.data.get("label_to_category") or range(self.spec.num_classes)
        if not all(type(c) is int for c in ids):
            raise CheckpointError(f"{self.path}: stored label_to_category is not a list of "
                                  "category ids")
        return list(ids)

    @property
    def category_names(self) -> list[str]:
        names = self.data.get("category_names")
        return [str(n) for n in names] if names else [str(i) for i in
                                                      range(self.spec.num_classes)]

    @functools.cached_property
    def spec(self) -> ModelSpec:
        """The :class:`~nasfpn_cli.modeling.spec.ModelSpec` of the stored detector (its genotype
        parsed once)."""
        text, model = self.config.get("genotype_text"), self.config.get("model")
        if not isinstance(text, str) or not isinstance(model, Mapping):
            raise CheckpointError(f"{self.path}: the checkpoint's config lacks 'genotype_text' "
                                  "or 'model'",
                                  hint="it was not written by 'nasfpn train' from a built detector")
        try:
            return ModelSpec.from_dict(model, text, source=self.path)
        except NasfpnError as exc:
            raise CheckpointError(f"{self.path}: cannot rebuild the detector: {exc}") from exc

    @property
    def weights(self) -> Mapping[str, Any]:
        """The weights evaluation and export use: the average of a run trained with ``--ema``
        (``state["ema"]["model"]``), else the trained weights (``state["model"]``)."""
        ema = self.state.get("ema")
        if isinstance(ema, Mapping) and isinstance(ema.get("model"), Mapping):
            return ema["model"]
        return self.state["model"]

    def detector(self) -> Detector:
        """The stored detector with its weights loaded strictly, on the CPU in eval mode. The
        weights are compared with a model built on the meta device first (shapes, no memory),
        so a spec that describes a larger model than the file holds allocates nothing."""
        spec = self.spec
        weights = self.weights
        try:
            with torch.device("meta"):
                shapes = build_detector(spec).state_dict()
        except NasfpnError as exc:
            raise CheckpointError(f"{self.path}: cannot rebuild the detector: {exc}") from exc
        missing = sorted(set(shapes) - set(weights))
        unexpected = sorted(set(weights) - set(shapes))
        reshaped = sorted(k for k in set(shapes) & set(weights)
                          if tuple(shapes[k].shape) != tuple(_shape(weights[k])))
        problems = [f"{label} keys: {listed(keys, MAX_LISTED_KEYS)}" for label, keys in
                    (("missing", missing), ("unexpected", unexpected), ("wrong-shape", reshaped))
                    if keys]
        if problems:
            raise CheckpointError(f"{self.path}: weights do not fit the stored model; "
                                  + "; ".join(problems))
        refuse_unusable(weights, shapes, CheckpointError, str(self.path), "the file is damaged")
        detector = build_detector(spec)
        detector.load_state_dict(weights)
        return detector.eval()


def _shape(value: Any) -> tuple[int, ...]:
    """The shape of a stored weight (a tensor, or a plain number a foreign file holds)."""
    return tuple(value.shape) if isinstance(value, torch.Tensor) else \
        tuple(torch.as_tensor(value).shape)


def read_checkpoint(path: str | Path) -> Checkpoint:
    """:meth:`Checkpoint.read`."""
    return Checkpoint.read(path)


def load_detector(path: str | Path) -> Detector:
    """The detector a checkpoint file describes, weights loaded, on the CPU in eval mode."""
    return Checkpoint.read(path).detector()


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.cpu().numpy().tobytes()


def _bytes_tensor(data: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).clone()


def capture_rng_state() -> dict[str, Any]:
    """Python, numpy and torch (CPU and CUDA) generator states as plain containers (bytes and
    numbers, no tensors: they also travel through ``all_gather_object``)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [kind, np.asarray(keys, dtype=np.uint32).tobytes(), int(pos), int(has_gauss),
                  float(cached)],
        "torch": _tensor_bytes(torch.get_rng_state()),
    }
    if torch.cuda.is_available():
        state["cuda"] = [_tensor_bytes(s) for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.frombuffer(keys, dtype=np.uint32).copy(), pos, has_gauss,
                         cached))
    torch.set_rng_state(_bytes_tensor(state["torch"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_bytes_tensor(s) for s in state["cuda"]])


def transfer_weights(model: nn.Module, state_dict: dict[str, torch.Tensor],
                     source: str = "checkpoint") -> tuple[int, list[str]]:
    """Copy every tensor whose name and shape match (``--init-from``); returns how many were
    loaded and the names that were skipped. Raises when nothing matches at all."""
    own = model.state_dict()
    usable = {k: v for k, v in state_dict.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise CheckpointError(f"{source}: no weights match this model",
                              hint="was it trained with a different backbone or genotype?")
    model.load_state_dict(usable, strict=False)
    skipped = sorted(set(own) - set(usable))
    return len(usable), skipped

