"""What a model card tells of the run a checkpoint comes from: its stored training config, its
classes and its evaluation (``eval.json`` beside the checkpoint, as ``nasfpn eval --json``
prints it, else the matching evaluation record of the run's ``metrics.jsonl``).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import RunFileError
from ..modeling.model_card import AP_KEYS, RunFacts
from .checkpoint import Checkpoint
from .run_store import METRICS_FILE, RunStore

EVAL_FILE = "eval.json"  # `nasfpn eval CKPT ... --json > RUN/eval.json`


def _eval_file(path: Path) -> dict[str, Any]:
    """eval.json, checked: an object whose AP figures are numbers."""
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFileError(f"{path}: cannot read the evaluation: {exc}") from None
    if not isinstance(values, dict):
        raise RunFileError(f"{path}: expected a JSON object of metrics (as `nasfpn eval --json` "
                           f"prints), got {type(values).__name__}")
    for key in AP_KEYS:
        value = values.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise RunFileError(f"{path}: field {key!r} must be a number, got {value!r}")
    return values


def _run_evaluation(folder: Path, epoch: Any) -> tuple[dict[str, Any], str]:
    """The evaluation record of ``epoch`` in the run's metrics.jsonl (else its best AP)."""
    records = [r for r in RunStore(folder).metrics() if r.get("kind") == "eval"
               and isinstance(r.get("AP"), (int, float))]
    if not records:
        return {}, ""
    same = [r for r in records if r.get("epoch") == epoch]
    record = same[-1] if same else max(records, key=lambda r: r["AP"])
    return record, f"validation during training, epoch {record['epoch']}, from {METRICS_FILE}"


def _dataset(train: Mapping[str, Any]) -> str | None:
    """The training data's folder name (or its annotation file's), as stored."""
    for key in ("data_dir", "train_ann"):
        value = train.get(key)
        if isinstance(value, str) and value.strip():
            path = Path(value.rstrip("/\\"))
            return path.name if key == "data_dir" else path.stem
    return None


def run_facts(checkpoint: str | Path) -> RunFacts:
    """The card's facts of the run ``checkpoint`` belongs to."""
    stored = Checkpoint.read(checkpoint)
    folder = Path(checkpoint).parent
    train = stored.config.get("train")
    evaluation = folder / EVAL_FILE
    if evaluation.is_file():
        metrics, source = _eval_file(evaluation), f"nasfpn eval, from {EVAL_FILE}"
    else:
        metrics, source = _run_evaluation(folder, stored.state.get("epoch"))
    names = stored.data.get("category_names")
    return RunFacts(checkpoint=Path(checkpoint).name,
                    train=dict(train) if isinstance(train, Mapping) else {},
                    metrics=metrics, metrics_source=source,
                    category_names=tuple(str(n) for n in names) if names else (),
                    image_size=stored.image_size, dataset=_dataset(stored.train_config))
