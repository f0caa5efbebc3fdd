"""The dataset checker: every kind of problem, counted with examples; cleaning what is bad."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from nasfpn_cli.data.checks import (PROBLEM_KINDS, check_annotations, check_dataset,
                                    clean_dataset)
from nasfpn_cli.data.coco import CocoDetection
from nasfpn_cli.errors import DatasetError

SIZES = {"a.png": (20, 16), "b.png": (24, 24), "c.jpg": (32, 20)}


def base_annotations() -> dict:
    images = [{"id": i + 1, "file_name": name, "width": w, "height": h}
              for i, (name, (w, h)) in enumerate(SIZES.items())]
    boxes = [(1, 1, [2, 2, 8, 6]), (1, 4, [10, 4, 9, 11.5]), (2, 4, [0, 0, 24, 24]),
             (3, 1, [5, 5, 10, 10]), (3, 4, [20, 2, 12, 18])]
    annotations = [{"id": k + 100, "image_id": image, "category_id": cat, "bbox": bbox,
                    "area": bbox[2] * bbox[3], "iscrowd": 0}
                   for k, (image, cat, bbox) in enumerate(boxes)]
    return {"images": images, "annotations": annotations,
            "categories": [{"id": 1, "name": "one"}, {"id": 4, "name": "four"}]}


def write_images(image_dir: Path) -> None:
    image_dir.mkdir(parents=True, exist_ok=True)
    for name, (w, h) in SIZES.items():
        Image.new("RGB", (w, h), (30, 120, 200)).save(image_dir / name)


@pytest.fixture
def dataset(tmp_path) -> tuple[Path, Path]:
    ann_file, image_dir = tmp_path / "ann.json", tmp_path / "images"
    write_images(image_dir)
    ann_file.write_text(json.dumps(base_annotations()))
    return ann_file, image_dir


@pytest.fixture(scope="module")
def shared_images(tmp_path_factory) -> Path:
    image_dir = tmp_path_factory.mktemp("shared") / "images"
    write_images(image_dir)
    return image_dir


def test_clean_dataset_is_ok(dataset):
    report = check_dataset(*dataset)
    assert report.ok and report.problems == [] and report.stats == {
        "images": 3, "annotations": 5, "categories": 2, "crowd": 0,
        "images_without_annotations": 0, "image_files_checked": 3}
    assert "no problems" in str(report.render())


def _truncate(path: Path, keep: float = 0.6) -> None:
    path.write_bytes(path.read_bytes()[:int(path.stat().st_size * keep)])


def _set(section: str, index: int, **fields):
    def mutate(data, image_dir):
        data[section][index].update(fields)
    return mutate


# name -> (mutation of (annotations dict, image dir), expected {kind: count}, example text)
CASES = {
    "no categories list": (lambda d, _: d.pop("categories"), {"missing-field": 1},
                           "top level: no 'categories' list"),
    "images not a list": (lambda d, _: d.update(images={"id": 1}), {"wrong-type": 1},
                          "'images' is {'id': 1}, expected a list"),
    "image without file_name": (lambda d, _: d["images"][1].pop("file_name"),
                                {"missing-field": 1}, "images[1]: no 'file_name'"),
    "zero width": (_set("images", 0, width=0), {"bad-image-size": 1},
                   "images[0]: 'width' is 0, expected a positive integer"),
    "string id": (_set("annotations", 0, id="100"), {"wrong-type": 1},
                  "annotations[0]: 'id' is '100', expected an integer"),
    "short bbox": (_set("annotations", 2, bbox=[1, 2, 3]), {"bbox-length": 1},
                   "annotations[2] (id 102): bbox [1, 2, 3]"),
    "non-numeric bbox": (_set("annotations", 1, bbox=[1, "2", 3, 4]),
                         {"bbox-non-numeric": 1}, "bbox [1, '2', 3, 4]"),
    "nan in bbox": (_set("annotations", 1, bbox=[1, 2, float("nan"), 4]),
                    {"bbox-non-numeric": 1}, "nan"),
    "non-positive boxes": (lambda d, _: (d["annotations"][0].update(bbox=[1, 1, 0, 5]),
                                         d["annotations"][3].update(bbox=[1, 1, 5, -2])),
                           {"bbox-non-positive": 2}, "bbox [1, 1, 0, 5]"),
    "box outside": (_set("annotations", 0, bbox=[15, 10, 10, 10]), {"bbox-outside-image": 1},
                    "bbox [15, 10, 10, 10] in a 20x16 image"),
    "unknown category": (_set("annotations", 4, category_id=99), {"unknown-category": 1},
                         "annotations[4] (id 104): category_id 99"),
    "unknown image": (_set("annotations", 4, image_id=77), {"unknown-image": 1},
                      "annotations[4] (id 104): image_id 77"),
    "duplicate image id": (_set("images", 2, id=1), {"duplicate-image-id": 1, "unknown-image": 2},
                           "images[2]: id 1 already used"),
    "duplicate annotation id": (_set("annotations", 3, id=100),
                                {"duplicate-annotation-id": 1}, "annotations[3]: id 100"),
    "duplicate category id": (lambda d, _: d["categories"].append({"id": 4, "name": "again"}),
                              {"duplicate-category-id": 1}, "categories[2]: id 4 already used"),
    "empty categories": (lambda d, _: d.update(categories=[]),
                         {"no-categories": 1, "unknown-category": 5}, "empty list"),
    "bad iscrowd": (_set("annotations", 1, iscrowd=2), {"wrong-type": 1},
                    "'iscrowd' is 2, expected 0 or 1"),
    "missing image file": (lambda _, i: (i / "b.png").unlink(), {"image-missing": 1},
                           "images[1] (id 2) b.png: not found"),
    "truncated png": (lambda _, i: _truncate(i / "a.png"), {"image-unreadable": 1},
                      "a.png: truncated"),
    "truncated jpeg": (lambda _, i: _truncate(i / "c.jpg", 0.97), {"image-unreadable": 1},
                       "c.jpg: truncated"),
    "not an image": (lambda _, i: (i / "b.png").write_text("hello"), {"image-unreadable": 1},
                     "b.png: not an image"),
    "size mismatch": (lambda _, i: Image.new("RGB", (5, 5)).save(i / "a.png"),
                      {"image-size-mismatch": 1}, "file is 5x5, annotations say 20x16"),
    "no image folder": (lambda _, i: [p.unlink() for p in i.iterdir()] and i.rmdir(),
                        {"image-dir-missing": 1}, "no such folder"),
    "a file as the image folder": (  # U11 of probe 2: said "no such folder"
        lambda _, i: ([p.unlink() for p in i.iterdir()], i.rmdir(), i.write_text("{}")),
        {"image-dir-missing": 1}, "images: not a folder"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_problem_is_reported(dataset, name):
    mutate, expected, example = CASES[name]
    ann_file, image_dir = dataset
    data = base_annotations()
    mutate(data, image_dir)
    ann_file.write_text(json.dumps(data))
    report = check_dataset(ann_file, image_dir)
    assert not report.ok and report.counts() == expected
    examples = "\n".join(e for p in report.problems for e in p.examples)
    assert example in examples
    assert all(p.kind in PROBLEM_KINDS for p in report.problems)
    text = str(report.render())
    assert all(kind in text for kind in expected)


@pytest.mark.parametrize("text, kind, message", [
    ('{"images": [{"id": 1, "file_n', "json-truncated",
     "truncated JSON: the file ends inside a value (line 1 column 30, char 29); Unterminated "
     "string starting at line 1 column 23 (char 22)"),
    ('{"images": [1, 2', "json-truncated", "(line 1 column 17, char 16); Expecting ',' "
                                            "delimiter at line 1 column 17 (char 16)"),
    ('{"images": []\n "annotations": []}', "json-invalid",
     "invalid JSON at line 2 column 2 (char 15): Expecting ',' delimiter"),
    ("", "json-invalid", "the file is empty"),
    ("[1, 2]", "not-an-object", "top level is list"),
])
def test_broken_json_is_reported_with_its_position(tmp_path, text, kind, message):
    ann_file = tmp_path / "ann.json"
    ann_file.write_text(text)
    report = check_dataset(ann_file, tmp_path)
    assert report.counts() == {kind: 1} and message in report.problems[0].examples[0]
    assert report.fatal


def test_every_problem_counted_with_limited_examples(dataset):
    ann_file, image_dir = dataset
    data = base_annotations()
    data["annotations"] += [{"id": 200 + k, "image_id": 2, "category_id": 1,
                             "bbox": [0, 0, -k, 3]} for k in range(7)]
    data["annotations"][0]["category_id"] = 50
    (image_dir / "b.png").unlink()
    ann_file.write_text(json.dumps(data))
    report = check_dataset(ann_file, image_dir, max_examples=3)
    assert report.counts() == {"unknown-category": 1, "bbox-non-positive": 7,
                               "image-missing": 1}
    assert len(report.problem("bbox-non-positive").examples) == 3
    as_dict = json.loads(json.dumps(report.to_dict()))
    assert as_dict["ok"] is False and as_dict["problems"][1]["count"] == 7
    assert report.summary_line().endswith("9 problems of 3 kinds")


def test_clean_drops_bad_records_and_the_result_loads(dataset):
    ann_file, image_dir = dataset
    data = base_annotations()
    data["annotations"][0]["bbox"] = [1, 1, 0, 5]          # bad box
    data["annotations"][2]["category_id"] = 99             # unknown category
    data["annotations"][3]["id"] = 100                     # duplicate id: later one dropped
    (image_dir / "c.jpg").write_bytes(b"\xff\xd8broken")   # unreadable image (2 annotations)
    ann_file.write_text(json.dumps(data))
    cleaned = clean_dataset(ann_file, image_dir)
    assert (cleaned.dropped_images, cleaned.dropped_annotations) == (1, 4)
    assert "dropped 4 of 5 annotations and 1 of 3 images" in cleaned.summary()
    assert [a["id"] for a in cleaned.annotations["annotations"]] == [101]
    assert check_annotations(cleaned.annotations, image_dir).ok
    loaded = CocoDetection(ann_file, image_dir, annotations=cleaned.annotations)
    assert [loaded[i][1]["labels"].tolist() for i in range(len(loaded))] == [[1], []]


def test_clean_refuses_what_it_cannot_repair(dataset):
    ann_file, image_dir = dataset
    ann_file.write_text('{"images": [')
    with pytest.raises(DatasetError, match="cannot be repaired.*json-truncated"):
        clean_dataset(ann_file, image_dir)
    data = base_annotations()
    for category in data["categories"]:
        category.pop("name")
    ann_file.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="no usable categories left after dropping"):
        clean_dataset(ann_file, image_dir)


MUTATIONS = [
    lambda r: r.pop("id", None), lambda r: r.update(id="x"), lambda r: r.update(bbox=[1]),
    lambda r: r.update(bbox=[0, 0, 1e9, 2]), lambda r: r.update(bbox=None),
    lambda r: r.update(width=-3), lambda r: r.update(image_id=12345),
    lambda r: r.update(category_id=4), lambda r: r.update(id=1), lambda r: r.update(name=7),
    lambda r: r.update(iscrowd=1), lambda r: r.update(area="big"), lambda r: r.clear(),
    lambda r: r.update(file_name="missing.png"), lambda r: r.update(height=16.0),
]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["images", "annotations", "categories"]),
                          st.integers(0, 4), st.integers(0, len(MUTATIONS) - 1)), max_size=6))
def test_cleaned_data_always_passes_and_loads(shared_images, edits):
    """Whatever records get corrupted, the checker does not crash, and what survives
    cleaning passes the checks and loads item by item."""
    data = copy.deepcopy(base_annotations())
    for section, index, mutation in edits:
        records = data[section]
        MUTATIONS[mutation](records[index % len(records)])
    report = check_annotations(data, shared_images)
    if report.fatal:
        return
    try:
        cleaned = clean_dataset("edited.json", shared_images, report)
    except DatasetError as exc:
        assert "left after dropping" in str(exc)
        return
    assert check_annotations(cleaned.annotations, shared_images).ok
    dataset = CocoDetection("edited.json", shared_images, annotations=cleaned.annotations,
                            skip_crowd=False)
    for index in range(len(dataset)):
        dataset[index]
