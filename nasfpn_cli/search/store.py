"""The files of a search folder and of a calibration folder: named here and nowhere else, as
:class:`~nasfpn_cli.engine.run_store.RunStore` names a training run's.

Every module that reads or writes one of them asks the store for its path, so a folder's layout
is one table (:data:`SearchStore.FILES`, :data:`CalibrationStore.FILES`) and a rename is one line.
The stores write atomically (JSON and text replaced whole; JSON lines appended and fsynced by
:class:`~nasfpn_cli.search.trials.TrialLog`) and read JSON objects with a clear SearchError;
what each record must hold is checked by the module that owns it, with its
:mod:`nasfpn_cli.records` shape.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..engine.run_store import RUN_FILES
from ..errors import NasfpnError, SearchError
from ..run_lock import in_use
from ..untrusted import shown_path
from ..utils import atomic_write, atomic_write_json


def read_json_object(path: Path, missing: str) -> dict[str, Any]:
    """A JSON object file of an output folder; SearchError ``missing`` when there is none."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SearchError(missing) from None
    except (OSError, ValueError) as exc:
        raise SearchError(f"{path}: unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise SearchError(f"{path}: not a JSON object")
    return data


@dataclass(frozen=True)
class _Store:
    """A folder whose files are named by the subclass's ``FILES`` (attribute -> file name)."""

    folder: Path
    FILES: ClassVar[dict[str, str]] = {}  # each store's own table
    WHAT: ClassVar[str] = "folder"

    def __post_init__(self) -> None:
        object.__setattr__(self, "folder", Path(self.folder))

    def __getattr__(self, name: str) -> Path:
        files = type(self).FILES
        if name in files:
            return self.folder / files[name]
        raise AttributeError(f"{type(self).__name__} has no file {name!r}")

    def name(self, key: str) -> str:
        """The file name of ``key`` (for messages: "no trials.jsonl")."""
        return type(self).FILES[key]

    def read_json(self, key: str) -> dict[str, Any]:
        """The JSON object file ``key``; SearchError saying no such search/calibration here."""
        return read_json_object(getattr(self, key),
                                f"{self.folder}: no {self.WHAT} here (no {self.name(key)})")

    def write_json(self, key: str, data: Any) -> Path:
        path = getattr(self, key)
        atomic_write_json(path, data)
        return path

    def write_text(self, key: str, text: str | bytes) -> Path:
        path = getattr(self, key)
        atomic_write(path, text)
        return path


@dataclass(frozen=True)
class SearchStore(_Store):
    """A search's folder (``nasfpn search -o OUT``)."""

    FILES: ClassVar[dict[str, str]] = {
        "config": "search.json",     # what is searched, written once; the --trials target
        "trials": "trials.jsonl",    # every finished trial, appended and fsynced
        "state": "state.pt",         # the controller and the proposals still out
        "best": "best.txt",          # the best genotype so far
        "final": "final.jsonl",      # the final selection's scorings
        "supernet": "supernet.pt",   # the supernet reward's trained supernet
        "proxy_data": "proxy_data",  # the generated proxy data (a folder)
    }
    WHAT: ClassVar[str] = "search"

    def holds_a_search(self) -> bool:
        """Whether a search already ran here (trials or a controller state)."""
        return self.trials.exists() or self.state.exists()

    def sources(self) -> tuple[str, ...]:
        """The files a report of this search is made from."""
        return tuple(str(getattr(self, key)) for key in ("config", "trials", "state", "best"))


@dataclass(frozen=True)
class CalibrationStore(_Store):
    """A calibration's folder (``nasfpn search calibrate -o OUT``)."""

    FILES: ClassVar[dict[str, str]] = {
        "plan": "plan.json",              # what is calibrated, written once
        "trainings": "trainings.jsonl",   # every finished training, appended and fsynced
        "result": "calibration.json",     # the fidelity and the tables
        "plot": "calibration.png",
        "tuning": "tuning.json",          # `--tune`: the proxy ladder and its choice
        "tuning_plot": "tuning.png",
        "proxy_config": "proxy.toml",     # `--tune`'s choice, for `search --proxy-config`
    }
    WHAT: ClassVar[str] = "calibration"

    def schedule_folder(self, schedule: str) -> Path:
        """Where a schedule's proxy data lives (``proxy/``, ``reference/``)."""
        return self.folder / schedule


# every kind of output folder nasfpn writes: kind -> (what it holds, the command that writes it,
# the files that mark one); train, search and search calibrate write only into a folder of their
# own kind (or a new one)
FOLDER_KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "run": ("a training run", "nasfpn train", RUN_FILES),
    "search": ("a search", "nasfpn search",
               tuple(SearchStore.FILES[key] for key in ("config", "trials", "state"))),
    "calibration": ("a calibration", "nasfpn search calibrate",
                    tuple(CalibrationStore.FILES[key] for key in ("plan", "trainings", "result"))),
}


def refuse_other_kind(folder: str | Path, kind: str) -> None:
    """NasfpnError (exit 1) when ``folder`` holds another kind of output than ``kind`` (a
    :data:`FOLDER_KINDS` key): a training written into a search's folder mixed the two, and
    ``compare`` of it then showed both. A folder in use is left to the command's own lock,
    which refuses it naming the process that holds it."""
    if in_use(folder):
        return
    for other, (what, command, files) in FOLDER_KINDS.items():
        found = [name for name in files if other != kind and (Path(folder) / name).exists()]
        if found:
            raise NasfpnError(f"{shown_path(folder)}: holds {what} ({', '.join(found)}, written "
                              f"by {command}), not {FOLDER_KINDS[kind][0]}",
                              hint="choose another --output-dir (a new or empty folder)")


__all__ = ["CalibrationStore", "FOLDER_KINDS", "SearchStore", "read_json_object",
           "refuse_other_kind"]
