"""The JSON form of a genotype (schema ``nasfpn-genotype`` version 1).

::

    {
      "format": "nasfpn-genotype",            optional on reading; must match when given
      "version": 1,                           optional on reading; must be 1 when given
      "name": "nasfpn",                       string (a name) or null
      "inputs": ["P3", "P4", "P5", "P6", "P7"],   default P3..P7
      "outputs": ["P3", "P4", "P5", "P6", "P7"],  default P3..P7
      "stack": null, "channels": null,        positive integers or null
      "residual": "unconnected",              "unconnected" (default) or "none"
      "cells": [                              required, in order
        {"name": "n1", "op": "gp", "inputs": ["P6", "P4"], "level": "P4", "output": false}
      ]
    }

``output`` is optional (default false); unknown keys are errors (they are usually typos).
Reading keeps the place of every string in the file, so problems found later by
:func:`~nasfpn_cli.genotype.validate.validate` point into the JSON text, like DSL diagnostics.
"""
from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
import re

from ..limits import MAX_CHANNELS, MAX_STACK
from .nodes import DEFAULT_LEVELS, DIRECTIVES, RESIDUAL_MODES, Cell, Genotype, Ref, Span, level_name
from .diagnostics import Diagnostic, DiagnosticSink, source_lines
from .parser import NAME_PATTERN, parse_level

FORMAT_TAG = "nasfpn-genotype"
VERSION = 1
_NAME_RE = re.compile(NAME_PATTERN + r"\Z")
_TOP_KEYS = ("format", "version", "name", "inputs", "outputs", "stack", "channels", "residual",
             "cells")
_CELL_KEYS = ("name", "op", "inputs", "level", "output")
_LIMITS = {"stack": MAX_STACK, "channels": MAX_CHANNELS}  # one limit: limits.py
# stands for cells that could not be read at all, so that validate() does not pile up
# follow-on errors (e.g. a missing output level) on top of the schema error
_UNREADABLE_CELL = "<unreadable cell>"
_UNREADABLE = frozenset({_UNREADABLE_CELL})


def genotype_to_json(genotype: Genotype) -> str:
    """The JSON text of a genotype: one key per line, one cell per line."""
    def dump(value) -> str:
        return json.dumps(value, ensure_ascii=False)

    head = {
        "format": FORMAT_TAG,
        "version": VERSION,
        "name": genotype.name,
        "inputs": [level_name(level) for level in genotype.inputs],
        "outputs": [level_name(level) for level in genotype.outputs],
        "stack": genotype.stack,
        "channels": genotype.channels,
        "residual": genotype.residual,
    }
    lines = [f"  {dump(key)}: {dump(value)}," for key, value in head.items()]
    cells = [
        "    " + dump({"name": cell.name, "op": cell.op, "inputs": list(cell.input_names),
                       "level": level_name(cell.level), "output": cell.is_output})
        for cell in genotype.cells
    ]
    body = ",\n".join(cells)
    lines.append('  "cells": [\n' + body + "\n  ]" if cells else '  "cells": []')
    return "{\n" + "\n".join(lines) + "\n}\n"


# -- reading, with the place of every string and object kept ---------------------------------

class _Str(str):
    """A JSON string that remembers the index of its opening quote."""

    pos: int


class _Dict(dict):
    """A JSON object that remembers the index of its ``{``."""

    pos: int


# integers longer than this are read as infinity: Python refuses int() of more than 4300
# digits, and no count in a genotype needs more than a handful
MAX_INT_DIGITS = 100


def _bounded_int(text: str) -> int | float:
    return int(text) if len(text) <= MAX_INT_DIGITS else float("inf")


def _located_loads(text: str, duplicates: list | None = None):
    """``json.loads`` whose strings and objects carry ``.pos`` (the pure-Python scanner). Keys
    repeated within one object are appended to ``duplicates`` (json keeps the last silently)."""
    decoder = json.JSONDecoder(parse_int=_bounded_int)

    def parse_string(string, end, strict):
        value, new_end = json.decoder.scanstring(string, end, strict)
        located = _Str(value)
        located.pos = end - 1
        return located, new_end

    def parse_object(s_and_end, strict, scan_once, object_hook, object_pairs_hook, memo=None):
        pairs, end = json.decoder.JSONObject(s_and_end, strict, scan_once, object_hook,
                                             list, memo)
        located = _Dict(pairs)
        located.pos = s_and_end[1] - 1
        if duplicates is not None and len(located) < len(pairs):
            seen: dict[str, int] = {}  # key -> where its text was last found
            source = s_and_end[0]
            for key, _ in pairs:
                quoted = json.dumps(key, ensure_ascii=False)
                found = source.find(quoted, seen.get(key, located.pos) + 1, end)
                if key in seen:
                    duplicates.append((key, found if found >= 0 else located.pos))
                seen[key] = found if found >= 0 else located.pos
        return located, end

    decoder.parse_string = parse_string
    decoder.parse_object = parse_object
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    return decoder.decode(text)


class _Reader:
    """Checks the JSON document against the schema, collecting located diagnostics."""

    def __init__(self, text: str, path: str):
        self.text = text
        self.lines = source_lines(text)
        self.sink = DiagnosticSink(text, path, self.lines)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def span_at(self, index: int, length: int = 1) -> Span:
        line = bisect.bisect_right(self.line_starts, index)
        column = index - self.line_starts[line - 1] + 1
        return self.sink.span(line, column, column + max(length, 1))

    def span_of(self, value, parent=None, key: str | None = None) -> Span:
        """Where ``value`` is: its own place for strings/objects, else its key in ``parent``."""
        if isinstance(value, _Str):
            return self.span_at(value.pos, len(value) + 2)
        if isinstance(value, _Dict):
            return self.span_at(value.pos)
        if isinstance(parent, _Dict):
            if key is not None:
                found = re.compile(re.escape(json.dumps(key)) + r"\s*:").search(self.text,
                                                                                parent.pos)
                if found:
                    return self.span_at(found.start(), len(json.dumps(key)))
            return self.span_at(parent.pos)
        return self.sink.span(1, 1)

    def error(self, message: str, value, parent=None, key: str | None = None) -> None:
        self.sink.error(message, self.span_of(value, parent, key))

    def unknown_keys(self, obj: _Dict, allowed: tuple[str, ...], where: str) -> None:
        for key in obj:
            if key not in allowed:
                self.error(f"unknown key {key!r} in {where}; expected one of "
                           + ", ".join(allowed), obj, obj, key)

    def levels(self, data: _Dict, key: str) -> tuple[int, ...] | None:
        value = data.get(key)
        if key not in data:
            return DEFAULT_LEVELS
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(f"'{key}' must be a list of levels such as [\"P3\", \"P4\"]",
                       value, data, key)
            return None
        levels: list[int] = []
        for item in value:
            level = parse_level(item)
            if level is None:
                self.error(f"{item!r} is not a pyramid level; levels are written P1 ... P9", item)
            elif level in levels:
                self.error(f"level {item} is listed twice", item)
            else:
                levels.append(level)
        return tuple(levels)

    def name(self, value, data, key: str, what: str) -> str | None:
        if not isinstance(value, str) or not _NAME_RE.match(value):
            self.error(f"{what} must be a name (letters, digits and '_', not starting with a "
                       f"digit), not {json.dumps(value)}", value, data, key)
            return None
        return value

    def cell(self, index: int, data) -> Cell | str | None:
        """A Cell, or the cell's name when only the name is usable (a broken cell), or None."""
        where = f"cells[{index}]"
        if not isinstance(data, _Dict):
            self.error(f"{where} must be an object with keys {', '.join(_CELL_KEYS)}",
                       data, self.root, "cells")
            return None
        self.unknown_keys(data, _CELL_KEYS, where)
        missing = [key for key in ("name", "op", "inputs", "level") if key not in data]
        if missing:
            self.error(f"{where} lacks " + ", ".join(repr(k) for k in missing), data)
        name = self.name(data["name"], data, "name", f"{where}.name") if "name" in data else None
        if name in DIRECTIVES:
            self.error(f"{name!r} is a keyword and cannot name a cell", data["name"])
            name = None
        ok = name is not None and not missing
        op = data.get("op")
        if "op" in data and not isinstance(op, str):
            self.error(f"{where}.op must be a string such as \"sum\"", op, data, "op")
            ok = False
        args = data.get("inputs")
        refs: list[Ref] = []
        if "inputs" in data:
            if not isinstance(args, list):
                self.error(f"{where}.inputs must be a list of names", args, data, "inputs")
                ok = False
            else:
                for arg in args:
                    if self.name(arg, data, "inputs", f"an input of {where}") is None:
                        ok = False
                    else:
                        refs.append(Ref(str(arg), self.span_of(arg)))
        level = 0
        if "level" in data:
            raw = data["level"]
            level = parse_level(raw) if isinstance(raw, str) else None
            if level is None:
                self.error(f"{where}.level must be a level such as \"P4\", not {json.dumps(raw)}",
                           raw, data, "level")
                ok = False
        output = data.get("output", False)
        if not isinstance(output, bool):
            self.error(f"{where}.output must be true or false", output, data, "output")
            ok = False
        if not ok:
            return name
        return Cell(str(name), str(op), tuple(refs), level, output,
                    span=self.span_of(data["name"]), op_span=self.span_of(op),
                    level_span=self.span_of(data["level"]))

    def read(self) -> Genotype:
        path = self.sink.path
        try:
            duplicates: list = []
            root = _located_loads(self.text, duplicates)
        except json.JSONDecodeError as exc:
            self.sink.error(f"not valid JSON: {exc.msg}", self.sink.span(exc.lineno, exc.colno))
            return Genotype(cells=(), path=path, source=self.text, broken_cells=_UNREADABLE)
        except RecursionError:
            self.sink.error("not valid JSON: nested too deeply", self.sink.span(1, 1))
            return Genotype(cells=(), path=path, source=self.text, broken_cells=_UNREADABLE)
        for key, pos in duplicates:
            quoted = json.dumps(key, ensure_ascii=False)
            self.sink.error(f"duplicate key {quoted}: JSON would silently keep only the last one",
                            self.span_at(pos, len(quoted)))
        if not isinstance(root, _Dict):
            self.error("a JSON genotype is an object with a 'cells' list", root)
            return Genotype(cells=(), path=path, source=self.text, broken_cells=_UNREADABLE)
        self.root = root
        self.unknown_keys(root, _TOP_KEYS, "the genotype")
        if root.get("format", FORMAT_TAG) != FORMAT_TAG:
            self.error(f"'format' must be {FORMAT_TAG!r}", root.get("format"), root, "format")
        version = root.get("version", VERSION)
        if version != VERSION or isinstance(version, bool):
            self.error(f"unsupported version {json.dumps(version)}; this nasfpn reads version "
                       f"{VERSION}", version, root, "version")
        values: dict = {}
        name = root.get("name")
        if name is not None and self.name(name, root, "name", "'name'") is not None:
            values["name"] = str(name)
        for key in ("inputs", "outputs"):
            levels = self.levels(root, key)
            if levels is not None:
                values[key] = levels
        for key, limit in _LIMITS.items():
            number = root.get(key)
            if number is None:
                continue
            if type(number) is not int or not 1 <= number <= limit:
                self.error(f"'{key}' must be an integer between 1 and {limit} or null",
                           number, root, key)
            else:
                values[key] = number
        residual = root.get("residual", "unconnected")
        if residual not in RESIDUAL_MODES:
            self.error(f"'residual' must be one of {', '.join(RESIDUAL_MODES)}", residual,
                       root, "residual")
        else:
            values["residual"] = str(residual)
        cells: list[Cell] = []
        broken: set[str] = set()
        raw_cells = root.get("cells")
        if not isinstance(raw_cells, list):
            self.error("'cells' must be a list of cell objects", raw_cells, root, "cells")
            broken.add(_UNREADABLE_CELL)
        else:
            for index, data in enumerate(raw_cells):
                cell = self.cell(index, data)
                if isinstance(cell, Cell):
                    cells.append(cell)
                else:
                    broken.add(cell or _UNREADABLE_CELL)
        spans = {key: self.span_of(root.get(key), root, key) for key in ("inputs", "outputs")
                 if key in root}
        return Genotype(cells=tuple(cells), path=path, source=self.text, directive_spans=spans,
                        broken_cells=frozenset(broken), **values)


def genotype_from_json(text: str, path: str = "<string>") -> tuple[Genotype, list[Diagnostic]]:
    """Read the JSON form; returns the (possibly partial) genotype and the schema diagnostics."""
    reader = _Reader(text, path)
    genotype = reader.read()
    return genotype, reader.sink.items
