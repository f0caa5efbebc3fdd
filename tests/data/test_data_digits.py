"""The digits-on-photos dataset: COCO 2017 layout, exact boxes, disjoint scans, determinism,
and the ``nasfpn data digits`` command's exit codes."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from nasfpn_cli.data.checks import check_dataset
from nasfpn_cli.data.digits import (ALPHA_THRESHOLD, _scan_pool, digit_scans,
                                    make_digits_dataset, render_digits_image)
from nasfpn_cli.errors import DatasetError


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> dict:
    return make_digits_dataset(tmp_path_factory.mktemp("digits"), num_train=24, num_val=8,
                               image_size=128, seed=5, max_object_size=64)


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "digits.json"}


def test_layout_counts_and_categories(digits):
    root = Path(digits["root"])
    assert (digits["num_train"], digits["num_val"]) == (24, 8)
    assert len(list((root / "train2017").glob("*.png"))) == 24
    assert len(list((root / "val2017").glob("*.png"))) == 8
    train = json.loads(Path(digits["train_ann"]).read_text())
    assert [(c["id"], c["name"]) for c in train["categories"]] == [
        (d + 1, str(d)) for d in range(10)]
    val = json.loads(Path(digits["val_ann"]).read_text())
    ids = [a["id"] for a in train["annotations"] + val["annotations"]]
    assert len(set(ids)) == len(ids) == digits["num_annotations"]
    per_image = [sum(a["image_id"] == i["id"] for a in train["annotations"])
                 for i in train["images"]]
    assert min(per_image) >= 1 and max(per_image) >= 4, "several digits per canvas"
    assert len({a["category_id"] for a in train["annotations"]}) >= 8


def test_checker_accepts_both_splits(digits):
    for split in ("train", "val"):
        report = check_dataset(digits[f"{split}_ann"], digits[f"{split}_images"])
        assert report.ok, report.to_dict()


def test_boxes_are_the_extent_of_the_ink_and_apart_from_each_other():
    pool = _scan_pool("train2017")
    sides = []
    for index in range(12):
        image, objects = render_digits_image(2, index, 160, pool)
        assert image.size == (160, 160)
        boxes = [o["bbox"] for o in objects]
        for i, (x, y, w, h) in enumerate(boxes):
            assert x >= 0 and y >= 0 and x + w <= 160 and y + h <= 160 and w >= 1 and h >= 1
            for (x2, y2, w2, h2) in boxes[i + 1:]:  # no overlap at all
                assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y
            sides.append(h)
        assert all(1 <= o["category_id"] <= 10 and 0 < o["area"] <= o["bbox"][2] * o["bbox"][3]
                   for o in objects)
    assert min(sides) <= 16 and max(sides) >= 50  # from about 10 px to about 80 px


def test_label_is_the_digit_of_the_scan_drawn():
    """The scan chosen for an object is the one whose ink fills the box."""
    scans, labels = digit_scans()
    pool = np.array([7])  # a single scan: every object must carry its label
    _, objects = render_digits_image(0, 0, 128, pool, max_objects=5, max_object_size=64)
    assert objects and {o["category_id"] for o in objects} == {int(labels[7]) + 1}
    assert (scans[7] >= ALPHA_THRESHOLD).any()


def test_train_and_val_use_different_handwriting():
    train, val = set(_scan_pool("train2017")), set(_scan_pool("val2017"))
    assert not train & val and len(train) + len(val) == len(digit_scans()[1]) == 1797


def test_same_seed_identical_other_seed_differs(tmp_path):
    options = dict(num_train=4, num_val=2, image_size=64, max_object_size=32)
    first = make_digits_dataset(tmp_path / "a", seed=9, **options)
    second = make_digits_dataset(tmp_path / "b", seed=9, **options)
    other = make_digits_dataset(tmp_path / "c", seed=10, **options)
    digests = _digests(Path(first["root"]))
    assert len(digests) == 8
    assert digests == _digests(Path(second["root"]))
    assert digests != _digests(Path(other["root"]))


def test_pixels_are_a_photo_or_noise_not_flat():
    image, _ = render_digits_image(1, 3, 96, _scan_pool("val2017"), max_object_size=48)
    assert np.asarray(image, np.float32).std() > 5


@pytest.mark.parametrize("kwargs, message", [
    ({"num_train": 0}, "num_train"),
    ({"num_val": -1}, "num_val"),
    ({"image_size": 32}, "image_size"),
    ({"max_objects": 0}, "max_objects"),
    ({"min_object_size": 4}, "min_object_size"),
    ({"image_size": 96, "max_object_size": 80}, "max_object_size"),
])
def test_bad_parameters_raise_dataset_error(tmp_path, kwargs, message):
    with pytest.raises(DatasetError, match=message):
        make_digits_dataset(tmp_path, **kwargs)


def test_cli_writes_a_set_that_data_check_accepts(cli, tmp_path):
    out = tmp_path / "digits"
    result = cli("data", "digits", str(out), "--num-train", "3", "--num-val", "2",
                 "--image-size", "64", "--max-object-size", "32")
    assert result.returncode == 0, result.stderr
    assert "wrote 3 train and 2 val images" in result.stdout
    check = cli("data", "check", str(out / "annotations/instances_val2017.json"),
                "--images", str(out / "val2017"))
    assert check.returncode == 0 and "no problems" in check.stdout
    again = cli("data", "digits", str(out), "--num-train", "2", "--num-val", "1",
                "--image-size", "64", "--max-object-size", "32")  # its own folder: rewritten
    assert again.returncode == 0 and len(list((out / "train2017").glob("*.png"))) == 2


@pytest.mark.parametrize("args, message", [
    (["--num-train", "0"], "--num-train"),
    (["--image-size", "32"], "--image-size"),
    (["--image-size", "96", "--max-object-size", "80"], "--max-object-size"),
])
def test_cli_bad_options_exit_2(cli, tmp_path, args, message):
    result = cli("data", "digits", str(tmp_path / "d"), *args)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_refuses_a_foreign_folder(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = cli("data", "digits", str(tmp_path), "--num-train", "1", "--num-val", "0")
    assert result.returncode == 2 and "not empty" in result.stderr
    assert "Traceback" not in result.stderr
