"""Fuzzing a detector ``.safetensors`` file's metadata (issue 30): every field (``format``,
``spec`` and each of its options, ``genotype``, ``data``, ``image_size``) replaced by hostile
JSON, random text, or removed. Reading the file and rebuilding its detector either works or
raises a :class:`~nasfpn_cli.errors.NasfpnError` (exit 1) quickly: never another exception, and
never a model built larger than the file's tensors before they are compared.
``FUZZ_EXAMPLES=3000`` runs a longer hunt."""
from __future__ import annotations

import json
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasfpn_cli.engine.checkpoint import Checkpoint
from nasfpn_cli.errors import NasfpnError

SETTINGS = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 50)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
HOSTILE = [None, True, False, 0, 1, -1, 2, 3, 16, 17, 64, 65, 4096, 10 ** 6, 10 ** 30, 0.5, 16.0,
           1e308, float("nan"), float("inf"), "", "16", "x", "fpn", "resnet10", "gn", "bn",
           "[bold]x[/]\x1b[2J", [], [1], [1, 2], [0.5, 1.0], [1e308], [-1.0], {}, {"a": 1},
           {"block_size": 3}, {"size": 10 ** 6}, {"block_size": 10 ** 6, "keep_prob": 0.9}]
JSON_VALUES = st.one_of(st.sampled_from(HOSTILE),
                        st.recursive(st.one_of(st.none(), st.booleans(), st.integers(),
                                               st.floats(), st.text(max_size=8)),
                                     lambda inner: st.one_of(
                                         st.lists(inner, max_size=3),
                                         st.dictionaries(st.text(max_size=6), inner,
                                                         max_size=3)),
                                     max_leaves=6))
FIELDS = ["format", "spec", "genotype", "data", "image_size", "nasfpn_version", "backbone"]


@pytest.fixture(scope="module")
def intact(tmp_path_factory):
    """(metadata, tensors) of a tiny detector file as ``nasfpn export`` writes it."""
    from nasfpn_cli.modeling import weights_file
    from nasfpn_cli.modeling.detector import build_detector
    from nasfpn_cli.modeling.spec import ModelSpec

    spec = ModelSpec.create("fpn", backbone="resnet10", stack=1, channels=16, num_classes=2)
    network = build_detector(spec).network
    metadata = weights_file.file_metadata(spec, weights_file.DETECTOR_FORMAT, {
        "data": json.dumps({"label_to_category": [1, 3], "category_names": ["a", "b"]}),
        "image_size": "64"})
    return metadata, weights_file.detector_tensors(network)


@st.composite
def metadata_edits(draw, metadata: dict) -> dict:
    edited = dict(metadata)
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(FIELDS + ["spec", "spec", "spec"]))
        how = draw(st.sampled_from(["json", "text", "remove", "spec-option", "spec-drop"]))
        if how == "remove":
            edited.pop(key, None)
        elif how == "text":
            edited[key] = draw(st.text(max_size=30))
        elif how == "json" or key != "spec":
            edited[key] = json.dumps(draw(JSON_VALUES))
        else:
            try:
                spec = json.loads(edited.get("spec", "{}"))
            except ValueError:
                continue
            if not isinstance(spec, dict) or not spec:
                continue
            option = draw(st.sampled_from(sorted(spec)))
            if how == "spec-drop":
                spec.pop(option)
            else:
                spec[option] = draw(JSON_VALUES)
            edited["spec"] = json.dumps(spec)
    return edited


@SETTINGS
@given(data=st.data())
def test_damaged_metadata_reads_or_names_the_problem(intact, tmp_path, data):
    from nasfpn_cli.modeling.weights_file import to_bytes

    metadata, tensors = intact
    edited = data.draw(metadata_edits(metadata))
    path = tmp_path / "fuzzed.safetensors"
    path.write_bytes(to_bytes(tensors, edited))
    started = time.monotonic()
    try:
        checkpoint = Checkpoint.read(path)
        checkpoint.spec, checkpoint.label_to_category, checkpoint.category_names
        checkpoint.image_size
        checkpoint.detector()
    except NasfpnError as exc:
        assert str(path) in str(exc), str(exc)
    assert time.monotonic() - started < 60, edited  # a pathological build took minutes


def test_the_intact_file_rebuilds(intact, tmp_path):
    from nasfpn_cli.modeling.weights_file import to_bytes

    path = tmp_path / "intact.safetensors"
    path.write_bytes(to_bytes(*reversed(intact)))
    checkpoint = Checkpoint.read(path)
    assert checkpoint.label_to_category == [1, 3] and checkpoint.image_size == 64
    checkpoint.detector()
