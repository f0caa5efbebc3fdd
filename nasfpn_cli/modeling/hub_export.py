"""``nasfpn export --to hub -o DIR``: a folder in the model-hub convention, ready for
``huggingface-cli upload`` (nasfpn itself never touches the network).

``DIR`` gets the detector's weights (``model.safetensors``, readable by ``nasfpn eval``), its
``config.json`` (the model spec, the genotype, the classes and the stored training config), the
genotype file, a drawing of one copy of the pyramid, the neck as plain PyTorch (``neck.py``) and
the model card (``README.md``, :mod:`.model_card`). The file names are fixed: nothing of a
genotype or a run names a file.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from torch import nn

from ..errors import ModelError, NasfpnError
from ..utils import atomic_write
from .model_card import HubFiles, RunFacts, card_text, shown_settings
from .python_export import write_neck_file
from .spec import ModelSpec

FILES = HubFiles()


@dataclass
class HubFolder:
    """What was written into the folder, and what the drawing became."""

    path: Path
    files: list[Path] = field(default_factory=list)
    class_name: str = ""
    drawing_note: str = ""  # why the drawing is a .dot file, when it is
    weights: Any = None  # what the weights writer returned (exporting's ExportResult)


def _config(spec: ModelSpec, facts: RunFacts, class_name: str) -> dict:
    from .. import __version__

    return {"library_name": "nasfpn", "nasfpn_version": __version__,
            "architecture": "retinanet", "neck_class": class_name,
            "genotype_text": spec.genotype_text, "model": spec.to_dict(),
            "num_classes": spec.num_classes, "category_names": list(facts.category_names),
            "image_size": facts.image_size, "train": shown_settings(facts.train),
            "files": {"weights": FILES.weights, "genotype": FILES.genotype,
                      "neck": FILES.neck, "card": FILES.card}}


def _draw(spec: ModelSpec, folder: Path, inputs: list[str]) -> tuple[str, str]:
    """Draw one copy of the pyramid as SVG; without graphviz its DOT text instead. Returns the
    file name written and, for DOT, why."""
    from ..render import GraphvizMissing, layout_to_dot, pyramid_layout, render_dot

    dot_text = layout_to_dot(pyramid_layout(spec.genotype, 1))
    try:
        render_dot(dot_text, folder / FILES.drawing, inputs=inputs)
        return FILES.drawing, ""
    except GraphvizMissing as exc:
        return Path(FILES.drawing).with_suffix(".dot").name, str(exc)


def write_hub_folder(network: nn.Module, folder: str | Path, spec: ModelSpec, facts: RunFacts,
                     write_weights: Callable[[Path], Any],
                     inputs: Sequence[str] = ()) -> HubFolder:
    """Write the hub folder for ``network`` (built from ``spec``, trained as ``facts`` says).
    ``write_weights(path)`` writes the weights file (the safetensors export, handed in by
    :mod:`.exporting`, which calls this); ``inputs``: files never to write over."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ModelError(f"{folder}: not a folder (a hub export writes a folder of files)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NasfpnError(f"cannot create the folder {folder}: {exc.strerror or exc}") from exc
    result = HubFolder(folder)
    inputs = [str(item) for item in inputs]
    result.weights = write_weights(folder / FILES.weights)
    neck = write_neck_file(spec, folder / FILES.neck, origin="nasfpn export --to hub")
    result.class_name = neck.class_name
    atomic_write(folder / FILES.config, json.dumps(_config(spec, facts, neck.class_name),
                                                   indent=2, ensure_ascii=True) + "\n",
                 inputs=inputs)
    genotype_text = spec.genotype.source or spec.genotype_text
    atomic_write(folder / FILES.genotype, genotype_text, inputs=inputs)
    drawing, result.drawing_note = _draw(spec, folder, inputs)
    files = HubFiles(drawing=drawing)
    parameters = sum(p.numel() for p in network.parameters())
    atomic_write(folder / FILES.card, card_text(spec, facts, class_name=neck.class_name,
                                                parameters=parameters, files=files),
                 inputs=inputs)
    result.files = [folder / name for name in (files.weights, files.config, files.genotype,
                                               files.drawing, files.neck, files.card)]
    return result
