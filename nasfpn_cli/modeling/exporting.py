"""Exporting the raw network (images -> head outputs) to ONNX or TorchScript, and its weights to
safetensors.

* ONNX: the legacy TorchScript-based exporter of ``torch.onnx`` (the newer torch.export-based
  one needs the ``onnxscript`` package, which nasfpn does not require), static shapes, one input
  ``images`` of shape B x 3 x H x W (already normalised), outputs ``cls_p3 .. cls_p7`` (B x A*K x
  H_l x W_l logits) then ``box_p3 .. box_p7`` (B x A*4 x H_l x W_l deltas), channel
  ``a * K + k``. The opset and this layout are stored in the file's metadata properties.
* TorchScript: the network is *scripted* by default, so the file accepts any image size and
  keeps ``forward_exits``; ``method="trace"`` records one forward pass at the export size instead.
  The same metadata travels as the extra file ``nasfpn.json``.
* safetensors: the weights only, as the detector's state dict or (``backbone_only``) the
  backbone's under torchvision's names, with what rebuilds the model in the file's metadata
  (layout: :mod:`~nasfpn_cli.modeling.weights_file`). Verified by reading every tensor back bit
  for bit, then rebuilding the network from the metadata and comparing its outputs.
* python: the neck alone as one self-contained PyTorch file (:mod:`.neck_source`), verified by
  running it with the compiled neck's weights next to that neck.
* hub: a folder for a model hub (weights, config, genotype, drawing, neck.py, model card;
  :mod:`.hub_export`), verified as its weights file and its neck.py are.

The formats are the registry :data:`FORMATS`: a format is chosen by ``to`` or by the suffix of
the output path.

Files are written to a temporary name beside the target and renamed when complete, then (by
default) run once on random input and compared with PyTorch.
"""
from __future__ import annotations

import io
import json
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import ModelError, UsageError
from ..utils import atomic_write, eval_mode
from . import weights_file
from .model_card import RunFacts
from .spec import ModelSpec

DEFAULT_OPSET = 17
# the legacy exporter stops at 20; below 9 it cannot express nearest upsampling by a scale
MIN_OPSET, MAX_OPSET = 9, 20
TORCHSCRIPT_METHODS = ("script", "trace")
INPUT_NAME = "images"


@dataclass
class ExportResult:
    """What was written: where, how, and the tensors that go in and come out."""

    path: Path
    format: str
    method: str
    input_shape: tuple[int, ...]
    output_names: list[str]
    output_shapes: list[tuple[int, ...]]
    opset: int | None = None
    size_bytes: int = 0
    max_abs_diff: float | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    tensor_count: int | None = None  # weights files: tensors written (all read back bit-exact)
    parameter_count: int | None = None  # weights files: parameters of the written module
    compared: str = "vs PyTorch"  # what verification ran against what
    files: list[Path] = field(default_factory=list)  # a folder's files (hub)
    parts: list["ExportResult"] = field(default_factory=list)  # what a folder's verify checks
    notes: list[str] = field(default_factory=list)  # what the user should know (warnings)


@dataclass(frozen=True)
class ExportOptions:
    """How to export, for every format (each reads what concerns it).

    ``spec`` describes the network (safetensors stores it to rebuild the model); ``metadata``
    adds strings to a safetensors file's metadata (the categories, the training size);
    ``facts`` is the run a hub folder's card describes, ``inputs`` the files the command read
    (never written over)."""

    image_size: int | tuple[int, int] = 640
    batch_size: int = 1
    opset: int = DEFAULT_OPSET
    torchscript_method: str = "script"
    backbone_only: bool = False
    spec: ModelSpec | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    facts: RunFacts | None = None
    inputs: tuple[str, ...] = ()


def output_names(strides: tuple[int, ...]) -> list[str]:
    """``cls_pL`` for every level, then ``box_pL`` (L = log2 of the stride)."""
    levels = [int(round(math.log2(stride))) for stride in strides]
    return [f"cls_p{level}" for level in levels] + [f"box_p{level}" for level in levels]


class FlatOutputs(nn.Module):
    """The network with its ``(cls_list, box_list)`` flattened into one tuple, so every output
    can carry a name in ONNX."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        cls_logits, box_deltas = self.network(images)
        return tuple(cls_logits) + tuple(box_deltas)


def _example_input(network: nn.Module, image_size: int | tuple[int, int], batch_size: int) -> Tensor:
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    if min(height, width, batch_size) < 1:
        raise ModelError(f"export needs a positive batch and image size (got {batch_size} x "
                         f"{height} x {width})")
    parameter = next(network.parameters())
    generator = torch.Generator().manual_seed(0)
    return torch.randn(batch_size, 3, height, width, generator=generator).to(parameter.device)


def _first_line(error: Exception, limit: int = 300) -> str:
    """The first line of an exporter error (they may append whole graph dumps)."""
    line = (str(error).strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[:limit] + "..."


def _metadata(network: nn.Module, opset: int | None) -> dict[str, str]:
    data = {
        "producer": "nasfpn",
        "num_classes": str(network.num_classes),
        "num_anchors": str(network.num_anchors),
        "strides": ",".join(str(s) for s in network.strides),
        "layout": "cls: B x (A*K) x H x W logits, box: B x (A*4) x H x W deltas, channel a*C + c",
        "exit_at": str(getattr(network, "exit_at", "")),
    }
    if opset is not None:
        data["opset"] = str(opset)
    return data


def export_onnx(network: nn.Module, path: str | Path, image_size: int | tuple[int, int] = 640,
                *, batch_size: int = 1, opset: int = DEFAULT_OPSET) -> ExportResult:
    """Write ``network`` (images -> raw head outputs) as a static-shape ONNX file."""
    import onnx

    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ModelError(f"ONNX opset {opset} is not supported; choose {MIN_OPSET} to {MAX_OPSET}")
    path = Path(path)
    images = _example_input(network, image_size, batch_size)
    names = output_names(tuple(network.strides))
    metadata = _metadata(network, opset)
    with eval_mode(network), torch.no_grad():
        outputs = FlatOutputs(network)(images)
        # exported into memory, then written atomically by Python: the exporters' C++ bindings
        # refuse paths that are not UTF-8, Python's file functions take any path
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(FlatOutputs(network), (images,), buffer, dynamo=False,
                                  opset_version=opset, input_names=[INPUT_NAME],
                                  output_names=names, do_constant_folding=True)
            except Exception as exc:  # unsupported opset or operator: say which, no traceback
                raise ModelError(f"{path}: ONNX export failed (opset {opset}): "
                                 f"{type(exc).__name__}: {_first_line(exc)}") from exc
        model = onnx.load_from_string(buffer.getvalue())
        onnx.helper.set_model_props(model, metadata)
        onnx.checker.check_model(model)
        atomic_write(path, model.SerializeToString())
    return ExportResult(path, "onnx", "torch.onnx legacy exporter",
                        tuple(images.shape), names, [tuple(t.shape) for t in outputs], opset,
                        path.stat().st_size, metadata=metadata)


def export_torchscript(network: nn.Module, path: str | Path,
                       image_size: int | tuple[int, int] = 640, *, batch_size: int = 1,
                       method: str = "script") -> ExportResult:
    """Write ``network`` as TorchScript, scripted (any input size) or traced (export size)."""
    if method not in TORCHSCRIPT_METHODS:
        raise UsageError(f"TorchScript method {method!r} is not one of {', '.join(TORCHSCRIPT_METHODS)}")
    path = Path(path)
    images = _example_input(network, image_size, batch_size)
    metadata = _metadata(network, None)
    with eval_mode(network), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outputs = FlatOutputs(network)(images)
        try:
            if method == "script":
                compiled = torch.jit.script(network)
            else:
                compiled = torch.jit.trace(network, (images,), check_trace=False)
        except Exception as exc:
            raise ModelError(f"{path}: TorchScript {method} failed: {type(exc).__name__}: "
                             f"{_first_line(exc)}",
                             hint="try the other method (--torchscript trace|script)") from exc
        buffer = io.BytesIO()  # saved into memory, then written by Python (any path)
        torch.jit.save(compiled, buffer, _extra_files={"nasfpn.json": json.dumps(metadata)})
        atomic_write(path, buffer.getvalue())
    return ExportResult(path, "torchscript", method, tuple(images.shape),
                        output_names(tuple(network.strides)), [tuple(t.shape) for t in outputs],
                        None, path.stat().st_size, metadata=metadata)


def _run_exported(result: ExportResult, images: Tensor) -> list[Tensor]:
    if result.format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(Path(result.path).read_bytes(),
                                               providers=["CPUExecutionProvider"])
        return [torch.from_numpy(a) for a in session.run(result.output_names,
                                                          {INPUT_NAME: images.cpu().numpy()})]
    loaded = torch.jit.load(io.BytesIO(Path(result.path).read_bytes()), map_location="cpu")
    with torch.no_grad():
        cls_logits, box_deltas = loaded(images.cpu())
    return list(cls_logits) + list(box_deltas)


def verify_export(result: ExportResult, network: nn.Module, seed: int = 1) -> float:
    """Run the written file on a random input of the export shape next to ``network``; the
    largest absolute difference over all outputs (also stored in ``result``)."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(result.input_shape, generator=generator)
    with eval_mode(network), torch.no_grad():
        parameter = next(network.parameters())
        expected = FlatOutputs(network)(images.to(parameter.device))
    got = _run_exported(result, images)
    result.max_abs_diff = max(float((a.float() - b.detach().cpu().float()).abs().max())
                              for a, b in zip(got, expected))
    return result.max_abs_diff


def export_safetensors(network: nn.Module, path: str | Path, spec: ModelSpec,
                       image_size: int | tuple[int, int] = 640, *, batch_size: int = 1,
                       backbone_only: bool = False,
                       metadata: Mapping[str, str] | None = None) -> ExportResult:
    """Write the weights of ``network`` (built from ``spec``) as safetensors: the detector's
    state dict, or the backbone's under torchvision's names (``backbone_only``)."""
    path = Path(path)
    kind = weights_file.BACKBONE_FORMAT if backbone_only else weights_file.DETECTOR_FORMAT
    module = network.backbone if backbone_only else network
    tensors = (weights_file.backbone_tensors if backbone_only
               else weights_file.detector_tensors)(network)
    stored = weights_file.file_metadata(spec, kind, metadata)
    atomic_write(path, weights_file.to_bytes(tensors, stored))
    images = _example_input(network, image_size, batch_size)
    return ExportResult(path, "safetensors", "backbone" if backbone_only else "detector",
                        tuple(images.shape), [], [], None, path.stat().st_size,
                        metadata=stored, tensor_count=len(tensors),
                        parameter_count=sum(p.numel() for p in module.parameters()),
                        compared="rebuilt from the file's metadata vs PyTorch")


def verify_safetensors(result: ExportResult, network: nn.Module, seed: int = 1) -> float:
    """Read the written file back: every tensor must equal the model's bit for bit (ModelError
    otherwise); then rebuild the module from the file's metadata alone, load the tensors
    strictly and compare its outputs with ``network``'s on a random input. Returns the largest
    absolute difference (also stored in ``result``)."""
    from .backbones import build_backbone
    from .detector import build_detector

    backbone_only = result.metadata["format"] == weights_file.BACKBONE_FORMAT
    loaded = weights_file.read_weights_file(result.path)
    expected = (weights_file.backbone_tensors if backbone_only
                else weights_file.detector_tensors)(network)
    differing = sorted(set(expected) ^ set(loaded.tensors)) + sorted(
        key for key in set(expected) & set(loaded.tensors)
        if not weights_file.same_bits(expected[key], loaded.tensors[key]))
    if differing or loaded.metadata != result.metadata:
        raise ModelError(f"{result.path}: the file read back differs from what was written "
                         f"({len(differing)} differing tensors, metadata "
                         f"{'equal' if loaded.metadata == result.metadata else 'differs'})")
    spec = loaded.spec
    if backbone_only:
        holder: nn.Module = build_backbone(spec.backbone, frozen_bn=spec.frozen_bn)
        rebuilt, original = holder, network.backbone
    else:
        holder = build_detector(spec)
        rebuilt, original = holder.network, network
    try:
        holder.load_state_dict(loaded.tensors, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{result.path}: its tensors do not fit the model its metadata "
                         f"describes: {_first_line(exc)}") from None
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(result.input_shape, generator=generator)
    with eval_mode(original), eval_mode(rebuilt), torch.no_grad():
        parameter = next(original.parameters())
        want = _flat(original(images.to(parameter.device)))
        got = _flat(rebuilt(images))
    result.max_abs_diff = max((float((a.float() - b.detach().cpu().float()).abs().max())
                               for a, b in zip(got, want)), default=0.0)
    return result.max_abs_diff


def _flat(outputs) -> list[Tensor]:
    """Tensors of a network's (cls, box) lists or of a backbone's feature list, in order."""
    if isinstance(outputs, Tensor):
        return [outputs]
    return [t for item in outputs for t in _flat(item)]


@dataclass(frozen=True)
class ExportFormat:
    """One export format: the suffixes that name it, how to write and verify it, whether it
    can hold the backbone alone and whether it writes a folder."""

    name: str
    suffixes: tuple[str, ...]
    write: Callable[[nn.Module, Path, ExportOptions], ExportResult]
    verify: Callable[[ExportResult, nn.Module], float]
    backbone_only: bool = False
    folder: bool = False  # writes a folder of files, named by -o


def _write_onnx(network: nn.Module, path: Path, options: ExportOptions) -> ExportResult:
    return export_onnx(network, path, options.image_size, batch_size=options.batch_size,
                       opset=options.opset)


def _write_torchscript(network: nn.Module, path: Path, options: ExportOptions) -> ExportResult:
    return export_torchscript(network, path, options.image_size, batch_size=options.batch_size,
                              method=options.torchscript_method)


def _spec(options: ExportOptions, format_name: str) -> ModelSpec:
    if options.spec is None:
        raise ModelError(f"{format_name} export needs the model's spec (to rebuild it)")
    return options.spec


def _write_safetensors(network: nn.Module, path: Path, options: ExportOptions) -> ExportResult:
    _spec(options, "safetensors")
    return export_safetensors(network, path, options.spec, options.image_size,
                              batch_size=options.batch_size, backbone_only=options.backbone_only,
                              metadata=options.metadata)


def _write_python(network: nn.Module, path: Path, options: ExportOptions) -> ExportResult:
    from .python_export import write_neck_file

    written = write_neck_file(_spec(options, "python"), path)
    images = _example_input(network, options.image_size, options.batch_size)
    return ExportResult(path, "python", f"plain PyTorch, class {written.class_name}",
                        tuple(images.shape), [], [], None, path.stat().st_size,
                        parameter_count=sum(p.numel() for p in network.neck.parameters()),
                        compared="the file's neck vs the compiled neck, same weights")


def verify_python(result: ExportResult, network: nn.Module) -> float:
    """Run the written file's neck with ``network``'s neck weights next to that neck on random
    backbone features for the export's image size; the largest absolute difference."""
    from .python_export import compare_with_neck

    batch, _, height, width = result.input_shape
    result.max_abs_diff = compare_with_neck(result.path, network.neck,
                                            tuple(network.backbone.out_channels),
                                            (height, width), batch)
    return result.max_abs_diff


def _write_hub(network: nn.Module, path: Path, options: ExportOptions) -> ExportResult:
    from .hub_export import FILES, write_hub_folder

    spec = _spec(options, "hub")
    folder = write_hub_folder(
        network, path, spec, options.facts or RunFacts(),
        lambda target: export_safetensors(network, target, spec, options.image_size,
                                          metadata=dict(options.metadata)),
        list(options.inputs))
    images = _example_input(network, options.image_size, options.batch_size)
    parts = [folder.weights,
             ExportResult(path / FILES.neck, "python", "", tuple(images.shape), [], [])]
    return ExportResult(path, "hub", f"model-hub folder, neck class {folder.class_name}",
                        tuple(images.shape), [], [], None,
                        sum(f.stat().st_size for f in folder.files),
                        parameter_count=sum(p.numel() for p in network.parameters()),
                        compared="model.safetensors rebuilt and neck.py vs PyTorch",
                        files=folder.files, parts=parts,
                        notes=[folder.drawing_note] if folder.drawing_note else [])


def verify_hub(result: ExportResult, network: nn.Module) -> float:
    """Verify the folder's weights file and neck.py; the largest difference of the two."""
    result.max_abs_diff = max(FORMATS[part.format].verify(part, network)
                              for part in result.parts)
    return result.max_abs_diff


FORMATS: dict[str, ExportFormat] = {f.name: f for f in (
    ExportFormat("onnx", (".onnx",), _write_onnx, verify_export),
    ExportFormat("torchscript", (".pt", ".ts", ".torchscript"), _write_torchscript,
                 verify_export),
    ExportFormat("safetensors", (weights_file.SUFFIX,), _write_safetensors, verify_safetensors,
                 backbone_only=True),
    ExportFormat("python", (".py",), _write_python, verify_python),
    ExportFormat("hub", (), _write_hub, verify_hub, folder=True),
)}
SUFFIX_FORMATS = {suffix: f.name for f in FORMATS.values() for suffix in f.suffixes}


def export_format(path: str | Path, to: str | None = None, *, backbone_only: bool = False) -> str:
    """The format to write ``path`` in: ``to`` when given, else the one its suffix names.
    UsageError when neither tells, when ``to`` contradicts the suffix (of a file: a folder
    format takes any name), or when the format cannot hold the backbone alone and
    ``backbone_only`` asks for it."""
    suffix = Path(path).suffix.lower()
    named = SUFFIX_FORMATS.get(suffix)
    if to is not None and to not in FORMATS:
        raise UsageError(f"unknown export format {to!r}; choose one of: {', '.join(FORMATS)}")
    if to is None and named is None:
        known = ", ".join(f"*{s}" for s in SUFFIX_FORMATS)
        raise UsageError(f"{path}: cannot tell the export format from {suffix or 'no suffix'!s}",
                         hint=f"name the output {known}, or pass --to")
    if to is not None and FORMATS[to].folder:
        named = None  # a folder's name may hold a dot: no suffix speaks for it
    if to is not None and named is not None and to != named:
        raise UsageError(f"--to {to} contradicts the output's suffix {suffix} ({named})",
                         hint=f"leave out --to, or name the output *{FORMATS[to].suffixes[0]}")
    chosen = to or named
    if backbone_only and not FORMATS[chosen].backbone_only:
        able = [f for f in FORMATS.values() if f.backbone_only]
        raise UsageError(f"--backbone-only writes weights only; {chosen} cannot hold the "
                         "backbone alone",
                         hint="name the output " + " or ".join(f"*{f.suffixes[0]}" for f in able))
    return chosen


def export_network(network: nn.Module, path: str | Path, image_size: int | tuple[int, int] = 640,
                   *, to: str | None = None, batch_size: int = 1, opset: int = DEFAULT_OPSET,
                   torchscript_method: str = "script", backbone_only: bool = False,
                   spec: ModelSpec | None = None, metadata: Mapping[str, str] | None = None,
                   facts: RunFacts | None = None, inputs: tuple[str, ...] = (),
                   verify: bool = True) -> ExportResult:
    """Export to format ``to`` (default: the one the suffix of ``path`` names), then
    (``verify``) check the written file against ``network``. safetensors, python and hub need
    ``spec``; a hub folder's card describes the run ``facts`` tells of."""
    chosen = FORMATS[export_format(path, to, backbone_only=backbone_only)]
    options = ExportOptions(image_size, batch_size, opset, torchscript_method, backbone_only,
                            spec, dict(metadata or {}), facts, tuple(str(i) for i in inputs))
    result = chosen.write(network, Path(path), options)
    if verify:
        chosen.verify(result, network)
    return result
