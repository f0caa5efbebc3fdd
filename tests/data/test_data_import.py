"""``data import --from voc|yolo`` and ``data export --to yolo``: exact COCO records, splits,
every kind of bad input listed with its file and line, hostile XML, the round trip."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PIL import Image

from nasfpn_cli.data.checks import check_dataset
from nasfpn_cli.data.exporters.yolo import export_yolo
from nasfpn_cli.data.importers import IMPORTERS, ImportOptions, importer
from nasfpn_cli.data.importers.result import PROBLEM_KINDS
from nasfpn_cli.data.importers.voc import VOC_CLASSES
from nasfpn_cli.data.importers.yolo import label_path
from nasfpn_cli.errors import DatasetError


# ---------------------------------------------------------------- tiny datasets in tmp_path

def _image(path: Path, width: int, height: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (90, 120, 150)).save(path)


def _voc_xml(filename: str | None, size: tuple[int, int] | None, objects: list) -> str:
    """objects: (name, difficult, (xmin, ymin, xmax, ymax)); one element a line."""
    lines = ["<annotation>"]
    if filename is not None:
        lines.append(f"<filename>{filename}</filename>")
    if size is not None:
        lines.append(f"<size><width>{size[0]}</width><height>{size[1]}</height>"
                     "<depth>3</depth></size>")
    for name, difficult, box in objects:
        lines.append("<object>")
        lines.append(f"<name>{name}</name><difficult>{difficult}</difficult>")
        lines.append("<bndbox><xmin>{}</xmin><ymin>{}</ymin><xmax>{}</xmax><ymax>{}</ymax>"
                     "</bndbox>".format(*box))
        lines.append("</object>")
    return "\n".join(lines + ["</annotation>"]) + "\n"


def make_voc(root: Path, records: dict, splits: dict | None = None) -> Path:
    """records: stem -> (image size or None, size written in the XML or None, objects)."""
    for stem, (image, size, objects) in records.items():
        if image is not None:
            _image(root / "JPEGImages" / f"{stem}.jpg", *image)
        xml = root / "Annotations" / f"{stem}.xml"
        xml.parent.mkdir(parents=True, exist_ok=True)
        xml.write_text(_voc_xml(f"{stem}.jpg", size, objects))
    for split, stems in (splits or {}).items():
        path = root / "ImageSets" / "Main" / f"{split}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{s}\n" for s in stems))
    return root


VOC_RECORDS = {
    "a": ((100, 80), (100, 80), [("dog", 0, (1, 1, 100, 80)), ("cat", 1, (10, 20, 30, 40))]),
    "b": ((64, 48), (0, 0), [("cat", 0, (5, 6, 20, 30))]),  # size read from the image
    "c": ((50, 40), (50, 40), []),
}


def run_import(fmt: str, source: Path, **options):
    return importer(fmt)(source, ImportOptions(**options))


def kinds_at(result) -> list[tuple[str, str, int | None]]:
    return [(p.kind, p.file, p.line) for p in result.problems]


# ---------------------------------------------------------------- VOC

def test_registry_names_the_formats():
    assert sorted(IMPORTERS) == ["voc", "yolo"]


def test_voc_boxes_categories_sizes_and_difficult_exactly(tmp_path):
    root = make_voc(tmp_path / "voc", VOC_RECORDS, {"train": ["a", "b"], "val": ["c"]})
    result = run_import("voc", root)
    assert result.problems == [] and result.image_root == root
    assert result.categories == [{"id": 1, "name": "cat", "supercategory": "none"},
                                 {"id": 2, "name": "dog", "supercategory": "none"}]
    train = result.splits["train"]
    assert train.images == [{"id": 1, "file_name": "JPEGImages/a.jpg", "width": 100, "height": 80},
                            {"id": 2, "file_name": "JPEGImages/b.jpg", "width": 64, "height": 48}]
    # VOC pixels 1..100 inclusive are COCO [0, 100): x = xmin - 1, w = xmax - xmin + 1
    assert [(a["image_id"], a["category_id"], a["bbox"], a["iscrowd"]) for a in train.annotations] \
        == [(1, 2, [0.0, 0.0, 100.0, 80.0], 0), (1, 1, [9.0, 19.0, 21.0, 21.0], 1),
            (2, 1, [4.0, 5.0, 16.0, 25.0], 0)]
    assert [a["id"] for a in train.annotations] == [1, 2, 3]
    assert result.splits["val"].images[0]["file_name"] == "JPEGImages/c.jpg"
    assert result.splits["val"].annotations == []
    keep = run_import("voc", root, difficult="keep").splits["train"].annotations
    assert [a["iscrowd"] for a in keep] == [0, 0, 0]
    skip = run_import("voc", root, difficult="skip").splits["train"].annotations
    assert [a["bbox"] for a in skip] == [[0.0, 0.0, 100.0, 80.0], [4.0, 5.0, 16.0, 25.0]]


def test_voc_splits_from_image_sets_or_all_as_train(tmp_path):
    listed = make_voc(tmp_path / "listed", VOC_RECORDS,
                      {"train": ["a"], "val": ["b"], "trainval": ["a", "b"], "test": ["c"]})
    splits = run_import("voc", listed).splits
    assert {k: [i["file_name"] for i in v.images] for k, v in splits.items()} == {
        "train": ["JPEGImages/a.jpg"], "val": ["JPEGImages/b.jpg"],
        "trainval": ["JPEGImages/a.jpg", "JPEGImages/b.jpg"], "test": ["JPEGImages/c.jpg"]}
    bare = make_voc(tmp_path / "bare", VOC_RECORDS)
    assert list(run_import("voc", bare).splits) == ["train"]
    assert len(run_import("voc", bare).splits["train"].images) == 3


def test_voc_uses_its_own_class_order_only_for_exactly_its_20_classes(tmp_path):
    objects = [(name, 0, (1, 1, 5, 5)) for name in reversed(VOC_CLASSES)]
    voc = make_voc(tmp_path / "all", {"a": ((10, 10), (10, 10), objects)})
    assert [c["name"] for c in run_import("voc", voc).categories] == list(VOC_CLASSES)
    some = make_voc(tmp_path / "some", {"a": ((10, 10), (10, 10), objects[:3])})
    assert [c["name"] for c in run_import("voc", some).categories] == sorted(
        name for name, _, _ in objects[:3])


def test_voc_every_bad_input_is_listed_with_file_and_line(tmp_path):
    root = make_voc(tmp_path / "voc", {
        "good": ((40, 40), (40, 40), [("dog", 0, (1, 1, 10, 10))]),
        "boxes": ((40, 40), (40, 40), [("dog", 0, (1, 1, 50, 10)),      # outside
                                       ("dog", 0, (20, 20, 10, 30)),     # xmax < xmin
                                       ("dog", 0, ("one", 1, 5, 5)),     # non-numeric
                                       ("dog", 0, (2, 2, 9, 9))]),       # fine
        "noimage": (None, (40, 40), []),
    }, {"train": ["good", "boxes", "noimage", "broken", "nobox", "gone"]})
    ann = root / "Annotations"
    (ann / "broken.xml").write_text("<annotation>\n<object>\n</annotation>\n")
    _image(root / "JPEGImages" / "nobox.jpg", 40, 40)
    (ann / "nobox.xml").write_text("<annotation>\n<filename>nobox.jpg</filename>\n"
                                   "<size><width>40</width><height>40</height></size>\n"
                                   "<object>\n<name>dog</name>\n</object>\n</annotation>\n")
    result = run_import("voc", root)
    assert kinds_at(result) == [
        ("bbox-outside-image", "Annotations/boxes.xml", 6),
        ("bbox-non-positive", "Annotations/boxes.xml", 10),
        ("non-numeric", "Annotations/boxes.xml", 14),
        ("image-missing", "Annotations/noimage.xml", 2),
        ("xml-malformed", "Annotations/broken.xml", 3),
        ("missing-field", "Annotations/nobox.xml", 4),
        ("annotation-missing", "ImageSets/Main/train.txt", 6)]
    assert "'one'" in result.problems[2].message and "gone" in result.problems[-1].message
    assert {p.kind for p in result.problems} <= set(PROBLEM_KINDS)
    # bad boxes go alone: their image and its good boxes stay
    train = result.splits["train"]
    assert [i["file_name"] for i in train.images] == ["JPEGImages/good.jpg",
                                                      "JPEGImages/boxes.jpg", "JPEGImages/nobox.jpg"]
    assert [a["bbox"] for a in train.annotations] == [[0.0, 0.0, 10.0, 10.0],
                                                      [1.0, 1.0, 8.0, 8.0]]


def test_voc_a_box_one_pixel_out_is_clipped_and_a_bad_file_name_is_refused(tmp_path):
    root = make_voc(tmp_path / "voc", {"a": ((40, 30), (40, 30), [("dog", 0, (0, 0, 41, 30))])})
    assert run_import("voc", root).splits["train"].annotations[0]["bbox"] == [0.0, 0.0, 40.0,
                                                                              30.0]
    (root / "Annotations" / "a.xml").write_text(_voc_xml("../../etc/passwd", (40, 30), []))
    result = run_import("voc", root)
    assert kinds_at(result) == [("bad-file-name", "Annotations/a.xml", 2)]


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<annotation><filename>&lol9;</filename></annotation>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE annotation [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<annotation><object><name>&secret;</name></object></annotation>
"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "external"])
def test_hostile_xml_is_refused_quickly(tmp_path, text):
    root = make_voc(tmp_path / "voc", {"a": ((10, 10), (10, 10), [("dog", 0, (1, 1, 5, 5))])})
    (root / "Annotations" / "a.xml").write_text(text)
    start = time.perf_counter()
    result = run_import("voc", root)
    assert time.perf_counter() - start < 2
    assert kinds_at(result) == [("xml-malformed", "Annotations/a.xml", 2)]
    assert "DOCTYPE" in result.problems[0].message
    assert result.splits["train"].images == [] and result.categories == []


def test_voc_without_annotations_folder_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="no Annotations folder"):
        run_import("voc", tmp_path)


# ---------------------------------------------------------------- YOLO

def make_yolo(root: Path, names_yaml: str | None = "names: [person, car]\n") -> Path:
    _image(root / "images/train/a.jpg", 100, 50)
    _image(root / "images/train/b.png", 64, 64)   # no label file: an image without objects
    _image(root / "images/val/c.jpg", 80, 40)
    (root / "labels/train").mkdir(parents=True)
    (root / "labels/val").mkdir(parents=True)
    (root / "labels/train/a.txt").write_text("0 0.5 0.5 0.2 0.4\n\n1 0.1 0.2 0.2 0.4\n")
    (root / "labels/val/c.txt").write_text("1 0.25 0.5 0.5 1\n")
    if names_yaml is not None:
        (root / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/val\n"
                                        + names_yaml)
    return root


def _summary(result) -> dict:
    return {split: ([(i["file_name"], i["width"], i["height"]) for i in part.images],
                    [(a["image_id"], a["category_id"], a["bbox"]) for a in part.annotations])
            for split, part in result.splits.items()}


YOLO_EXPECTED = {
    "train": ([("images/train/a.jpg", 100, 50), ("images/train/b.png", 64, 64)],
              [(1, 1, [40.0, 15.0, 20.0, 20.0]), (1, 2, [0.0, 0.0, 20.0, 20.0])]),
    "val": ([("images/val/c.jpg", 80, 40)], [(1, 2, [0.0, 0.0, 40.0, 40.0])]),
}


@pytest.mark.parametrize("names", ["names: [person, car]\n",
                                   "names:\n  0: person\n  1: car\nnc: 2\n"],
                         ids=["list", "dict"])
def test_yolo_from_data_yaml_exactly(tmp_path, names):
    root = make_yolo(tmp_path / "yolo", names)
    for source in (root, root / "data.yaml"):
        result = run_import("yolo", source)
        assert result.problems == [] and result.image_root == root
        assert result.categories == [{"id": 1, "name": "person", "supercategory": "none"},
                                     {"id": 2, "name": "car", "supercategory": "none"}]
        assert _summary(result) == YOLO_EXPECTED


@pytest.mark.parametrize("names_file", ["classes.txt", "obj.names"])
def test_yolo_from_a_names_file_and_split_folders(tmp_path, names_file):
    root = make_yolo(tmp_path / "yolo", names_yaml=None)
    (root / names_file).write_text("person\ncar\n\n")
    result = run_import("yolo", root)
    assert [c["name"] for c in result.categories] == ["person", "car"]
    assert _summary(result) == YOLO_EXPECTED


def test_yolo_split_as_a_list_file_and_polygon_lines(tmp_path):
    root = make_yolo(tmp_path / "yolo", names_yaml=None)
    (root / "train.txt").write_text("./images/train/a.jpg\nimages/val/c.jpg\n")
    (root / "data.yaml").write_text("train: train.txt\nnames: [person, car]\n")
    (root / "labels/val/c.txt").write_text("1 0.25 0.25 0.75 0.25 0.5 0.75\n")
    result = run_import("yolo", root)
    assert list(result.splits) == ["train"]
    images, boxes = _summary(result)["train"]
    assert images == [("images/train/a.jpg", 100, 50), ("images/val/c.jpg", 80, 40)]
    assert boxes[-1] == (2, 2, [20.0, 10.0, 40.0, 20.0])  # the polygon's bounding box
    assert any("polygon" in note for note in result.notes)


def test_label_path_is_ultralytics_rule():
    assert label_path(Path("/d/images/train/x.y.jpg")) == Path("/d/labels/train/x.y.txt")
    assert label_path(Path("/images/d/images/a.png")) == Path("/images/d/labels/a.txt")
    assert label_path(Path("/d/pics/a.jpg")) == Path("/d/pics/a.txt")


def test_yolo_every_bad_input_is_listed_with_file_and_line(tmp_path):
    root = make_yolo(tmp_path / "yolo")
    (root / "labels/train/a.txt").write_text(
        "0 0.5 0.5 0.2 0.4\n"      # 1 fine
        "7 0.5 0.5 0.1 0.1\n"      # 2 class out of range
        "1 x 0.5 0.1 0.1\n"        # 3 non-numeric
        "0 0.5 0.5 0 0.1\n"        # 4 no width
        "0 1.5 0.5 0.2 0.2\n"      # 5 outside
        "0 0.5 0.5\n"              # 6 too few values
        "cat 0.5 0.5 0.1 0.1\n")   # 7 class not a number
    (root / "labels/val/orphan.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (root / "images/val/broken.jpg").write_bytes(b"not an image")
    result = run_import("yolo", root)
    assert kinds_at(result) == [
        ("unknown-class", "labels/train/a.txt", 2), ("non-numeric", "labels/train/a.txt", 3),
        ("bbox-non-positive", "labels/train/a.txt", 4),
        ("bbox-outside-image", "labels/train/a.txt", 5),
        ("wrong-field-count", "labels/train/a.txt", 6), ("non-numeric", "labels/train/a.txt", 7),
        ("image-unreadable", "images/val/broken.jpg", None),
        ("label-without-image", "labels/val/orphan.txt", None)]
    assert len(result.splits["train"].annotations) == 1


def test_yolo_names_mismatch_and_missing_layout_are_dataset_errors(tmp_path):
    root = make_yolo(tmp_path / "yolo", "names: [person, car]\nnc: 3\n")
    with pytest.raises(DatasetError, match="nc is 3 but names has 2"):
        run_import("yolo", root)
    with pytest.raises(DatasetError, match="no data.yaml, classes.txt or obj.names"):
        run_import("yolo", tmp_path / "yolo" / "images")
    (root / "data.yaml").write_text("train: [unclosed\n")
    with pytest.raises(DatasetError, match=r"data.yaml:2: invalid YAML"):
        run_import("yolo", root)


# ---------------------------------------------------------------- the way back

def test_yolo_to_coco_to_yolo_round_trip(tmp_path, cli):
    root = make_yolo(tmp_path / "yolo")
    out = tmp_path / "coco"
    result = cli("data", "import", "--from", "yolo", str(root), "-o", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    back = tmp_path / "back"
    summary = export_yolo([out / "annotations/instances_train.json",
                           out / "annotations/instances_val.json"], root, back)
    assert summary["names"] == ["person", "car"]
    import yaml

    config = yaml.safe_load((back / "data.yaml").read_text())
    assert config == {"train": "images/train", "val": "images/val", "nc": 2,
                      "names": ["person", "car"]}
    for original in sorted(root.glob("labels/*/*.txt")):
        written = back / original.relative_to(root)
        rows = [float(v) for v in written.read_text().split()]
        expected = [float(v) for v in original.read_text().split()]
        assert rows == pytest.approx(expected, abs=1e-6)
    assert not (back / "labels/train/b.txt").exists()
    (back / "labels/train/b.txt").write_text("0 0.5 0.5 0.1 0.1\n")  # not the export's: kept
    with pytest.raises(DatasetError, match="no export wrote: labels/train/b.txt"):
        export_yolo([out / "annotations/instances_train.json"], root, back)
    (back / "labels/train/b.txt").unlink()
    boxed = json.loads((out / "annotations/instances_train.json").read_text())
    b = next(i for i in boxed["images"] if i["file_name"].endswith("b.png"))
    boxed["annotations"].append({"id": 999, "image_id": b["id"], "category_id": 1,
                                 "bbox": [1, 1, 4, 4], "area": 16, "iscrowd": 0})
    (tmp_path / "boxed").mkdir()
    (tmp_path / "boxed/instances_train.json").write_text(json.dumps(boxed))
    export_yolo([tmp_path / "boxed/instances_train.json"], root, back)
    assert (back / "labels/train/b.txt").exists()  # an earlier export's label, stale now:
    export_yolo([out / "annotations/instances_train.json",
                 out / "annotations/instances_val.json"], root, back)
    assert not (back / "labels/train/b.txt").exists()  # removed by the re-export
    assert (back / "images/train/b.png").read_bytes() == (root / "images/train/b.png").read_bytes()
    again = run_import("yolo", back)  # and in again: the same COCO records
    assert _summary(again) == YOLO_EXPECTED


# ---------------------------------------------------------------- the command

def test_cli_voc_import_writes_checked_coco_and_a_train_command(tmp_path, cli):
    root = make_voc(tmp_path / "voc", VOC_RECORDS, {"train": ["a", "b"], "val": ["c"]})
    out = tmp_path / "out"
    result = cli("data", "import", "--from", "voc", str(root), "-o", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems" in result.stdout and "Traceback" not in result.stderr
    command = result.stdout.split("train with:")[1].split()
    assert command[:3] == ["nasfpn", "train", "nasfpn"]
    paths = {command[i]: command[i + 1] for i in range(3, len(command) - 1, 2)}
    assert set(paths) == {"--train-ann", "--train-images", "--val-ann", "--val-images", "-o"}
    for option in ("--train-ann", "--val-ann", "--train-images", "--val-images"):
        assert Path(paths[option]).exists(), option
    report = check_dataset(paths["--train-ann"], paths["--train-images"])
    assert report.ok and report.stats["annotations"] == 3
    marker = json.loads((out / "import.json").read_text())
    assert marker["splits"]["train"] == {"ann": "annotations/instances_train.json",
                                         "images": 2, "annotations": 3}


def test_cli_bad_input_exits_1_unless_skip_bad_and_lists_it(tmp_path, cli):
    root = make_voc(tmp_path / "voc", VOC_RECORDS)
    (root / "Annotations" / "c.xml").write_text("<annotation>\n<oops>\n</annotation>\n")
    result = cli("data", "import", "--from", "voc", str(root), "-o", str(tmp_path / "o"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Annotations/c.xml:3: malformed XML" in result.stdout
    assert json.loads((tmp_path / "o/import.json").read_text())["problems"][0]["line"] == 3
    again = cli("data", "import", "--from", "voc", str(root), "-o", str(tmp_path / "o"),
                "--skip-bad")
    assert again.returncode == 0 and "--skip-bad: 1 problem" in again.stderr


def test_cli_refuses_a_foreign_folder_without_overwrite(tmp_path, cli):
    root = make_voc(tmp_path / "voc", VOC_RECORDS)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    result = cli("data", "import", "--from", "voc", str(root), "-o", str(out))
    assert result.returncode == 2 and "holds no imported dataset" in result.stderr
    assert cli("data", "import", "--from", "voc", str(root), "-o", str(root),
               "--overwrite").returncode == 2
    forced = cli("data", "import", "--from", "voc", str(root), "-o", str(out), "--overwrite")
    assert forced.returncode == 0 and (out / "notes.txt").read_text() == "keep me"


def test_cli_shows_untrusted_names_literally(tmp_path, cli):
    root = make_voc(tmp_path / "voc", {"a": ((20, 20), (20, 20),
                                             [("[red]x\u202eyz", 0, (1, 1, 5, 5))])})
    result = cli("data", "import", "--from", "voc", str(root), "-o", str(tmp_path / "o"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[red]x\\u202eyz (1)" in result.stdout and "\u202e" not in result.stdout


@pytest.mark.slow
def test_the_printed_train_command_trains(tmp_path, cli):
    root = make_yolo(tmp_path / "yolo")
    out = tmp_path / "coco"
    result = cli("data", "import", "--from", "yolo", str(root), "-o", str(out))
    command = result.stdout.split("train with:")[1].split()
    run = tmp_path / "run"
    args = command[1:command.index("-o")] + [
        "-o", str(run), "--epochs", "1", "--image-size", "64", "--batch-size", "2",
        "--backbone", "resnet10", "--stack", "1", "--channels", "16", "--no-progress"]
    trained = cli(*args, env={"OMP_NUM_THREADS": "1"}, timeout=300)
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-2000:]
    assert (run / "last.pt").is_file()
