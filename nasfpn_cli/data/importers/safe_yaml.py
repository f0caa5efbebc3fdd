"""Reading YAML files from outside (YOLO's ``data.yaml``) without trusting them: the one YAML
reader of the tool.

PyYAML's safe loader runs no code, but aliases make a 600-byte file stand for 10^9 strings
(each ``&a [*b, *b, ...]`` level multiplies): building it is cheap, while anything that later
prints or walks the value expands it for minutes and gigabytes. So the composed document is
measured first, counting every alias as the whole node it stands for, and refused beyond
:data:`MAX_YAML_NODES` nodes or :data:`MAX_YAML_DEPTH` levels, before a Python value exists.
Files over :data:`MAX_YAML_BYTES` are not read at all, and a key given twice in one mapping is
an error (YAML would silently keep the last). Errors carry the line.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

# a data.yaml with 10,000 class names is about 200 KB; nothing the tool reads needs more
MAX_YAML_BYTES = 4 * 1024 * 1024
# nodes after alias expansion: 10,000 names plus keys, many times over
MAX_YAML_NODES = 200_000
MAX_YAML_DEPTH = 64


class YamlError(ValueError):
    """A YAML file that cannot be used: ``line`` is where (None when unknown)."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def _line(node: Any) -> int | None:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def _measure(root: Any) -> None:
    """Refuse a composed document whose expansion is too large or too deep (iteratively: a
    deep document must not exhaust Python's stack here either)."""
    import yaml

    sizes: dict[int, int] = {}
    started: set[int] = set()
    stack: list[tuple[Any, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if depth > MAX_YAML_DEPTH:
            raise YamlError(f"nested more than {MAX_YAML_DEPTH} levels deep", _line(node))
        if id(node) in sizes and not done:
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        children = ([c for pair in node.value for c in pair]
                    if isinstance(node, yaml.MappingNode) else list(node.value))
        if done:
            started.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[id(node)] > MAX_YAML_NODES:
                raise YamlError(f"stands for more than {MAX_YAML_NODES} values once its "
                                f"aliases (*name) are expanded: refused (an alias bomb?)",
                                _line(node))
            continue
        sizes[id(node)] = 0
        started.add(id(node))  # the nodes on the path from the root to here
        if any(id(c) in started for c in children):
            raise YamlError("an alias (*name) inside the value it names: refused", _line(node))
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)


def _loader_class() -> type:
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader that refuses a key given twice in one mapping."""

        def construct_mapping(self, node, deep=False):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    raise YamlError("a mapping key that is not a single value",
                                    _line(key_node)) from None
                if first is not key_node:
                    raise YamlError(f"key {str(key)[:80]!r} given twice (first on line "
                                    f"{_line(first)}): YAML would silently keep the last",
                                    _line(key_node))
            return super().construct_mapping(node, deep=deep)

    return Loader


def parse_yaml_text(text: str) -> Any:
    """The value of YAML ``text`` (None for an empty document); YamlError for invalid YAML, a
    second document, a repeated key, or a value too large once aliases are expanded."""
    import yaml

    loader = None
    try:  # the reader refuses control characters as it is made
        loader = _loader_class()(text)
        root = loader.get_single_node()
        if root is None:
            return None
        _measure(root)
        return loader.construct_document(root)
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1
        raise YamlError(f"invalid YAML: character U+{exc.character:04X} is not allowed in YAML "
                        f"text", line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise YamlError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}"
                        + (f" (column {mark.column + 1})" if mark else ""),
                        mark.line + 1 if mark else None) from None
    except RecursionError:
        raise YamlError(f"nested more than {MAX_YAML_DEPTH} levels deep") from None
    finally:
        if loader is not None:
            loader.dispose()


def parse_yaml_file(path: Path) -> Any:
    """:func:`parse_yaml_text` of a UTF-8 file; YamlError also for an unreadable, non-regular
    or too large file."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block, a device never end
            raise YamlError("not a regular file")
        with open(path, "rb") as handle:
            data = handle.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise YamlError(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_YAML_BYTES:
        raise YamlError(f"larger than the {MAX_YAML_BYTES} bytes a YAML file may have")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise YamlError("not UTF-8 text", line) from None
    return parse_yaml_text(text)
