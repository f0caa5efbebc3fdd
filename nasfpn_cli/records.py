"""Field checks for the JSON records the tool writes and reads back (trials.jsonl,
trainings.jsonl, metrics.jsonl...): a file edited or damaged after the run is an error naming
``FILE:LINE``, the field and what is wrong, never a crash further on (issue 20).

A record's shape is a mapping field -> :data:`Check`; a check returns what is wrong with a value
(None: nothing). Torch-free.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], "str | None"]

# more steps, trials, epochs or seeds than any run makes: a larger counter is damage, not a run
MAX_COUNTER = 10 ** 12
DAMAGED_HINT = "the file was edited or damaged; fix or remove that line"


def shown_value(value: Any) -> str:
    """A short rendering of a JSON value for a message (a 400-digit number is not printed)."""
    if type(value) is int and value.bit_length() > 64:
        return f"a number of {len(str(abs(value)))} digits"
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def is_finite_number(value: Any) -> bool:
    """An int or float (not a bool) that is finite (an int too large for a float is not)."""
    if type(value) is int:
        return value.bit_length() <= 1023  # math.isfinite would overflow converting it
    return type(value) is float and math.isfinite(value)


def text(value: Any) -> str | None:
    return None if isinstance(value, str) else f"expected text, got {shown_value(value)}"


def flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"expected true or false, got {shown_value(value)}"


def whole(low: int = 0, high: int = MAX_COUNTER) -> Check:
    """A whole number in ``low..high`` (a bool or 1.0 is not one)."""
    def check(value: Any) -> str | None:
        if type(value) is int and low <= value <= high:
            return None
        return f"expected a whole number in {low}..{high}, got {shown_value(value)}"
    return check


def finite(low: float | None = None, high: float | None = None) -> Check:
    """A finite number, within ``low..high`` where given."""
    def check(value: Any) -> str | None:
        if is_finite_number(value) and (low is None or value >= low) and (
                high is None or value <= high):
            return None
        bound = ("" if low is None and high is None else f" >= {low:g}" if high is None
                 else f" <= {high:g}" if low is None else f" in {low:g}..{high:g}")
        return f"expected a finite number{bound}, got {shown_value(value)}"
    return check


def optional(inner: Check) -> Check:
    """``inner``, or null."""
    return lambda value: None if value is None else inner(value)


def list_of(item: Check, what: str, least: int = 0) -> Check:
    """A list of at least ``least`` items, every one passing ``item`` (``what`` names the
    items in a message)."""
    def check(value: Any) -> str | None:
        if not isinstance(value, list) or len(value) < least:
            fewest = f" (at least {least})" if least else ""
            return f"expected a list of {what}{fewest}, got {shown_value(value)}"
        for index, element in enumerate(value):
            problem = item(element)
            if problem is not None:
                return f"item {index}: {problem}"
        return None
    return check


def mapping_of(item: Check, what: str) -> Check:
    """An object whose every value passes ``item`` (keys are text in JSON)."""
    def check(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"expected an object of {what}, got {shown_value(value)}"
        for key, element in value.items():
            problem = item(element)
            if problem is not None:
                return f"{shown_value(key)}: {problem}"
        return None
    return check


def one_of(choices: Any) -> Check:
    """Text that is one of ``choices`` (any container of names, e.g. a registry)."""
    def check(value: Any) -> str | None:
        if isinstance(value, str) and value in choices:
            return None
        return f"expected one of {', '.join(choices)}, got {shown_value(value)}"
    return check


def nested(shape: Mapping[str, Check], required: tuple[str, ...] = (),
           closed: bool = False) -> Check:
    """An object checked field by field like a record (:func:`record_problem`); ``closed``:
    a field outside ``shape`` is a problem too (options passed on as keyword arguments)."""
    def check(value: Any) -> str | None:
        problem = record_problem(value, shape, required)
        if problem is None and closed:
            unknown = sorted(set(value) - set(shape))
            problem = (unknown[0], "unknown field") if unknown else None
        if problem is None:
            return None
        field, message = problem
        return f"field {field!r}: {message}" if field else message
    return check


def record_problem(record: Any, shape: Mapping[str, Check], required: tuple[str, ...]
                   ) -> tuple[str, str] | None:
    """``(field, what is wrong)`` for the first bad field of ``record``; None when it is good.

    Fields of ``required`` must be present; the others of ``shape`` are checked when present;
    fields outside ``shape`` are left alone (a later version may add some).
    """
    if not isinstance(record, dict):
        return "", f"expected a JSON object, got {shown_value(record)}"
    for field in required:
        if field not in record:
            return field, "missing"
    for field, check in shape.items():
        if field in record:
            problem = check(record[field])
            if problem is not None:
                return field, problem
    return None


def located_error(where: str, problem: tuple[str, str], error: type[Exception]) -> Exception:
    """``error("WHERE: field 'F': what is wrong")`` with the hint for damaged files."""
    field, message = problem
    return error(f"{where}: " + (f"field {field!r}: " if field else "") + message,
                 hint=DAMAGED_HINT)


def check_record(record: Any, shape: Mapping[str, Check], required: tuple[str, ...],
                 where: str, error: type[Exception]) -> dict[str, Any]:
    """``record`` when it fits ``shape``; otherwise :func:`located_error` raised."""
    problem = record_problem(record, shape, required)
    if problem is not None:
        raise located_error(where, problem, error)
    return record
