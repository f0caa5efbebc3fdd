"""``OUT/trials.jsonl``: one JSON line per finished trial, appended, flushed and fsynced.

The file is the search's record of truth: a resumed search reads it back, re-tells the controller
what it had not yet checkpointed, and never runs a finished trial again. A line torn by a kill in
the middle of a write can only be the last one; reading repairs it by cutting it off.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import SearchError
from ..records import Check, check_record, finite, flag, list_of, optional, text, whole
from .. import utils
from ..utils import JsonlWriter


OPTIONAL_FIELDS = ("score", "macs", "rungs")
# a reward or score beyond this is a broken reward, not a measurement (its means would overflow)
MAX_REWARD = 1e12
REWARD = finite(-MAX_REWARD, MAX_REWARD)


@dataclass
class TrialRecord:
    """One finished trial. ``step`` is its place in completion order (the line number, from 0);
    ``trial`` the order in which it was proposed; ``cached`` marks a reward reused by hash."""

    step: int
    trial: int
    hash: str
    genotype: str
    reward: float
    seconds: float
    worker: str
    decisions: list[int]
    cached: bool = False
    error: str | None = None
    finished_at: float = 0.0  # unix time the record was written
    score: float | None = None  # with --macs-target: the reward before the MACs penalty
    macs: int | None = None  # with --macs-target: the neck's multiply-adds
    rungs: list[float] | None = None  # with --scheduler asha: the score at each budget reached

    def to_json(self) -> str:
        """One line; the fields of cost-aware and ASHA searches only where they are used."""
        data = {key: value for key, value in asdict(self).items()
                if value is not None or key not in OPTIONAL_FIELDS}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrialRecord":
        """A record from its checked JSON object (see :data:`TRIAL_SHAPE`)."""
        return cls(**{key: data[key] for key in TRIAL_SHAPE if key in data})


# each field of a trial record as read back (optional ones: OPTIONAL_FIELDS and the defaulted)
TRIAL_SHAPE: dict[str, Check] = {
    "step": whole(), "trial": whole(), "hash": text, "genotype": text, "reward": REWARD,
    "seconds": finite(0), "worker": text, "decisions": list_of(whole(), "whole numbers"),
    "cached": flag, "error": optional(text), "finished_at": finite(0),
    "score": optional(REWARD), "macs": optional(whole(0, 10 ** 18)),
    "rungs": optional(list_of(REWARD, "finite numbers")),
}
TRIAL_REQUIRED = ("step", "trial", "hash", "genotype", "reward", "seconds", "worker", "decisions")


def check_decisions(records: list[TrialRecord], space: Any, path: Path) -> None:
    """SearchError naming the line of the first record whose decisions do not fit ``space``
    (a file edited by hand, or one from another search)."""
    for record in records:
        try:
            space.check(record.decisions)
        except SearchError as exc:
            raise SearchError(f"{path}:{record.step + 1}: trial {record.trial}: {exc}",
                              hint="the file does not belong to this search's space") from None


def read_json_lines(path: Path, repair: bool = False, what: str = "JSON line"
                    ) -> list[tuple[int, Any]]:
    """:func:`nasfpn_cli.utils.read_json_lines` raising SearchError (a search's files)."""
    return utils.read_json_lines(path, repair, what, error=SearchError)


def read_trials(path: Path, repair: bool = False) -> list[TrialRecord]:
    """All complete trial records of ``path`` (see :func:`read_json_lines`); a line that is not
    a trial record, or out of step order, raises SearchError naming the line."""
    records: list[TrialRecord] = []
    for number, data in read_json_lines(path, repair, "trial record"):
        record = TrialRecord.from_dict(check_record(data, TRIAL_SHAPE, TRIAL_REQUIRED,
                                                    f"{path}:{number}", SearchError))
        if record.step != len(records):
            raise SearchError(f"{path}:{number}: step {record.step}, expected {len(records)}")
        records.append(record)
    return records


class TrialLog(JsonlWriter):
    """Appends records (anything with ``to_json()``) to a JSONL file such as ``trials.jsonl``,
    each one on disk before ``append`` returns."""

    def append(self, record: Any) -> None:
        self.write(record.to_json())
