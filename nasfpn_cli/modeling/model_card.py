"""The model card (``README.md``) of a hub folder: YAML front matter the model hubs read (library,
tags, datasets, metrics), then the architecture, the training, the evaluation, how to load the
model and its limits.

Every name that comes from outside (genotype, categories, dataset, paths, stored settings) is
written as data: a double-quoted YAML scalar with escapes (:func:`yaml_string`), escaped
markdown text (:func:`markdown_text`), or a fenced block longer than any run of backticks in it
(:func:`code_block`). Torch-free.
"""
from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..genotype import level_name, plan
from .spec import ModelSpec

LIBRARY_NAME = "nasfpn"
TAGS = ("object-detection", "retinanet", "feature-pyramid-network", "nas-fpn", "pytorch")
AP_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl")
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")
MAX_LISTED_CATEGORIES = 50


@dataclass(frozen=True)
class RunFacts:
    """What a card tells of the run a model comes from (all optional: a card can be written
    for weights with no run behind them)."""

    checkpoint: str = ""  # the checkpoint's file name
    train: Mapping[str, Any] = field(default_factory=dict)  # stored training config
    metrics: Mapping[str, Any] = field(default_factory=dict)  # AP figures (COCO names)
    metrics_source: str = ""  # where the figures come from, said as text
    category_names: tuple[str, ...] = ()
    image_size: int | None = None
    dataset: str | None = None  # the training data's folder name


@dataclass(frozen=True)
class HubFiles:
    """The file names of a hub folder the card links to."""

    weights: str = "model.safetensors"
    config: str = "config.json"
    genotype: str = "genotype.txt"
    drawing: str = "neck.svg"
    neck: str = "neck.py"
    card: str = "README.md"


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def yaml_string(text: Any) -> str:
    """``text`` as a double-quoted YAML scalar: printable ASCII as is (but ``"`` and ``\\``),
    everything else as an escape YAML 1.1 and 1.2 both read."""
    out = []
    for char in str(text):
        if char in '"\\':
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.append(_escape(char))
    return '"' + "".join(out) + '"'


def markdown_text(text: Any) -> str:
    """``text`` shown literally in markdown: one line, markdown punctuation backslash-escaped,
    ``<``/``>``/``&`` as entities (no HTML), unprintable characters as visible escapes."""
    shown = "".join(c if c.isprintable() else _escape(c) for c in str(text))
    return html.escape(MARKDOWN_SPECIAL.sub(r"\\\1", shown), quote=False)


def code_block(text: str, language: str = "") -> str:
    """``text`` in a fenced block whose fence no line of it can close."""
    longest = max((len(run) for run in re.findall(r"`+|~+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip(chr(10))}\n{fence}"


def _front_matter(spec: ModelSpec, facts: RunFacts) -> list[str]:
    lines = ["---", f"library_name: {yaml_string(LIBRARY_NAME)}",
             "pipeline_tag: object-detection", "tags:"]
    lines += [f"- {yaml_string(tag)}" for tag in (*TAGS, spec.backbone)]
    lines.append("datasets:" if facts.dataset else "datasets: []")
    if facts.dataset:
        lines.append(f"- {yaml_string(facts.dataset)}")
    shown = [key for key in AP_KEYS if _number(facts.metrics.get(key)) is not None]
    lines.append("metrics:" if shown else "metrics: []")
    lines += [f"- {yaml_string(key)}" for key in shown]
    return [*lines, "---"]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def _copies(stack: int) -> str:
    return "one copy" if stack == 1 else f"{stack} stacked copies"


def _architecture(spec: ModelSpec, files: HubFiles, class_name: str,
                  parameters: int | None) -> list[str]:
    genotype = spec.genotype
    levels = " ".join(level_name(level) for level in sorted(genotype.outputs))
    counted = f", {parameters:,} parameters in all" if parameters is not None else ""
    options = f"neck norm `{spec.neck_norm}`" + (", separable convs" if spec.separable else "")
    return ["## Architecture", "",
            f"A RetinaNet detector: backbone `{spec.backbone}`, then the feature pyramid "
            f"{markdown_text(spec.name)} ({_copies(spec.stack)}) with {spec.channels} "
            f"channels ({options}), outputs {levels}, then a shared head with `{spec.head_norm}` "
            f"norm for {spec.num_classes} classes{counted}.",
            "", f"One copy of the pyramid (file `{files.drawing}`):", "",
            f"![the pyramid's cells by level]({files.drawing})", "",
            f"The genotype (file `{files.genotype}`):", "", code_block(spec.genotype_text), "",
            f"`{files.neck}` is the same neck in plain PyTorch (class `{class_name}`, "
            "torch only): its cells written out, the graph in its docstring."]


def _shown_setting(value: Any) -> Any:
    """A stored setting as the card shows it: absolute paths by their last part only."""
    if isinstance(value, str) and (value.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", value)):
        return ".../" + re.split(r"[\\/]", value.rstrip("/\\"))[-1]
    if isinstance(value, Mapping):
        return {key: _shown_setting(item) for key, item in value.items()}
    return value


def _training(facts: RunFacts) -> list[str]:
    lines = ["## Training", ""]
    if not facts.train:
        return lines + ["No training configuration was stored with these weights."]
    size = f" at {facts.image_size} px" if facts.image_size else ""
    data = f" on {markdown_text(facts.dataset)}" if facts.dataset else ""
    lines += [f"Trained with `nasfpn train`{data}{size} (checkpoint "
              f"{markdown_text(facts.checkpoint)}). The stored configuration (absolute paths "
              "shortened to their last part):", "",
              code_block(json.dumps(_shown_setting(facts.train), indent=2, ensure_ascii=True),
                         "json")]
    if facts.category_names:
        names = ", ".join(markdown_text(name) for name in
                          facts.category_names[:MAX_LISTED_CATEGORIES])
        more = len(facts.category_names) - MAX_LISTED_CATEGORIES
        lines += ["", f"Classes ({len(facts.category_names)}): {names}"
                  + (f" and {more} more" if more > 0 else "") + "."]
    return lines


def _evaluation(facts: RunFacts) -> list[str]:
    lines = ["## Evaluation", ""]
    values = {key: _number(facts.metrics.get(key)) for key in AP_KEYS}
    if all(value is None for value in values.values()):
        return lines + ["The run stored no evaluation; score the model with `nasfpn eval` "
                        "(below)."]
    lines += [f"COCO bbox metrics ({markdown_text(facts.metrics_source)}; fractions, -1: no "
              "ground truth of that size):", "",
              "| " + " | ".join(AP_KEYS) + " |", "|" + "---:|" * len(AP_KEYS),
              "| " + " | ".join("-" if v is None else f"{v:.3f}" for v in values.values()) + " |"]
    per_class = facts.metrics.get("per_class")
    if isinstance(per_class, Mapping) and per_class:
        lines += ["", "| class | AP |", "|---|---:|"]
        for name, value in list(per_class.items())[:MAX_LISTED_CATEGORIES]:
            number = _number(value)
            lines.append(f"| {markdown_text(name)} | "
                         f"{'-' if number is None else f'{number:.3f}'} |")
    return lines


def _loading(files: HubFiles, class_name: str) -> list[str]:
    python = f"""import torch
from safetensors.torch import load_file

from neck import build_neck  # {files.neck}, beside this card

state = load_file("{files.weights}")
prefix = "network.neck."
neck = build_neck()  # {class_name}
neck.load_state_dict({{k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}})
neck.eval()
outputs = neck([c3, c4, c5])  # your backbone's features -> P3..P7"""
    return ["## How to load", "",
            "With nasfpn (the whole detector; the weights file carries the model spec and "
            "genotype that rebuild it):", "",
            code_block(f"nasfpn eval {files.weights} --ann instances_val.json --images val/\n"
                       f"nasfpn predict {files.weights} image.jpg -o detections/", "sh"), "",
            "In plain PyTorch (the neck alone, for your own detector; only torch and "
            "safetensors needed):", "", code_block(python, "python")]


def _limits(spec: ModelSpec, facts: RunFacts, files: HubFiles) -> list[str]:
    size = f"{facts.image_size} px" if facts.image_size else "the training size"
    divisor = 2 ** max(plan(spec.genotype).levels.values())
    return ["## Limits", "",
            f"- Trained for these {spec.num_classes} classes only, on the data named above; "
            "the scores say nothing of other data.",
            f"- Images are padded to a multiple of {divisor} px; results "
            f"are best near {size}.",
            f"- `{files.neck}` holds the neck only: the backbone, head, anchors and "
            "post-processing come from your framework and must match the ones described here "
            "to reuse more than the neck's weights.",
            "- NAS-FPN training is known to be unstable at large learning rates; the figures "
            "above are from one run."]


def card_text(spec: ModelSpec, facts: RunFacts, *, class_name: str,
              parameters: int | None = None, files: HubFiles = HubFiles()) -> str:
    """The README.md of a hub folder for a model of ``spec`` trained as ``facts`` says."""
    title = f"# {markdown_text(spec.name)}: a RetinaNet detector with this feature pyramid"
    sections = [_front_matter(spec, facts), [title, "",
                "Exported by nasfpn (`nasfpn export --to hub`). Files: "
                + ", ".join(f"`{name}`" for name in (files.weights, files.config, files.genotype,
                                                     files.drawing, files.neck)) + "."],
                _architecture(spec, files, class_name, parameters), _training(facts),
                _evaluation(facts), _loading(files, class_name), _limits(spec, facts, files)]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def shown_settings(train: Mapping[str, Any]) -> dict[str, Any]:
    """The training config as config.json and the card store it (absolute paths shortened)."""
    return _shown_setting(dict(train))

