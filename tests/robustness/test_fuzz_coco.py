"""Fuzzing COCO annotation files: any mutation of a valid file is either reported by the data
checks (then refused, or dropped by --skip-bad) or loads into a dataset whose every box is
usable. Nothing in between may crash train, eval or ``data check``."""
from __future__ import annotations

import copy
import json
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasfpn_cli.data.checks import check_annotations, clean_dataset
from nasfpn_cli.data.coco import CocoDetection
from nasfpn_cli.errors import DatasetError

HOSTILE_VALUES = [None, "yes", "", -1, 0, 1, 0.5, -0.0, 1e308, -1e308, 2 ** 70, True, False, [],
                  {}, [1, 2], [1, 2, 3, 4, 5], [0, 0, 0, 0], [1, 1, -5, 5], [1e308, 0, 1, 1],
                  ["1", "2", "3", "4"], "x" * 300, "[bold]x[/bold]\x1b[2J", {"a": 1}]
FIELDS = {"images": ["id", "file_name", "width", "height"],
          "annotations": ["id", "image_id", "category_id", "bbox", "iscrowd", "area"],
          "categories": ["id", "name", "supercategory"]}
# FUZZ_EXAMPLES=3000 for a longer hunt (3000 pass)
SETTINGS = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 120)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.fixture(scope="module")
def base(tiny_data):
    return json.loads((tiny_data / "annotations" / "instances_train2017.json").read_text())


@st.composite
def mutations(draw, base: dict) -> dict:
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["set", "delete-field", "delete-section", "duplicate",
                                     "replace-section", "swap-id"]))
        section = draw(st.sampled_from(sorted(FIELDS)))
        records = data.get(section)
        if kind == "delete-section":
            data.pop(section, None)
        elif kind == "replace-section":
            data[section] = draw(st.sampled_from(HOSTILE_VALUES))
        elif isinstance(records, list) and records:
            index = draw(st.integers(0, len(records) - 1))
            record = records[index]
            if not isinstance(record, dict):
                continue
            field = draw(st.sampled_from(FIELDS[section]))
            if kind == "set":
                record[field] = draw(st.sampled_from(HOSTILE_VALUES))
            elif kind == "delete-field":
                record.pop(field, None)
            elif kind == "duplicate":
                records.append(copy.deepcopy(record))
            else:
                other = records[draw(st.integers(0, len(records) - 1))]
                if isinstance(other, dict):
                    record["id"] = other.get("id")
    return data


def _loads_cleanly(data: dict, image_dir) -> None:
    """What train does with data the checks passed: the dataset builds and every box it would
    train on is finite with positive size."""
    dataset = CocoDetection("fuzzed.json", image_dir, annotations=data)
    for record in dataset._records:
        boxes = np.asarray(record.boxes, dtype=np.float64).reshape(-1, 4)
        assert np.isfinite(boxes).all()
        assert ((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])).all()
    assert dataset.num_classes >= 1


@SETTINGS
@given(data=st.data())
def test_mutated_annotations_are_reported_or_load(base, tiny_data, data):
    doc = data.draw(mutations(base))
    image_dir = tiny_data / "train2017"
    report = check_annotations(doc, image_dir, ann_file="fuzzed.json", check_images=False)
    report.render()
    str(report.render())
    json.dumps(report.to_dict())
    if report.ok:
        _loads_cleanly(doc, image_dir)
        return
    assert report.total >= 1 and all(p.examples or p.count for p in report.problems)
    try:
        cleaned = clean_dataset("fuzzed.json", image_dir, report=report)
    except DatasetError:
        return  # refused with a message: fine
    _loads_cleanly(cleaned.annotations, image_dir)


@SETTINGS
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(
    lambda b: b.decode("latin-1"))))
def test_any_annotation_file_text_is_reported_not_raised(tmp_path_factory, tiny_data, text):
    from nasfpn_cli.data.checks import check_dataset

    path = tmp_path_factory.mktemp("ann") / "a.json"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    report = check_dataset(path, tiny_data / "train2017")
    assert not report.ok or (isinstance(report.data, dict))
    str(report.render())


def test_examples_are_capped_with_a_count_of_the_rest(base, tiny_data):
    doc = copy.deepcopy(base)
    for annotation in doc["annotations"]:
        annotation["bbox"] = None
    report = check_annotations(doc, tiny_data / "train2017", check_images=False,
                               max_examples=3)
    problem = report.problem("bbox-length")
    assert problem.count == len(doc["annotations"]) > 3 and len(problem.examples) == 3
    assert math.isfinite(report.total)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_as_annotation_file_is_refused_not_read_forever(tiny_data):
    from nasfpn_cli.data.checks import check_dataset

    report = check_dataset("/dev/zero", tiny_data / "train2017")
    assert report.problem("json-unreadable") and "is a device" in report.problems[0].examples[0]


def test_a_pipe_as_annotation_file_is_read(tiny_data, tmp_path):
    import threading

    from nasfpn_cli.data.checks import check_dataset

    fifo = tmp_path / "ann.fifo"
    os.mkfifo(fifo)
    text = (tiny_data / "annotations" / "instances_train2017.json").read_bytes()
    writer = threading.Thread(target=lambda: fifo.write_bytes(text))
    writer.start()
    report = check_dataset(fifo, tiny_data / "train2017")
    writer.join(10)
    assert report.ok, report.problems


def test_integers_of_thousands_of_digits_are_reported(base, tiny_data, tmp_path):
    from nasfpn_cli.data.checks import check_dataset

    text = json.dumps(base).replace('"id": 1,', '"id": ' + "9" * 5000 + ",", 1)
    path = tmp_path / "a.json"
    path.write_text(text)
    report = check_dataset(path, tiny_data / "train2017")
    assert not report.ok and report.problem("wrong-type")
