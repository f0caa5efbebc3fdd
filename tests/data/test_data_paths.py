"""--data DIR (COCO 2017 layout) versus explicit paths, and the errors naming what is missing."""
from __future__ import annotations

from pathlib import Path

import pytest

from nasfpn_cli.data.paths import resolve_data_paths
from nasfpn_cli.errors import DatasetError


@pytest.fixture
def layout(tmp_path) -> Path:
    (tmp_path / "annotations").mkdir()
    for split in ("train2017", "val2017"):
        (tmp_path / split).mkdir()
        (tmp_path / "annotations" / f"instances_{split}.json").write_text("{}")
    return tmp_path


def test_data_dir_gives_the_coco_2017_layout(layout):
    assert resolve_data_paths(layout) == (
        layout / "annotations/instances_train2017.json", layout / "train2017",
        layout / "annotations/instances_val2017.json", layout / "val2017")


def test_explicit_path_overrides_its_part_of_the_layout(layout):
    other = layout / "other.json"
    other.write_text("{}")
    assert resolve_data_paths(str(layout), val_ann=str(other))[2] == other


def test_explicit_paths_without_validation(layout):
    train_ann = layout / "annotations/instances_train2017.json"
    assert resolve_data_paths(train_ann=train_ann, train_images=layout / "train2017") == (
        train_ann, layout / "train2017", None, None)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "no training data: give --train-ann and --train-images, or --data DIR"),
    ({"train_ann": "a.json"}, "give --train-images"),
    ({"train_ann": "a.json", "train_images": ".", "val_ann": "v.json"},
     "--val-ann needs --val-images too"),
    ({"data_dir": "nowhere"}, "nowhere: no such data folder (given by --data)"),
])
def test_missing_options_are_named(kwargs, message):
    with pytest.raises(DatasetError) as info:
        resolve_data_paths(**kwargs)
    assert message in str(info.value)


def test_missing_paths_are_named_with_their_source(layout):
    (layout / "annotations/instances_val2017.json").unlink()
    with pytest.raises(DatasetError, match=r"instances_val2017.json: not found \(under --data\)"):
        resolve_data_paths(layout)
    with pytest.raises(DatasetError, match=r"train2017: is not an annotation file \(given by "
                                           r"--train-ann\)"):
        resolve_data_paths(train_ann=layout / "train2017", train_images=layout / "train2017")
    with pytest.raises(DatasetError, match=r"missing: not found \(given by --train-images\)"):
        resolve_data_paths(train_ann=layout / "annotations/instances_train2017.json",
                           train_images=layout / "missing")
