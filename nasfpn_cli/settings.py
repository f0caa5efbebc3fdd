"""Settings declared once: every field of a settings dataclass carries its help, section, range,
choices and flag as metadata, and the rest is derived from that one declaration: the click
options (with a prefix: ``train``'s ``--lr`` and the search's ``--proxy-lr`` are one field), the
value checks, ``--config`` and ``--set`` keys, ``--print-config`` and the help grouped by section.

    @dataclass
    class Solver:
        lr: float = setting(0.01, help="Peak learning rate (default {default}).",
                            section="solver", minimum=0, min_open=True)

Torch- and click-free, so the genotype path and every ``--help`` import it cheaply.
"""
from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class Setting:
    """What one field means to a user: its help (``{default}`` is replaced by the default the
    command shows), its section, its bounds, its choices and how it is spelt on the command line.

    ``choices`` may be a zero-argument callable (a registry's keys, read when the option is made).
    ``flag`` names the option when it is not the field's name (``data`` for ``data_dir``);
    ``path`` is "file", "folder" or "any" for a path; ``switch`` gives a bool ``--x/--no-x``
    rather than ``--x`` alone; ``cli`` False keeps a field out of the generated options (it is
    still a ``--config``/``--set`` key); ``required`` makes the option one a command needs.
    """

    help: str = ""
    section: str = ""
    minimum: float | None = None
    maximum: float | Callable[[], float] | None = None
    min_open: bool = False
    max_open: bool = False
    choices: tuple[str, ...] | Callable[[], Any] | None = None
    unit: str = ""
    metavar: str | None = None
    flag: str | None = None
    short: str | None = None
    path: str | None = None
    switch: bool = False
    cli: bool = True
    range_text: str | None = None
    unset_help: str = ""
    bare: str | None = None
    negated: str | None = None
    required: bool = False

    def upper(self) -> float | None:
        """The upper bound (a callable one, e.g. processes per machine, read now)."""
        return self.maximum() if callable(self.maximum) else self.maximum

    def choice_list(self) -> tuple[str, ...] | None:
        """The allowed values, or None when any value of the type goes."""
        if self.choices is None:
            return None
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def flag_name(self, name: str, prefix: str = "") -> str:
        """The long option of field ``name``: ``--`` + prefix + the flag or the dashed name."""
        return "--" + prefix + (self.flag or name.replace("_", "-"))


def setting(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING,
            **meta: Any) -> Any:
    """A dataclass field whose metadata is a :class:`Setting` built from ``meta``."""
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={"setting": Setting(**meta)})


def part(factory: Callable[[], Any]) -> Any:
    """A dataclass field holding a settings object of its own (``TrainConfig.model``): its
    declared fields read as the holder's (:func:`declared`, :func:`setting_value`), so flags,
    ``--config``/``--set`` keys and sections stay flat while the object is nested. Flat names
    must be unique across the tree."""
    return dataclasses.field(default_factory=factory, metadata={"part": True})


def _held(cls_or_instance: Any, item: dataclasses.Field) -> Any:
    """The object a part field holds: an instance's, or the default one for a class."""
    return (item.default_factory() if isinstance(cls_or_instance, type)
            else getattr(cls_or_instance, item.name))


def declared(cls_or_instance: Any) -> Iterator[tuple[dataclasses.Field, Setting]]:
    """The fields of a settings dataclass that carry a :class:`Setting`, in declaration order,
    those of its parts (:func:`part`) in the part's place."""
    for item in dataclasses.fields(cls_or_instance):
        if item.metadata.get("part"):
            yield from declared(type(_held(cls_or_instance, item)))
            continue
        meta = item.metadata.get("setting")
        if meta is not None:
            yield item, meta


def owner_of(instance: Any, name: str) -> Any:
    """The object of the settings tree ``instance`` that has field ``name`` (itself or a part);
    AttributeError when none has."""
    parts = [item for item in dataclasses.fields(instance) if item.metadata.get("part")]
    if name in {item.name for item in dataclasses.fields(instance)} - {p.name for p in parts}:
        return instance
    for item in parts:
        try:
            return owner_of(getattr(instance, item.name), name)
        except AttributeError:
            continue
    raise AttributeError(f"{type(instance).__name__} has no setting {name!r}")


def setting_value(instance: Any, name: str) -> Any:
    """The value of setting ``name`` of a settings tree, wherever in it the field is."""
    return getattr(owner_of(instance, name), name)


@dataclass(frozen=True)
class OptionSource:
    """Declared fields that give a settings class its flags: ``names`` of ``cls`` (None: all),
    the help quoting ``defaults`` (an instance), under ``section`` (None: each field's own).
    A class whose flags are partly another's declarations (the proxy's training settings are
    ``train``'s) says so with a classmethod ``option_sources()``."""

    cls: type
    names: tuple[str, ...] | None = None
    defaults: Any = None
    section: str | None = None


def option_sources(cls: type) -> list[OptionSource]:
    """Where the flags of settings class ``cls`` come from: its ``option_sources()``, or all
    its own declared fields with its defaults."""
    sources = getattr(cls, "option_sources", None)
    return list(sources()) if sources is not None else [OptionSource(cls, None, cls())]


def annotation_text(item: dataclasses.Field) -> str:
    """A field's type as written (``int``, ``float | None``), whether or not its module
    postpones annotations (a plug-in's ``int`` is the class, not the text)."""
    kind = item.type
    return kind if isinstance(kind, str) else getattr(kind, "__name__", None) \
        if isinstance(kind, type) else str(kind).replace("typing.", "")


def meta_of(cls: Any, name: str) -> Setting:
    """The :class:`Setting` of field ``name`` of ``cls`` (or of one of its parts)."""
    return _field_of(cls, name).metadata["setting"]


def _field_of(cls: Any, name: str) -> dataclasses.Field:
    for item, _ in declared(cls):
        if item.name == name:
            return item
    raise KeyError(name)


def sections(cls: Any) -> dict[str, tuple[str, ...]]:
    """Field names by section, in declaration order."""
    grouped: dict[str, list[str]] = {}
    for item, meta in declared(cls):
        grouped.setdefault(meta.section, []).append(item.name)
    return {section: tuple(names) for section, names in grouped.items()}


# the annotation words of settings fields -> the Python types a value may have
_TYPE_WORDS: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,),
                                            "bool": (bool,), "None": (type(None),)}
_TYPE_NAMES = {"int": "a whole number", "float": "a number", "str": "text",
               "bool": "true or false", "None": "unset"}
_PLURAL_NAMES = {"int": "whole numbers", "float": "numbers"}


def type_problem(value: Any, annotation: str) -> str | None:
    """Why ``value`` does not fit a field annotated ``annotation`` (``int | None``,
    ``tuple[float, float]``...), or None when it fits. Bools are not numbers here."""
    for option in (part.strip() for part in annotation.split("|")):
        if option.startswith(("tuple[", "dict[")):
            container = tuple if option.startswith("tuple[") else dict
            if container is dict and isinstance(value, dict):
                return None
            if container is tuple and isinstance(value, (tuple, list)):
                word = option[6:].split(",")[0].strip(" ]")
                if all(type_problem(v, word) is None for v in value):
                    return None
            continue
        kinds = _TYPE_WORDS.get(option)
        if kinds is None or (isinstance(value, kinds) and
                             (bool in kinds or not isinstance(value, bool))):
            return None
    names = []
    for option in (part.strip() for part in annotation.split("|")):
        if option.startswith("tuple["):
            word = option[6:].split(",")[0].strip(" ]")
            names.append(f"a list of {_PLURAL_NAMES.get(word, word)}")
        else:
            names.append(_TYPE_NAMES.get(option, option))
    return "must be " + " or ".join(names)


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def value_problem(value: Any, annotation: str, meta: Setting) -> str | None:
    """Why ``value`` is not a valid value of a field (type, finiteness, bounds, choices), or
    None. The words are the ones every command prints after the option's name."""
    wrong = type_problem(value, annotation)
    if wrong is not None:
        return f"{wrong}, got {value!r}"
    numbers = value if isinstance(value, tuple) else (value,)
    if not all(math.isfinite(v) for v in numbers if isinstance(v, float)):
        return f"must be finite, got {value}"
    unit = f" {meta.unit}" if meta.unit else ""
    for number in numbers:
        if not isinstance(number, (int, float)) or isinstance(number, bool):
            continue
        low, high = meta.minimum, meta.upper()
        if low is not None and (number < low or (meta.min_open and number == low)):
            return meta.range_text or (
                f"must be {'>' if meta.min_open else '>='} {_number(low)}{unit}, got {value}")
        if high is not None and (number > high or (meta.max_open and number == high)):
            return meta.range_text or (
                f"must be {'<' if meta.max_open else '<='} {_number(high)}{unit}, got {value}")
    allowed = meta.choice_list()
    if allowed is not None and value is not None and value not in allowed:
        return f"must be one of {', '.join(allowed)}, got {value!r}"
    return None


def path_problem(value: Any, meta: Setting) -> str | None:
    """Why a path setting names the wrong kind of thing that exists now (a folder where a file
    goes), or None: found while the settings are checked, not after a long training that
    ends writing there."""
    if meta.path != "file" or not isinstance(value, str) or not value:
        return None
    try:
        folder = Path(value).is_dir()
    except OSError:  # a name too long for the file system: the write will say so
        return None
    return f"must name a file, got the folder {value!r}" if folder else None


def check_declared(instance: Any, problem: Callable[[str, str], Exception]) -> None:
    """Check every declared field of ``instance`` (its parts' too), and that a file setting
    names no folder; raise ``problem(field, message)``."""
    for item, meta in declared(instance):
        value = setting_value(instance, item.name)
        wrong = value_problem(value, annotation_text(item), meta) or path_problem(value, meta)
        if wrong is not None:
            raise problem(item.name, wrong)


def declared_check(cls: Any, name: str) -> Callable[[Any], str | None]:
    """A :mod:`nasfpn_cli.records` check for field ``name`` of ``cls``: its declared type,
    bounds and choices (a stored value is held to the limits of its option)."""
    item = _field_of(cls, name)
    meta = item.metadata["setting"]
    return lambda value: value_problem(value, annotation_text(item), meta)


def declared_shape(cls: Any) -> dict[str, Callable[[Any], str | None]]:
    """:func:`declared_check` of every declared field of ``cls``, by name."""
    return {item.name: declared_check(cls, item.name) for item, _ in declared(cls)}


def parse_assignment(text: str) -> tuple[str, str | None, Any]:
    """``--set`` text ``section.field=value`` (or ``field=value``) -> (field, section, value).

    The value is read as TOML (``0.01``, ``true``, ``[0.5, 2.0]``, ``"text"``); anything that is
    not a TOML value is taken as text, so ``--set model.backbone=resnet50`` needs no quotes.
    """
    key, equals, raw = text.partition("=")
    key = key.strip()
    if not equals or not key:
        # the words fit --set and a reward's argument (supernet:steps=2000) alike
        raise ValueError(f"expected FIELD=VALUE (or SECTION.FIELD=VALUE), got {text!r}")
    section, _, name = key.rpartition(".")
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    if isinstance(value, list):
        value = tuple(value)
    return name, section or None, value


def assigned_values(cls: Any, assignments: Iterable[tuple[str, str | None, Any]],
                    option: str = "--set") -> dict[str, Any]:
    """``--set`` assignments (from :func:`parse_assignment`) as field values of ``cls``; a
    usage error names an unknown field or a section the field is not in."""
    from .errors import UsageError

    known = {item.name: meta.section for item, meta in declared(cls)}
    values: dict[str, Any] = {}
    for name, section, value in assignments:
        where = f"{section}.{name}" if section else name
        if name not in known:
            raise UsageError(f"{option} {where}: unknown setting",
                             hint="--print-config lists every setting by section")
        if section is not None and section != known[name]:
            raise UsageError(f"{option} {where}: {name} is in section {known[name]!r}, not "
                             f"{section!r}")
        values[name] = value
    return values
