"""What a weights file holds, beyond names and shapes (issue 30: C5, D8, H5, U1-U3, U19, U20):
sparse, meta, integer, boolean, complex or non-finite tensors; a file whose format is not its
suffix; a detector's file where a backbone's belongs; a truncated torch file; a stored spec
that describes a larger model than the file holds. Each is an error naming the file (and the
tensor or field), exit 1, before anything is allocated or trained; never exit 3."""
from __future__ import annotations

import time

import pytest
import torch

from nasfpn_cli.engine.checkpoint import Checkpoint
from nasfpn_cli.errors import NasfpnError
from nasfpn_cli.modeling import weights_file
from nasfpn_cli.modeling.backbones import build_backbone
from nasfpn_cli.modeling.spec import ModelSpec
from metadata_edits import json_field_edit

KEY = "layer1.0.conv1.weight"  # a backbone tensor every edit below changes


@pytest.fixture(scope="module")
def backbone_state():
    torch.manual_seed(0)
    return build_backbone("resnet10").state_dict()


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    """(metadata, tensors) of a tiny detector file as ``nasfpn export`` writes it."""
    from nasfpn_cli.modeling.detector import build_detector

    spec = ModelSpec.create("fpn", backbone="resnet10", stack=1, channels=16, num_classes=2)
    return (weights_file.file_metadata(spec, weights_file.DETECTOR_FORMAT),
            weights_file.detector_tensors(build_detector(spec).network))


def _replace(key, make):
    def edit(state):
        state = dict(state)
        state[key] = make(state[key])
        return state
    return edit


def _nan(tensor):
    tensor = tensor.clone()
    tensor.view(-1)[0] = float("nan")
    return tensor


# case -> (edit of the backbone state dict, what the message says); saved with torch.save
TENSOR_CASES = {
    "sparse": (_replace(KEY, lambda t: t.to_sparse()), "sparse_coo tensor, not a dense one"),
    "meta": (_replace(KEY, lambda t: t.to("meta")), "a meta tensor"),
    "int64": (_replace(KEY, lambda t: t.long()), "dtype int64, expected floating point"),
    "bool": (_replace(KEY, lambda t: t > 0), "dtype bool, expected floating point"),
    "complex": (_replace(KEY, lambda t: t.to(torch.complex64)),
                "dtype complex64, expected floating point"),
    "one NaN": (_replace(KEY, _nan), "1 of its"),
    "all inf": (_replace(KEY, lambda t: torch.full_like(t, float("inf"))), "NaN or infinite"),
    "every tensor int": (lambda s: {k: v.long() for k, v in s.items()}, "tensor(s) cannot be "
                                                                       "loaded"),
}


@pytest.mark.parametrize("edit, message", TENSOR_CASES.values(), ids=TENSOR_CASES.keys())
def test_backbone_tensors_of_the_wrong_kind_are_refused(run, backbone_state, tmp_path, edit,
                                                        message):
    path = tmp_path / "w.pth"
    torch.save(edit(backbone_state), path)
    with pytest.raises(NasfpnError) as caught:
        build_backbone("resnet10", weights=path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_train_refuses_nan_weights_before_training(run, backbone_state, tiny_data, tmp_path):
    path = tmp_path / "nan.pth"
    torch.save(_replace(KEY, _nan)(backbone_state), path)
    code, _, err = run("train", "fpn", "--data", tiny_data, "--backbone", "resnet10", "--stack",
                       "1", "--channels", "16", "--image-size", "64", "--epochs", "1",
                       "--workers", "0", "--no-progress", "--backbone-weights", path,
                       "-o", tmp_path / "r")
    assert code == 1 and "NaN or infinite" in err and "Traceback" not in err
    assert "lower --lr" not in err and not (tmp_path / "r" / "last.pt").exists()


def _detector_file(detector, tmp_path, edit=None, metadata_edit=None, name="d.safetensors"):
    metadata, tensors = detector
    metadata, tensors = dict(metadata), dict(tensors)
    if edit:
        tensors = edit(tensors)
    if metadata_edit:
        metadata_edit(metadata)
    path = tmp_path / name
    path.write_bytes(weights_file.to_bytes(tensors, metadata))
    return path


def _spec_edit(**values):
    return json_field_edit("spec", **values)


DKEY = "network.head.cls_score.weight"
# case -> (tensor edit, metadata edit, what the message says)
DETECTOR_CASES = {
    "int32 tensors": (lambda s: {k: v.int() for k, v in s.items()}, None,
                      "dtype int32, expected floating point"),
    "every float NaN": (lambda s: {k: torch.full_like(v, float("nan"))
                                   if v.is_floating_point() else v for k, v in s.items()},
                        None, "NaN or infinite"),
    "num_convs 10^6": (None, _spec_edit(num_convs=10 ** 6), "num_convs must be at most 32"),
    "channels 4096": (None, _spec_edit(channels=4096), "wrong-shape keys"),
    "stack 64": (None, _spec_edit(stack=64), "missing keys"),
    "dropblock of unknown fields": (None, _spec_edit(dropblock={"size": 10 ** 6}),
                                    "dropblock: unknown field(s) size"),
    "negative above positive IoU": (None, _spec_edit(negative_iou=0.9),
                                    "negative_iou (0.9) must not exceed positive_iou (0.5)"),
}


@pytest.mark.parametrize("edit, metadata_edit, message", DETECTOR_CASES.values(),
                         ids=DETECTOR_CASES.keys())
def test_detector_files_that_do_not_fit_are_refused_before_building(detector, tmp_path, edit,
                                                                    metadata_edit, message):
    path = _detector_file(detector, tmp_path, edit, metadata_edit)
    started = time.monotonic()
    with pytest.raises(NasfpnError) as caught:
        Checkpoint.read(path).detector()
    assert message in str(caught.value) and str(path) in str(caught.value)
    assert time.monotonic() - started < 60  # nothing of that size built (it took 233 s)


# kind: a file's format is what its bytes say, not its suffix (U1, U2)
@pytest.mark.parametrize("name", ["model", "det.pt", "det.pth"])
def test_a_detector_safetensors_of_another_name_reads(detector, tmp_path, name):
    path = _detector_file(detector, tmp_path, name=name)
    assert Checkpoint.read(path).spec.channels == 16


@pytest.mark.parametrize("name", ["bb.safetensors", "bb\udcff.pth", "bb\udcff.safetensors"])
def test_backbone_files_are_read_by_content_at_any_path(backbone_state, tmp_path, name):
    from safetensors.torch import save_file

    path = tmp_path / name
    if name.startswith("bb.safetensors"):  # a torch file named .safetensors
        torch.save(backbone_state, path)
    else:
        save_file(dict(backbone_state), str(tmp_path / "x"))
        path.write_bytes((tmp_path / "x").read_bytes())
    build_backbone("resnet10", weights=path)


# case -> (file bytes, what the message says and must not say)
NOT_TORCH = {
    "random bytes": (bytes(range(256)) * 4, "not a torch file"),
    "JSON text": (b'{"a": 1}\n' + b" " * 100, "not a torch file"),
    "empty": (b"", "empty or truncated"),
}


@pytest.mark.parametrize("data, message", NOT_TORCH.values(), ids=NOT_TORCH.keys())
@pytest.mark.parametrize("reader", ["backbone", "checkpoint"])
def test_files_that_are_not_torch_files_are_not_blamed_on_pickled_code(tmp_path, data, message,
                                                                       reader):
    path = tmp_path / "w.pth"
    path.write_bytes(data)
    with pytest.raises(NasfpnError) as caught:
        build_backbone("resnet10", weights=path) if reader == "backbone" else \
            Checkpoint.read(path)
    text = str(caught.value)
    assert message in text and "pickled" not in text and "run code" not in text


def test_a_truncated_torch_file_is_named_truncated_in_full_words(backbone_state, tmp_path):
    path = tmp_path / "cut.pth"
    torch.save(backbone_state, path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(NasfpnError) as caught:
        build_backbone("resnet10", weights=path)
    assert "damaged or truncated torch file" in str(caught.value)
    assert "checkpoint file is)" not in str(caught.value)


# kind: a detector's weights where a backbone's belong (U19)
@pytest.mark.parametrize("form", ["safetensors", "checkpoint"])
def test_a_detector_file_as_backbone_weights_says_how_to_get_the_backbone(detector, tmp_path,
                                                                          form):
    path = _detector_file(detector, tmp_path)
    if form == "checkpoint":
        torch.save({"model": dict(detector[1]), "config": {}}, tmp_path / "c.pt")
        path = tmp_path / "c.pt"
    with pytest.raises(NasfpnError) as caught:
        build_backbone("resnet10", weights=path)
    assert "a whole detector's weights" in str(caught.value)
    assert "--backbone-only" in caught.value.hint
