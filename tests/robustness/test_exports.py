"""``data export``: it never writes over a folder it did not write (its ``export.json`` manifest
marks its own exports), counts only what it wrote, and keeps every split of a folder in
``data.yaml``. Each case is one line of a table, by kind (issue 30, probe 3: D1-D5, U10)."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml


def _ann(tiny_data: Path, split: str) -> Path:
    return tiny_data / "annotations" / f"instances_{split}2017.json"


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _users_yolo_dataset(out: Path) -> None:
    """A YOLO dataset nasfpn did not write: polygons, keys nasfpn would drop."""
    (out / "labels/train").mkdir(parents=True)
    (out / "images/train").mkdir(parents=True)
    (out / "labels/train/000000000001.txt").write_text("1 0.1 0.1 0.4 0.1 0.4 0.4 0.1 0.4\n")
    (out / "data.yaml").write_text("path: .\ntrain: images/train\nnames: [a, b]\n"
                                   "download: https://example.invalid/x.zip\nkpt_shape: [17, 3]\n")


def _manifest_damaged(out: Path) -> None:
    out.mkdir()
    (out / "data.yaml").write_text("train: images/train\nnames: [a]\n")
    (out / "export.json").write_text('{"written_by": "someone else"}')


def _manifest_lists_outside(out: Path) -> None:
    out.mkdir()
    (out / "export.json").write_text(json.dumps({
        "written_by": "nasfpn data export", "format": "yolo", "names": [], "complete": True,
        "splits": {"train2017": {"ann": "x", "files": ["../victim.txt"]}}}))


# kind: a folder the export did not write (or no longer owns) -> exit 1, nothing changed
FOREIGN_FOLDERS = {
    "a user's YOLO dataset (data.yaml, no manifest)": _users_yolo_dataset,
    "a damaged manifest": _manifest_damaged,
    "a manifest naming files outside images/ and labels/": _manifest_lists_outside,
    "a folder of other files": lambda out: (out.mkdir(), (out / "notes.txt").write_text("x")),
}


@pytest.mark.parametrize("make", FOREIGN_FOLDERS.values(), ids=FOREIGN_FOLDERS.keys())
def test_export_refuses_a_folder_it_did_not_write(run, tiny_data, tmp_path, make):
    out = tmp_path / "out"
    make(out)
    before = _digests(out)
    code, _, err = run("data", "export", "--to", "yolo", _ann(tiny_data, "train"),
                       "--images", tiny_data / "train2017", "-o", out)
    assert code == 1, err
    assert str(out) in err and "--overwrite" in err and "Traceback" not in err
    assert _digests(out) == before


def test_overwrite_writes_into_a_users_dataset(run, tiny_data, tmp_path):
    out = tmp_path / "out"
    _users_yolo_dataset(out)
    code, _, err = run("data", "export", "--to", "yolo", _ann(tiny_data, "train"),
                       "--images", tiny_data / "train2017", "-o", out, "--overwrite")
    assert code == 0, err
    assert (out / "export.json").is_file()


def test_an_edited_data_yaml_is_not_replaced(run, tiny_data, tmp_path):
    out = tmp_path / "out"
    args = ("data", "export", "--to", "yolo", _ann(tiny_data, "train"), "--images",
            tiny_data / "train2017", "-o", out)
    assert run(*args)[0] == 0
    (out / "data.yaml").write_text((out / "data.yaml").read_text() + "download: mine\n")
    code, _, err = run(*args)
    assert code == 1 and "data.yaml: changed since nasfpn exported it" in err
    assert "download: mine" in (out / "data.yaml").read_text()


def test_splits_exported_one_call_at_a_time_all_stay(run, tiny_data, tmp_path):
    """The COCO 2017 layout (one images folder per split): two calls, one data.yaml with both;
    exporting a split again replaces that split whole."""
    out = tmp_path / "out"
    for split in ("train", "val"):
        code, _, err = run("data", "export", "--to", "yolo", _ann(tiny_data, split),
                           "--images", tiny_data / f"{split}2017", "-o", out)
        assert code == 0, err
    config = yaml.safe_load((out / "data.yaml").read_text())
    assert config["train"] == "images/train2017" and config["val"] == "images/val2017"
    fewer = json.loads(_ann(tiny_data, "train").read_text())
    gone = fewer["images"].pop()
    fewer["annotations"] = [a for a in fewer["annotations"] if a["image_id"] != gone["id"]]
    (tmp_path / "fewer").mkdir()
    (tmp_path / "fewer/instances_train2017.json").write_text(json.dumps(fewer))
    code, out_text, err = run("data", "export", "--to", "yolo",
                              tmp_path / "fewer/instances_train2017.json",
                              "--images", tiny_data / "train2017", "-o", out)
    assert code == 0, err
    assert "kept the earlier export's val2017" in out_text
    assert not (out / "images/train2017" / gone["file_name"]).exists()
    assert set(yaml.safe_load((out / "data.yaml").read_text())) >= {"train", "val"}


def test_names_colliding_after_flattening_all_arrive(run, tiny_data, tmp_path):
    """``a/b.png``, ``c/b.png`` and ``a__b.png``: three images, three label files."""
    images = tmp_path / "col"
    data = json.loads(_ann(tiny_data, "train").read_text())
    names = ["a/b.png", "c/b.png", "a__b.png", "d/b.jpg"]
    data["images"] = data["images"][:len(names)]
    kept = {i["id"] for i in data["images"]}
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in kept]
    for image, name in zip(data["images"], names):
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tiny_data / "train2017" / image["file_name"], images / name)
        image["file_name"] = name
    (tmp_path / "instances_train.json").write_text(json.dumps(data))
    out = tmp_path / "out"
    code, text, err = run("data", "export", "--to", "yolo", tmp_path / "instances_train.json",
                          "--images", images, "-o", out)
    assert code == 0, err
    written = sorted(p.name for p in (out / "images/train").iterdir())
    assert len(written) == len(names)
    labels = list((out / "labels/train").glob("*.txt"))
    lines = sum(len(p.read_text().splitlines()) for p in labels)
    assert f"train: {len(names)} images, {lines} boxes" in text
    assert lines == len(data["annotations"])


# kind: a split name no YOLO reader would find -> exit 1 naming the file
@pytest.mark.parametrize("name", ["synth.json", "instances_images.json", "instances_...json",
                                  "instances_a b.json"])
def test_split_names_yolo_cannot_read_are_refused(run, tiny_data, tmp_path, name):
    ann = tmp_path / name
    shutil.copy(_ann(tiny_data, "train"), ann)
    out = tmp_path / "out"
    code, _, err = run("data", "export", "--to", "yolo", ann, "--images",
                       tiny_data / "train2017", "-o", out)
    assert code == 1 and name in err and "Traceback" not in err
    assert not (out / "images").exists()


# kind: an input or target that is wrong -> exit 1 naming it, nothing placed
def test_a_missing_images_folder_is_named(run, tiny_data, tmp_path):
    code, _, err = run("data", "export", "--to", "yolo", _ann(tiny_data, "train"), "--images",
                       tmp_path / "nope", "-o", tmp_path / "out")
    assert code == 1 and str(tmp_path / "nope") in err and "no such folder" in err


def test_a_file_where_a_label_folder_goes_is_refused_first(run, tiny_data, tmp_path):
    out = tmp_path / "out"
    args = ("data", "export", "--to", "yolo", _ann(tiny_data, "val"), "--images",
            tiny_data / "val2017", "-o", out)
    assert run(*args)[0] == 0
    shutil.rmtree(out / "labels")
    (out / "labels").mkdir()
    (out / "labels/val2017").write_text("")
    code, _, err = run(*args)
    assert code == 1 and "labels/val2017: exists and is not a folder" in err
