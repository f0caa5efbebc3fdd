"""Detector ``.safetensors`` files whose metadata was damaged or edited: each field is either
valid or an error naming the file and the field (never silently dropped: a lost ``data`` made
``predict`` write circles as category 1). Issue 30: D7, D15, U4."""
from __future__ import annotations


import pytest

from nasfpn_cli.engine.checkpoint import Checkpoint
from nasfpn_cli.errors import CheckpointError
from metadata_edits import json_field_edit


@pytest.fixture(scope="module")
def detector_file(tiny_run, tmp_path_factory):
    from nasfpn_cli.cli import main

    path = tmp_path_factory.mktemp("st") / "det.safetensors"
    with pytest.raises(SystemExit) as done:
        main(["export", "fpn", "--checkpoint", str(tiny_run / "best.pt"), "-o", str(path),
              "--no-verify"])
    assert done.value.code == 0
    return path


def _edited(source, target, edit) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(source), "pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    edit(metadata)
    save_file(tensors, str(target), metadata=metadata)


def _set(key, value):
    return lambda metadata: metadata.__setitem__(key, value)


def _data(**parts):
    return json_field_edit("data", **parts)


def _spec_twice(metadata):
    metadata["spec"] = metadata["spec"][:-1] + ', "channels": 32}'


# case -> (edit of the metadata, what the message names)
CASES = {
    "data not JSON": (_set("data", "{garbage"), "metadata field 'data': not JSON"),
    "data a list": (_set("data", "[1, 2, 3]"), "metadata field 'data': expected a JSON object"),
    "data ids text": (_data(label_to_category="x"), 'label_to_category "x"'),
    "data ids twice": (_data(label_to_category=[1, 1]), "distinct category ids"),
    "data ids too few": (_data(label_to_category=[1]), "has 1 ids for 2 classes"),
    "data names numbers": (_data(category_names=[1, 2]), "category_names [1, 2]"),
    "spec not JSON": (_set("spec", "{"), "metadata field 'spec': not JSON"),
    "spec a list": (_set("spec", "[]"), "metadata field 'spec': expected a JSON object"),
    "spec missing": (lambda m: m.pop("spec"), "metadata field 'spec': missing"),
    "spec key twice": (_spec_twice, "metadata field 'spec': key 'channels' given twice"),
    "genotype missing": (lambda m: m.pop("genotype"), "metadata field 'genotype': missing"),
    "genotype disagrees": (_set("genotype", "garbage"), "describe different genotypes"),
    "image_size text": (_set("image_size", "abc"), "metadata field 'image_size': not JSON"),
    "image_size NaN": (_set("image_size", "NaN"), "field 'image_size': expected a whole"),
}


@pytest.mark.parametrize("edit, message", CASES.values(), ids=CASES.keys())
def test_damaged_metadata_names_the_field(detector_file, tmp_path, edit, message):
    damaged = tmp_path / "damaged.safetensors"
    _edited(detector_file, damaged, edit)
    with pytest.raises(CheckpointError) as caught:
        checkpoint = Checkpoint.read(damaged)
        checkpoint.spec, checkpoint.label_to_category, checkpoint.category_names
    assert message in str(caught.value) and str(damaged) in str(caught.value)


def test_the_intact_file_keeps_its_category_ids(detector_file, tiny_run):
    stored, trained = Checkpoint.read(detector_file), Checkpoint.read(tiny_run / "best.pt")
    assert stored.label_to_category == trained.label_to_category


def test_predict_refuses_a_damaged_data_field(run, detector_file, tiny_data, tmp_path):
    damaged = tmp_path / "damaged.safetensors"
    _edited(detector_file, damaged, _set("data", "{garbage"))
    code, _, err = run("predict", damaged, tiny_data / "val2017", "-o", tmp_path / "p")
    assert code == 1 and "metadata field 'data': not JSON" in err and "Traceback" not in err
    assert not (tmp_path / "p" / "detections.json").exists()
