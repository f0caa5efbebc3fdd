"""Reading small XML files from outside (Pascal VOC annotations) without trusting them.

ElementTree would expand internal entities (a "billion laughs" file grows to gigabytes; expat
2.4+ limits the amplification but still works through it) and lets a DOCTYPE name external
files. Annotation files never need either, so any DOCTYPE or entity declaration is refused
before it is read, and files over :data:`MAX_XML_BYTES` are not read at all. Every element
keeps the line it starts on, so problems can say where they are.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

# the largest VOC annotation in the wild is a few kilobytes; this is ample
MAX_XML_BYTES = 4 * 1024 * 1024


class XmlError(ValueError):
    """An XML file that cannot be used: ``line`` is where (None when unknown)."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


@dataclass
class Node:
    """One element: its tag, text (stripped), children in order and the line it starts on."""

    tag: str
    line: int
    text: str = ""
    children: list["Node"] = field(default_factory=list)

    def find(self, tag: str) -> "Node | None":
        """The first child called ``tag``."""
        return next((child for child in self.children if child.tag == tag), None)

    def find_all(self, tag: str) -> list["Node"]:
        return [child for child in self.children if child.tag == tag]

    def find_text(self, tag: str) -> str | None:
        child = self.find(tag)
        return None if child is None else child.text


class _Refused(Exception):
    """Raised from inside expat's callbacks to stop at a declaration."""


def parse_xml_bytes(data: bytes) -> Node:
    """The root element of ``data``; raises XmlError for malformed XML, a DOCTYPE or an entity
    declaration (with the line)."""
    parser = expat.ParserCreate()
    stack: list[Node] = []
    texts: list[list[str]] = []
    root: list[Node] = []

    def start(tag: str, _attributes: dict) -> None:
        node = Node(tag, parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)
        texts.append([])

    def end(_tag: str) -> None:
        stack.pop().text = "".join(texts.pop()).strip()

    def characters(text: str) -> None:
        if texts:
            texts[-1].append(text)

    def refuse(*_args) -> None:
        raise _Refused()

    handlers = {"StartElementHandler": start, "EndElementHandler": end,
                "CharacterDataHandler": characters}
    # declarations, which can expand without bound or read other files: refused
    handlers.update(dict.fromkeys(("StartDoctypeDeclHandler", "EntityDeclHandler",
                                   "UnparsedEntityDeclHandler", "ExternalEntityRefHandler"),
                                  refuse))
    for event, handler in handlers.items():
        setattr(parser, event, handler)
    try:
        parser.Parse(data, True)
    except _Refused:
        raise XmlError("a DOCTYPE or entity declaration: refused (annotation files need "
                       "neither, and entities can expand without bound or read other files)",
                       parser.CurrentLineNumber) from None
    except expat.ExpatError as exc:
        raise XmlError(f"malformed XML: {expat.ErrorString(exc.code)} (column {exc.offset + 1})",
                       exc.lineno) from None
    if not root:
        raise XmlError("no root element")
    return root[0]


def parse_xml_file(path: Path) -> Node:
    """:func:`parse_xml_bytes` of a file; XmlError also for an unreadable or too large file."""
    try:
        size = path.stat().st_size
        if size > MAX_XML_BYTES:
            raise XmlError(f"{size} bytes: larger than the {MAX_XML_BYTES} bytes an annotation "
                           f"file may have")
        data = path.read_bytes()
    except OSError as exc:
        raise XmlError(f"cannot read: {exc.strerror or exc}") from None
    return parse_xml_bytes(data)
