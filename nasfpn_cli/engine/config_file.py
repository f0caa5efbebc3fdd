"""``--config FILE``: options from a TOML file (or a run folder's ``config.json``).

Keys are the option names with underscores (``lr``, ``batch_size``), flat or grouped in the
sections of :data:`~nasfpn_cli.engine.config.SECTIONS` (``[solver]``, ``[model]``, ...).
``config.json`` of a run (``{"genotype_text", "model", "train", "data"}``) is read through its
``train`` part, so any run replays with ``nasfpn train --config runs/x/config.json -o runs/y``.
Flags given on the command line win over the file. Torch-free.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .config import SECTIONS, flatten_sections
from .run_store import check_run_config, is_run_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

READERS = {".toml": "toml", ".json": "json"}


def _read(path: Path, option: str = "--config") -> dict[str, Any]:
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"{option} {path}: expected a .toml or .json file",
                         hint="write the options as TOML (key = value), or pass a run's config.json")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{option} {path}: not UTF-8 text") from None
    try:
        values = tomllib.loads(text) if kind == "toml" else json.loads(
            text, object_pairs_hook=_unique_keys)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{option} {path}: {exc}") from None
    except _RepeatedKey as exc:  # TOML refuses a key set twice itself
        raise UsageError(f"{option} {path}: the key {exc.key!r} is set twice (JSON would keep "
                         "only the last)") from None
    if not isinstance(values, dict):
        raise UsageError(f"{option} {path}: the top level must be a table of options")
    if kind == "json" and is_run_config(values):  # a run folder's config.json
        values = check_run_config(values, path)["train"]
    return values


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are distinct (``json.loads`` keeps the last of a repeated one
    without a word)."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _RepeatedKey(key)
        seen[key] = value
    return seen


def _refuse_repeated_settings(values: dict[str, Any], path: Path) -> None:
    """UsageError naming a setting given twice: at the top level and in its section, or in two
    sections (flattening would keep one of them silently)."""
    where: dict[str, str] = {}
    for section, table in values.items():
        keys = table if section in SECTIONS and isinstance(table, dict) else {section: None}
        for key in keys:
            place = f"in [{section}]" if keys is table else "at the top level"
            if key in where:
                raise UsageError(f"--config {path}: {key} is set twice, {where[key]} and "
                                 f"{place}", hint="keep one of them")
            where[key] = place


def read_config_file(path: str | Path, known: Iterable[str]) -> dict[str, Any]:
    """The options in ``path`` as a flat dict; UsageError naming the file and the key for an
    unknown key (``known``: the option names the command takes)."""
    path = Path(path)
    values = _read(path)
    for section, table in values.items():
        if section in SECTIONS and not isinstance(table, dict):
            raise UsageError(f"--config {path}: [{section}] must be a table of options")
    _refuse_repeated_settings(values, path)
    flat = flatten_sections(values)
    known = set(known)
    unknown = sorted(set(flat) - known)
    if unknown:
        raise UsageError(f"--config {path}: unknown key(s) {', '.join(unknown)}",
                         hint="keys are the option names with underscores, e.g. batch_size; "
                              "--print-config lists them")
    for key, value in flat.items():
        if isinstance(value, list):
            flat[key] = tuple(value)
    return flat


def read_config_table(path: str | Path, table: str, known: Iterable[str],
                      option: str = "--config") -> dict[str, Any]:
    """The ``[table]`` of a TOML or JSON file (e.g. ``[proxy]`` of a proxy.toml), its keys
    checked against ``known``; UsageError naming the file and the key."""
    path = Path(path)
    values = _read(path, option)
    section = values.get(table)
    if not isinstance(section, dict):
        raise UsageError(f"{option} {path}: no [{table}] table of settings")
    strangers = sorted(set(values) - {table})
    unknown = sorted(set(section) - set(known))
    if strangers or unknown:
        raise UsageError(f"{option} {path}: unknown key(s) "
                         f"{', '.join(strangers + [f'{table}.{key}' for key in unknown])}")
    return {key: tuple(value) if isinstance(value, list) else value
            for key, value in section.items()}
