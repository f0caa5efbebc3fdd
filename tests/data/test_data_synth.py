"""The synthetic shapes dataset: COCO 2017 layout, exact boxes, many scales, determinism."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nasfpn_cli.data.checks import check_dataset
from nasfpn_cli.data.synth import SHAPE_CLASSES, make_synthetic_dataset
from nasfpn_cli.errors import DatasetError

COLOURS = {c.category_id: c.colour for c in SHAPE_CLASSES}


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> dict:
    return make_synthetic_dataset(tmp_path_factory.mktemp("synth"), num_images=40,
                                  image_size=128, seed=3)


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "synth.json"}


def test_layout_and_counts(synth):
    root = Path(synth["root"])
    assert synth["train_ann"] == str(root / "annotations" / "instances_train2017.json")
    assert synth["val_images"] == str(root / "val2017")
    assert (synth["num_train"], synth["num_val"]) == (32, 8)
    train = json.loads(Path(synth["train_ann"]).read_text())
    val = json.loads(Path(synth["val_ann"]).read_text())
    assert len(list((root / "train2017").glob("*.png"))) == 32
    assert len(list((root / "val2017").glob("*.png"))) == 8
    assert [c["id"] for c in train["categories"]] == [1, 3, 7]  # non-contiguous on purpose
    image_ids = [i["id"] for i in train["images"] + val["images"]]
    assert len(set(image_ids)) == 40
    ann_ids = [a["id"] for a in train["annotations"] + val["annotations"]]
    assert len(set(ann_ids)) == len(ann_ids) == synth["num_annotations"]
    annotated = {a["image_id"] for a in train["annotations"]}
    assert any(i["id"] not in annotated for i in train["images"]), "some images are empty"
    counts = [sum(a["image_id"] == i["id"] for a in train["annotations"])
              for i in train["images"]]
    assert max(counts) >= 4, "several objects per image"


def test_boxes_are_the_exact_extent_of_the_drawn_shapes(synth):
    data = json.loads(Path(synth["train_ann"]).read_text())
    files = {i["id"]: i["file_name"] for i in data["images"]}
    sides = []
    for ann in data["annotations"]:
        pixels = np.asarray(Image.open(Path(synth["train_images"]) / files[ann["image_id"]]),
                            dtype=np.int16)
        x, y, w, h = ann["bbox"]
        # a window one pixel larger than the box: shapes keep 2 px apart, so only this one
        x0, y0 = max(x - 1, 0), max(y - 1, 0)
        window = pixels[y0:y + h + 1, x0:x + w + 1]
        mask = (np.abs(window - COLOURS[ann["category_id"]]).max(axis=-1) <= 15)
        rows, cols = np.nonzero(mask)
        assert (cols.min() + x0, rows.min() + y0, cols.max() + x0 + 1, rows.max() + y0 + 1) \
            == (x, y, x + w, y + h)
        assert ann["area"] == mask.sum() and ann["iscrowd"] == 0
        sides += [w, h]
    assert min(sides) <= 12 and max(sides) >= 48  # from ~8 px to ~half of 128 px


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path):
    first = make_synthetic_dataset(tmp_path / "a", num_images=6, image_size=64, seed=11)
    second = make_synthetic_dataset(tmp_path / "b", num_images=6, image_size=64, seed=11)
    other = make_synthetic_dataset(tmp_path / "c", num_images=6, image_size=64, seed=12)
    digests = _digests(Path(first["root"]))
    assert len(digests) == 8
    assert digests == _digests(Path(second["root"]))
    assert digests != _digests(Path(other["root"]))


def test_min_object_size_and_max_objects(tmp_path):
    summary = make_synthetic_dataset(tmp_path, num_images=10, image_size=96, seed=1,
                                     val_fraction=0.0, max_objects=2, min_object_size=20)
    data = json.loads(Path(summary["train_ann"]).read_text())
    assert summary["num_val"] == 0 and len(data["images"]) == 10
    assert min(min(a["bbox"][2:]) for a in data["annotations"]) >= 20
    per_image = [sum(a["image_id"] == i["id"] for a in data["annotations"])
                 for i in data["images"]]
    assert max(per_image) == 2


def test_rewrite_with_fewer_images_leaves_no_stale_files(tmp_path):
    make_synthetic_dataset(tmp_path, num_images=8, image_size=64, val_fraction=0.25)
    summary = make_synthetic_dataset(tmp_path, num_images=4, image_size=64, val_fraction=0.25)
    assert len(list((tmp_path / "train2017").glob("*.png"))) == summary["num_train"] == 3
    assert len(list((tmp_path / "val2017").glob("*.png"))) == summary["num_val"] == 1


def test_checker_accepts_the_synthetic_data(synth):
    report = check_dataset(synth["val_ann"], synth["val_images"])
    assert report.ok, report.to_dict()
    assert report.stats["images"] == 8


@pytest.mark.parametrize("kwargs, message", [
    ({"num_images": 0}, "num_images"),
    ({"image_size": 16}, "image_size"),
    ({"val_fraction": 1.0}, "val_fraction"),
    ({"num_classes": 7}, "num_classes"),
    ({"image_size": 64, "min_object_size": 40}, "min_object_size"),
])
def test_bad_parameters_raise_dataset_error(tmp_path, kwargs, message):
    with pytest.raises(DatasetError, match=message):
        make_synthetic_dataset(tmp_path, **kwargs)
