"""Click options made from declared settings (:mod:`nasfpn_cli.settings`), never written by hand.

``settings_options(TrainConfig)`` gives ``train`` its ``--lr``, ``--epochs``...;
``settings_options(TrainConfig, prefix="proxy-", names=...)`` gives the search the same fields as
``--proxy-lr``, ``--proxy-epochs``. Types, ranges, choices, metavars and help come from the
declaration; the help quotes the default of the ``defaults`` object given. Options remember their
section, and :class:`SectionedCommand` / :class:`SectionedGroup` print ``--help`` by section.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import click
from click.core import ParameterSource

from ..settings import Setting, annotation_text, declared, parse_assignment, setting_value
from .params import finite, finite_number


def format_default(value: Any) -> str:
    """A default as the help shows it: numbers with %g, lists as "A,B"."""
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _numbers(kind: type, count: int | None):
    """A click callback parsing "A,B,..." into a tuple of ``kind``."""

    def parse(ctx: click.Context, param: click.Parameter, value: str | None):
        if value is None:
            return None
        try:
            numbers = tuple(kind(finite_number(part) if kind is float else part)
                            for part in value.split(",") if part.strip())
        except ValueError:
            raise click.BadParameter(f"expected comma-separated finite numbers, got {value!r}"
                                     ) from None
        if count is not None and len(numbers) != count:
            raise click.BadParameter(f"expected {count} comma-separated numbers, got {value!r}")
        return numbers

    return parse


def _type_and_callback(annotation: str, meta: Setting) -> dict[str, Any]:
    """The click ``type`` (or parsing ``callback``) of a field: choices, ranges, paths, lists."""
    choices = meta.choice_list()
    if choices is not None:
        return {"type": click.Choice(list(choices))}
    if annotation.startswith("tuple["):
        kind = int if annotation.startswith("tuple[int") else float
        count = None if "..." in annotation else annotation.count(",") + 1
        return {"callback": _numbers(kind, count)}
    bounds = dict(min_open=meta.min_open, max_open=meta.max_open)
    if annotation.startswith("int"):
        return {"type": click.IntRange(meta.minimum, meta.upper(), **bounds)}
    if annotation.startswith("float"):
        return {"type": finite(meta.minimum, meta.upper(), **bounds)}
    if meta.path is not None:
        return {"type": click.Path(path_type=str, dir_okay=meta.path != "file",
                                   file_okay=meta.path != "folder")}
    return {}


def settings_options(cls: Any, *, prefix: str = "", names: Iterable[str] | None = None,
                     defaults: Any = None, concrete: bool = False, section: str | None = None,
                     help_for: Callable[[str], str | None] | None = None) -> Callable:
    """A decorator adding one click option per declared, command-line field of ``cls``.

    ``prefix`` goes before the flag, whose name with underscores is the parameter's
    (``proxy-``: ``--proxy-lr`` -> ``proxy_lr``; :func:`option_fields` maps them back); ``names`` picks fields (all by default); ``defaults`` (an instance) supplies
    the defaults quoted in the help, and with ``concrete`` the options' own defaults too
    (otherwise an option left out is None, so a recipe or a --config file can fill it);
    ``section`` overrides the help section; ``help_for(name)`` may replace a help text.
    """
    fields = _fields(cls, names)

    def decorate(command: Callable) -> Callable:
        for item, meta in reversed(fields):
            command = _option(item, meta, prefix, defaults, concrete, section or meta.section,
                              help_for)(command)
        return command

    return decorate


def _fields(cls: Any, names: Iterable[str] | None) -> list:
    wanted = None if names is None else list(names)
    fields = [(item, meta) for item, meta in declared(cls) if meta.cli
              and (wanted is None or item.name in wanted)]
    if wanted is not None:
        fields.sort(key=lambda pair: wanted.index(pair[0].name))
    return fields


def parameter_name(meta: Setting, name: str, prefix: str = "") -> str:
    """The click parameter (and ``--config`` key) of a field: its flag with underscores."""
    return meta.flag_name(name, prefix)[2:].replace("-", "_")


def option_fields(cls: Any, prefix: str = "", names: Iterable[str] | None = None
                  ) -> dict[str, str]:
    """Parameter name -> field name of the options :func:`settings_options` makes."""
    return {parameter_name(meta, item.name, prefix): item.name
            for item, meta in _fields(cls, names)}


def _option(item, meta: Setting, prefix: str, defaults: Any, concrete: bool, section: str,
            help_for: Callable[[str], str | None] | None) -> Callable:
    annotation = annotation_text(item)
    value = None if defaults is None else (
        setting_value(defaults, item.name) if dataclasses.is_dataclass(defaults)
        else getattr(defaults, item.name))
    text = (help_for(item.name) if help_for else None) or meta.help
    quoted = "{default}" in text  # the help says the default itself
    text = text.replace("{default}", format_default(value))
    if value is None and meta.unset_help:
        text = f"{text} {meta.unset_help}"
    flag = meta.flag_name(item.name, prefix)
    declarations = [flag, parameter_name(meta, item.name, prefix)]
    if meta.short and not prefix:
        declarations.insert(0, meta.short)
    kwargs: dict[str, Any] = {"help": text, "metavar": meta.metavar, "required": meta.required,
                              "default": value if concrete else None,
                              "show_default": concrete and value is not None and not quoted}
    if meta.required:  # an explicit default, even None, would count as given
        kwargs.pop("default")
    if annotation == "bool":
        if meta.switch:
            declarations[declarations.index(flag)] = f"{flag}/--{prefix}no-{flag[2 + len(prefix):]}"
        else:
            kwargs.update(is_flag=True, show_default=False)
    else:
        kwargs.update(_type_and_callback(annotation, meta))
    if meta.bare is not None:  # --amp alone: the bare value
        kwargs.update(is_flag=False, flag_value=meta.bare)
    if meta.negated is None:
        return click.option(*declarations, cls=SectionedOption, section=section, **kwargs)
    negation_flag = f"--{prefix}no-{flag[2 + len(prefix):]}"
    kwargs["callback"] = _negatable(kwargs.get("callback"), flag, negation_flag, meta.negated)
    decorator = click.option(*declarations, cls=SectionedOption, section=section, **kwargs)
    negation = click.option(negation_flag, "no_" + declarations[-1], is_flag=True, default=None,
                            cls=SectionedOption, section=section,
                            callback=_negation(declarations[-1], flag, negation_flag),
                            help=f"Same as {flag} {meta.negated}.")
    return lambda command: decorator(negation(command))


def _negation(name: str, flag: str, negation_flag: str) -> Callable:
    """The callback of ``--no-FLAG``: notes that it was given, for the option it negates."""

    def given(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value:
            if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE:
                raise click.UsageError(f"{flag} and {negation_flag} exclude each other")
            ctx.meta[("negated", name)] = True
        return value

    return given


def _negatable(callback: Callable | None, flag: str, negation_flag: str, negated: str
               ) -> Callable:
    """The callback of an option that has a ``--no-FLAG``: when that was given, the negated
    value, counted as given on the command line (``--no-amp`` is ``--amp off`` to every reader
    of the parameters, whichever command takes it)."""

    def resolve(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if ctx.meta.get(("negated", param.name)):
            if ctx.get_parameter_source(param.name) == ParameterSource.COMMANDLINE:
                raise click.UsageError(f"{flag} and {negation_flag} exclude each other")
            ctx.set_parameter_source(param.name, ParameterSource.COMMANDLINE)
            value = negated
        return callback(ctx, param, value) if callback is not None else value

    return resolve


def fold_negations(cls: Any, options: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The options with every ``--no-FLAG`` of a field that declares ``negated`` turned into
    that field's value (``no_amp`` -> ``amp="off"``)."""
    folded = dict(options)
    for item, meta in declared(cls):
        if meta.negated is not None:
            name = parameter_name(meta, item.name, prefix)
            if folded.pop("no_" + name, None):
                folded[name] = meta.negated
    return folded


class SectionedOption(click.Option):
    """A click option that knows the section of the settings it sets (for ``--help``)."""

    def __init__(self, *args: Any, section: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.section = section


# --help headings where "<Section> options" would not read well
SECTION_TITLES = {"ppo": "PPO controller options", "evolution": "Evolution controller options",
                  "trials": "Where trials run"}


class _Sectioned:
    """``--help`` with the options grouped under their settings' sections."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        groups: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is not None:
                title = getattr(param, "section", None)
                groups.setdefault(SECTION_TITLES.get(title, f"{str(title).capitalize()} options")
                                  if title else "Options", []).append(record)
        for title, rows in sorted(groups.items(), key=lambda kv: kv[0] != "Options"):
            with formatter.section(title):
                formatter.write_dl(rows)
        if isinstance(self, click.Group):
            self.format_commands(ctx, formatter)


class SectionedCommand(_Sectioned, click.Command):
    pass


class SectionedGroup(_Sectioned, click.Group):
    pass


SET_HELP = ("Any setting, with or without a flag, as SECTION.FIELD=VALUE (TOML values: "
            "solver.lr=0.02, data.scale_range=[0.5,2]); repeatable; --print-config lists them.")


def set_option(help_text: str = SET_HELP) -> Callable:
    """``--set SECTION.FIELD=VALUE`` (repeatable), parsed into (field, section, value)."""

    def parse(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]):
        parsed = []
        for text in values:
            try:
                parsed.append(parse_assignment(text))
            except ValueError as exc:
                raise click.BadParameter(str(exc)) from None
        return tuple(parsed)

    return click.option("--set", "assignments", multiple=True, metavar="SECTION.FIELD=VALUE",
                        callback=parse, help=help_text)
