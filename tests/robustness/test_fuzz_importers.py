"""Fuzzing the importers (issue 30): VOC XML files, YOLO label lines and ``data.yaml`` files
made of hostile values, random text and random bytes. Each import either returns a result
whose every box is finite, positive and inside its image (what ``data check`` then accepts),
or raises a :class:`~nasfpn_cli.errors.NasfpnError` (exit 1); nothing else escapes.
``FUZZ_EXAMPLES=3000`` runs a longer hunt."""
from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from nasfpn_cli.data.importers import ImportOptions, importer
from nasfpn_cli.errors import NasfpnError

SETTINGS = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 60)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
IMAGE_SIZE = (40, 30)
# texts a number field, a name or a path may hold
HOSTILE_TEXT = ["", " ", "0", "1", "-1", "0.5", "1e309", "-1e309", "nan", "inf", "-inf",
                "1e-320", "10.9996", "99999999999999999999999", "1_0", "0x10", "a", "\x00",
                "\x1b[2J", "[bold]x[/]", "../../etc/passwd", "/etc/hostname", "é", "\u202e",
                "x" * 300, "１２"]
NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.integers(-10 ** 30, 10 ** 30).map(str),
                    st.floats(-2, 2).map(lambda v: f"{v:.6f}"),
                    st.integers(-5, 50).map(str))
FIELD = st.one_of(NUMBERS, st.sampled_from(HOSTILE_TEXT), st.text(max_size=12))


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", IMAGE_SIZE).save(path)


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _import(fmt: str, source: Path) -> None:
    """Run the importer: a clean result or a NasfpnError; every kept box is usable."""
    try:
        result = importer(fmt)(source, ImportOptions())
    except NasfpnError:
        return
    for split in result.splits.values():
        sizes = {image["id"]: (image["width"], image["height"]) for image in split.images}
        for record in split.annotations:
            x, y, w, h = record["bbox"]
            width, height = sizes[record["image_id"]]
            assert all(math.isfinite(v) for v in (x, y, w, h)), record
            assert w > 0 and h > 0, record
            assert x >= 0 and y >= 0 and x + w <= width + 1e-6 and y + h <= height + 1e-6
    for problem in result.problems:
        problem.render()
    result.drop_empty_splits()
    for name in result.splits:
        result.coco(name, "fuzz")


# VOC: an XML file with hostile values in every element, or random text, or a mutated good file
VOC_GOOD = ("<annotation><filename>a.jpg</filename><size><width>40</width><height>30</height>"
            "</size><object><name>cat</name><difficult>0</difficult><bndbox><xmin>2</xmin>"
            "<ymin>3</ymin><xmax>20</xmax><ymax>25</ymax></bndbox></object></annotation>")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def voc_xml(draw) -> str:
    kind = draw(st.sampled_from(["fields", "text", "mutated"]))
    if kind == "text":
        return draw(st.text(max_size=200))
    if kind == "mutated":
        cut = draw(st.integers(0, len(VOC_GOOD)))
        insert = draw(st.sampled_from(["<", ">", "&", "</object>", "<object>", "<!DOCTYPE a>",
                                       "&lol;", "<![CDATA[x]]>", "\x00", ""]))
        return VOC_GOOD[:cut] + insert + VOC_GOOD[cut + draw(st.integers(0, 20)):]
    field = lambda: _escape(draw(FIELD))  # noqa: E731
    objects = "".join(
        f"<object><name>{field()}</name><difficult>{field()}</difficult><bndbox>"
        f"<xmin>{field()}</xmin><ymin>{field()}</ymin><xmax>{field()}</xmax>"
        f"<ymax>{field()}</ymax></bndbox></object>" for _ in range(draw(st.integers(0, 3))))
    size = "" if draw(st.booleans()) else (f"<size><width>{field()}</width><height>{field()}"
                                           f"</height></size>")
    return f"<annotation><filename>{field()}</filename>{size}{objects}</annotation>"


@SETTINGS
@given(xml=voc_xml(), listed=st.lists(st.sampled_from(["a", "b", "../a", "a a", ""]),
                                      max_size=3), with_list=st.booleans())
def test_voc_files_import_or_name_the_problem(tmp_path, xml, listed, with_list):
    root = _fresh(tmp_path / "voc")
    _image(root / "JPEGImages" / "a.jpg")
    (root / "Annotations").mkdir()
    (root / "Annotations" / "a.xml").write_text(xml, encoding="utf-8", errors="surrogatepass")
    if with_list:
        (root / "ImageSets" / "Main").mkdir(parents=True)
        (root / "ImageSets" / "Main" / "train.txt").write_text("\n".join(listed))
    _import("voc", root)


# YOLO: label lines of random values, counts and bytes
LINE = st.lists(FIELD.map(lambda v: v.replace("\n", " ").replace("\r", " ")),
                min_size=0, max_size=9).map(" ".join)


@SETTINGS
@given(lines=st.lists(LINE, max_size=6), raw=st.binary(max_size=60), use_raw=st.booleans())
def test_yolo_label_lines_import_or_name_the_problem(tmp_path, lines, raw, use_raw):
    root = _fresh(tmp_path / "yolo")
    _image(root / "images" / "train" / "a.png")
    (root / "labels" / "train").mkdir(parents=True)
    label = root / "labels" / "train" / "a.txt"
    if use_raw:
        label.write_bytes(raw)
    else:
        label.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    (root / "data.yaml").write_text("train: images/train\nnames: [a, b, c]\n")
    _import("yolo", root)


# data.yaml: random structures at its keys, random text, random bytes
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 20, 10 ** 20),
                    st.floats(allow_nan=True), st.sampled_from(HOSTILE_TEXT),
                    st.sampled_from(["images/train", "images", ".", "..", "data.yaml",
                                     "list.txt", "labels"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(SCALARS.filter(lambda k: k == k), inner,
                                                 max_size=3)), max_leaves=8)
KEYS = st.sampled_from(["path", "train", "val", "test", "names", "nc", "download", "x"])


@st.composite
def data_yaml(draw) -> bytes:
    import yaml

    kind = draw(st.sampled_from(["keys", "keys", "text", "bytes"]))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    data = {"train": "images/train", "names": ["a", "b"]}
    for key in draw(st.lists(KEYS, max_size=4)):
        data[key] = draw(VALUES)
    if draw(st.booleans()):
        del data["names"]
    return yaml.safe_dump(data, allow_unicode=True).encode("utf-8", "surrogatepass")


@SETTINGS
@given(text=data_yaml(), list_file=st.lists(st.sampled_from(HOSTILE_TEXT + ["images/train/a.png",
                                                                            "images/train"]),
                                            max_size=3))
def test_data_yaml_files_import_or_name_the_problem(tmp_path, text, list_file):
    root = _fresh(tmp_path / "yolo")
    _image(root / "images" / "train" / "a.png")
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "list.txt").write_text("\n".join(list_file), encoding="utf-8",
                                   errors="surrogatepass")
    (root / "data.yaml").write_bytes(text)
    _import("yolo", root)


@pytest.mark.parametrize("fmt", ["voc", "yolo"])
def test_a_good_dataset_still_imports(tmp_path, fmt):
    """The fuzzed builders' starting points are valid: the tests above exercise real imports."""
    root = tmp_path / fmt
    if fmt == "voc":
        _image(root / "JPEGImages" / "a.jpg")
        (root / "Annotations").mkdir()
        (root / "Annotations" / "a.xml").write_text(VOC_GOOD)
    else:
        _image(root / "images" / "train" / "a.png")
        (root / "labels" / "train").mkdir(parents=True)
        (root / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
        (root / "data.yaml").write_text("train: images/train\nnames: [a, b]\n")
    result = importer(fmt)(root, ImportOptions())
    assert not result.problems and len(result.splits["train"].annotations) == 1


# found by the fuzzing: a name longer than the file system allows raised OSError from is_file()
@pytest.mark.parametrize("fmt", ["voc", "yolo"])
def test_a_name_too_long_for_the_file_system_is_reported_missing(tmp_path, fmt):
    long = "x" * 300
    root = tmp_path / fmt
    if fmt == "voc":
        _image(root / "JPEGImages" / "a.jpg")
        (root / "Annotations").mkdir()
        (root / "Annotations" / "a.xml").write_text(VOC_GOOD.replace("a.jpg", long))
        result = importer(fmt)(root, ImportOptions())
        assert not result.problems  # found by its id (a.jpg) instead
    else:
        _image(root / "images" / "train" / "a.png")
        (root / "data.yaml").write_text(f"train: images/train\nval: {long}\nnames: [a]\n")
        result = importer(fmt)(root, ImportOptions())
        assert [p.kind for p in result.problems] == ["image-missing"]
