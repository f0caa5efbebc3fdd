"""A run folder and its files: the one place that knows their names and layout.

``nasfpn train -o OUT`` writes ``OUT/config.json`` (``{"genotype_text", "model", "train",
"data", "numerics"}``: what the run trains, written once at its start; ``numerics`` is what
``--amp`` and ``--channels-last`` meant on its device, e.g. ``{"precision": "bf16",
"channels_last": true, "device": "cpu"}``), ``OUT/metrics.jsonl`` (records
appended as the run goes, :mod:`.metrics_log`), ``OUT/last.pt`` every epoch and ``OUT/best.pt``
at the best validation AP (:mod:`.checkpoint`), and holds ``OUT/.lock`` while it runs
(:mod:`nasfpn_cli.run_lock`). Training writes through a :class:`RunStore`; ``compare``, ``plot``,
``train --config RUN/config.json`` and the resume read through it, so every reader checks what it
reads the same way (errors name the file, the line and the field).

Torch-free to import: checkpoints are read and written through :mod:`.checkpoint` on first use.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RunFileError
from ..run_lock import folder_lock
from ..utils import atomic_write_json
from ..records import shown_value
from .metrics_log import MetricsLog, read_metrics

if TYPE_CHECKING:
    from ..genotype import Genotype
    from .checkpoint import Checkpoint

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
LAST_FILE = "last.pt"
BEST_FILE = "best.pt"
RUN_FILES = (CONFIG_FILE, METRICS_FILE, LAST_FILE, BEST_FILE)  # what a run writes
# the parts of config.json and the JSON type each must have ("data" may be missing: old runs)
CONFIG_PARTS: dict[str, type] = {"genotype_text": str, "model": dict, "train": dict}
OPTIONAL_PARTS: dict[str, type] = {"data": dict, "backbone_weights": dict, "numerics": dict}
JSON_TYPES = {str: "text", dict: "an object"}


def is_run_config(values: Any) -> bool:
    """Whether parsed JSON looks like a run's config.json (rather than a file of options)."""
    return isinstance(values, dict) and "genotype_text" in values


def check_run_config(values: Any, path: str | Path) -> dict[str, Any]:
    """``values`` (config.json as parsed) when it has every part with its type;
    :class:`RunFileError` ``PATH: field 'F': ...`` otherwise."""
    hint = "it was not written by 'nasfpn train', or was edited since"
    if not isinstance(values, dict):
        raise RunFileError(f"{path}: not a nasfpn run configuration (expected a JSON object, "
                           f"got {shown_value(values)})", hint=hint)
    for part, kind in (*CONFIG_PARTS.items(), *OPTIONAL_PARTS.items()):
        if part not in values:
            if part in CONFIG_PARTS:
                raise RunFileError(f"{path}: field {part!r}: missing", hint=hint)
        elif not isinstance(values[part], kind):
            raise RunFileError(f"{path}: field {part!r}: expected {JSON_TYPES[kind]}, got "
                               f"{shown_value(values[part])}", hint=hint)
    return values


def read_run_config(path: str | Path) -> dict[str, Any]:
    """A run's config.json at ``path``, checked (:func:`check_run_config`); RunFileError naming
    the file when it cannot be read or is not one."""
    path = Path(path)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:  # not UTF-8, not JSON
        raise RunFileError(f"{path}: not a nasfpn run configuration ({exc})") from None
    return check_run_config(values, path)


def genotype_file_change(name: str, stored_text: str) -> str | None:
    """How the genotype file or bundled name ``name`` no longer gives the genotype a run
    stored as ``stored_text`` (None when it still does): a replay or a resume trains the
    stored text, and says so when the file moved on."""
    from ..errors import NasfpnError
    from ..genotype import format_genotype, load_genotype

    try:
        current = format_genotype(load_genotype(name))
    except NasfpnError as exc:
        return f"no longer loads ({str(exc).splitlines()[0]})"
    return None if current == stored_text else "has changed since the run"


def stored_genotype(config: Mapping[str, Any], path: str | Path) -> "Genotype":
    """The genotype a run trained, parsed from its config.json's ``genotype_text`` (the file
    it was read from may have changed since); GenotypeError located in that text."""
    from ..genotype import parse_genotype

    return parse_genotype(config["genotype_text"], f"{path} (genotype_text)")


def replayed_genotype(path: str | Path, name: str) -> "Genotype | None":
    """For ``train --config RUN/config.json``: the genotype that run trained (its stored text,
    not the file named in its settings, which may have been edited since), with one warning
    when that file no longer gives the same genotype. None when ``path`` is not a run's
    config.json (a file of options) or ``name``, the genotype asked for, is not the one it
    names (``--set model.genotype=...`` wins)."""
    from ..console import print_warning
    from .config import flatten_sections

    path = Path(path)
    if path.suffix.lower() != ".json":
        return None
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # not read as a run's configuration: --config reports what is wrong
    if not is_run_config(values):
        return None
    config = check_run_config(values, path)
    genotype = stored_genotype(config, path)
    if flatten_sections(config["train"]).get("genotype") != name:
        return None
    change = genotype_file_change(name, config["genotype_text"])
    if change is not None:
        print_warning(f"{path}: training the genotype the run stored (genotype_text); its "
                      f"genotype {name} {change}")
    return genotype


class RunStore:
    """The files of the run folder ``path`` (it need not exist yet)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def last(self) -> Path:
        """``last.pt``: the checkpoint of the last finished epoch (what ``--resume`` reads)."""
        return self.path / LAST_FILE

    @property
    def best(self) -> Path:
        """``best.pt``: the checkpoint of the best validation AP so far."""
        return self.path / BEST_FILE

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file a run writes (what an output of another command must not replace)."""
        return tuple(self.path / name for name in RUN_FILES)

    def is_run(self) -> bool:
        """Whether the folder holds a run (its config.json)."""
        return self.config_path.is_file()

    def lock(self) -> AbstractContextManager[Path]:
        """The folder's exclusive lock (:func:`~nasfpn_cli.run_lock.folder_lock`)."""
        return folder_lock(self.path)

    # config.json

    def config(self) -> dict[str, Any]:
        """config.json, checked (:func:`read_run_config`)."""
        return read_run_config(self.config_path)

    def write_config(self, config: Mapping[str, Any]) -> None:
        """Write config.json (atomically, the folder created when missing)."""
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.config_path, dict(config))

    def genotype(self) -> "Genotype":
        """The genotype the run trained (:func:`stored_genotype`)."""
        return stored_genotype(self.config(), self.config_path)

    # metrics.jsonl

    def metrics(self) -> list[dict[str, Any]]:
        """The checked records of metrics.jsonl (:func:`~.metrics_log.read_metrics`)."""
        return read_metrics(self.metrics_path)

    def metrics_log(self) -> MetricsLog:
        """The writer that appends records to metrics.jsonl."""
        return MetricsLog(self.metrics_path)

    # checkpoints

    def read_last(self) -> "Checkpoint":
        from .checkpoint import Checkpoint

        return Checkpoint.read(self.last)

    def write_checkpoint(self, state: dict[str, Any], *, best: bool = False) -> None:
        """Write ``state`` to last.pt, and to best.pt as well when ``best``."""
        from .checkpoint import write_checkpoint

        write_checkpoint(state, self.last, *([self.best] if best else []))
