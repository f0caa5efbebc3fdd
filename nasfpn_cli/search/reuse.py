"""Trainings one calibration recorded, reused by another (``calibrate --reference-from DIR``).

A reference training is the expensive part of a calibration (12 epochs on 600 images, against
the proxy's 4 on 300), and it does not depend on the proxy being judged: a second calibration of
another proxy, or one with more architectures (K >= 16), needs the same reference trainings of
the architectures the two share. A recorded training is reused for a planned one when both run
the same settings on the same data (:func:`schedule_fingerprint`) and the same architecture
(its genotype text, whatever it is called in either plan), seed index for seed index over the
distinct trainings of the folders given, in their order. It is copied into the new
``trainings.jsonl`` with ``worker`` "reused from DIR" and its own seed, so the new folder stands
alone and ``--resume`` never trains it. A training is counted once: a second record of the same
seed (the copy that a folder reusing another holds, when both are given) is the same training,
not another seed.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..errors import SearchError
from ..utils import file_sha256

# reward options that change what is recorded, not what is trained
NOT_TRAINING = ("curve",)
DATA_FILES = ("train_ann", "val_ann")  # annotation files: identified by their content


def _file_digest(path: str) -> str:
    """sha256 of a data file's content (an edited annotation file is other data)."""
    try:
        return file_sha256(path)
    except OSError as exc:
        raise SearchError(f"{path}: cannot read it to match recorded trainings ({exc.strerror})"
                          ) from None


def _recorded_numerics(settings: dict[str, Any]) -> dict[str, Any]:
    """amp as "on" or "off" and channels_last as a bool, ``auto`` decided on this machine: the
    form both had in every fingerprint before they became modes, so a recorded training keeps
    its fingerprint (fp32 and contiguous: absent from older plans, the proxy's defaults)."""
    from ..engine.distributed import resolve_device
    from ..engine.precision import resolved_modes

    amp, layout = resolved_modes(settings["amp"], settings["channels_last"],
                                 resolve_device(settings["device"]))
    return {"amp": amp, "channels_last": layout == "on"}


def schedule_fingerprint(options: dict[str, Any]) -> str:
    """A hash of what a training under reward ``options`` depends on: every resolved proxy
    setting (recipe, epochs, images, image size, score, data...) and the content of the
    annotation files it names. Two schedules with one fingerprint train the same way."""
    from .proxy_task import ProxySettings

    settings = ProxySettings.from_options(options).to_dict()
    for name in NOT_TRAINING:
        settings.pop(name, None)
    settings.update(_recorded_numerics(settings))
    data = {name: _file_digest(settings[name]) for name in DATA_FILES if settings.get(name)}
    text = json.dumps({"settings": settings, "data": data}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def structure_key(genotype_text: str) -> str:
    """A hash of a calibrated architecture's genotype text without its ``genotype NAME`` line:
    the same pyramid has one key whatever a plan calls it."""
    lines = genotype_text.splitlines()
    if lines and lines[0].startswith("genotype "):
        lines = lines[1:]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


class RecordedTrainings:
    """The finished trainings of earlier calibrations, by (schedule fingerprint, architecture
    structure key), each list in seed-index order, folder after folder, one record per seed.
    The calibration module reads the folders and hands each one's records over with
    :meth:`add`."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], list[Any]] = defaultdict(list)
        self.origin: dict[int, Path] = {}

    def add(self, folder: Path, records: list[Any], fingerprints: dict[str, str],
            structures: dict[str, str]) -> None:
        """The records of the calibration in ``folder``: ``fingerprints`` by schedule,
        ``structures`` (:func:`structure_key`) by architecture name, as its plan says."""
        usable = [record for record in records if record.error is None
                  and record.architecture in structures and record.schedule in fingerprints]
        for record in sorted(usable, key=lambda r: r.seed_index):
            key = (fingerprints[record.schedule], structures[record.architecture])
            if any(known.seed == record.seed for known in self.by_key[key]):
                continue  # a copy of a training already here: one seed, counted once
            self.by_key[key].append(record)
            self.origin[id(record)] = folder

    def find(self, fingerprint: str, arch_key: str, seed_index: int) -> tuple[Any, Path] | None:
        """The recorded training to reuse for seed index ``seed_index`` of this schedule and
        architecture (``arch_key``: its :func:`structure_key`; the ``seed_index``-th training
        recorded), and the folder it comes from."""
        matches = self.by_key.get((fingerprint, arch_key), [])
        if seed_index >= len(matches):
            return None
        record = matches[seed_index]
        return record, self.origin[id(record)]
