"""Export: ONNX run in onnxruntime and TorchScript loaded back, both compared with PyTorch."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from nasfpn_cli.errors import ModelError, UsageError
from nasfpn_cli.modeling.exporting import export_format, export_network, export_onnx, output_names
from nasfpn_cli.modeling.network import build_network

NAMES = ["cls_p3", "cls_p4", "cls_p5", "cls_p6", "cls_p7", "box_p3", "box_p4", "box_p5", "box_p6", "box_p7"]


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    # nasfpn cells exercise gp (amax, sigmoid), sums, max pooling and nearest upsampling
    return build_network("nasfpn", num_classes=3, backbone="resnet10", channels=64, stack=2,
                         deep_supervision=True).eval()


def flat(outputs) -> list[torch.Tensor]:
    cls_logits, box_deltas = outputs
    return list(cls_logits) + list(box_deltas)


def test_onnx_matches_pytorch_in_onnxruntime(network, tmp_path):
    path = tmp_path / "model.onnx"
    result = export_onnx(network, path, 128, opset=17)
    assert result.output_names == NAMES and result.opset == 17
    model = onnx.load(str(path))
    assert [o.name for o in model.graph.output] == NAMES
    assert [i.name for i in model.graph.input] == ["images"]
    assert {op.domain: op.version for op in model.opset_import}[""] == 17
    props = {p.key: p.value for p in model.metadata_props}
    assert props["opset"] == "17" and props["num_classes"] == "3" and props["strides"] == "8,16,32,64,128"
    static = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert static == [1, 3, 128, 128]
    images = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(5))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": images.numpy()})
    with torch.no_grad():
        expected = flat(network(images))
    assert [g.shape for g in got] == [tuple(e.shape) for e in expected]
    diff = max(float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected))
    print(f"ONNX vs PyTorch max abs diff: {diff:.3g}")
    assert diff < 1e-4
    assert not list(tmp_path.glob(".*tmp*"))  # the temporary file was renamed


def test_torchscript_script_keeps_any_size_and_exits(network, tmp_path):
    path = tmp_path / "model.pt"
    result = export_network(network, path, 128)  # scripted, then verified at 128 px
    assert result.method == "script" and result.max_abs_diff == 0.0
    loaded = torch.jit.load(str(path))
    images = torch.randn(2, 3, 96, 160)  # another size: padded to 128 x 256 inside
    with torch.no_grad():
        for got, expected in zip(flat(loaded(images)), flat(network(images))):
            torch.testing.assert_close(got, expected, rtol=0, atol=0)
        exits = loaded.forward_exits(images)
    assert len(exits) == 2


def test_torchscript_trace_and_exit_choice(network, tmp_path):
    network.set_exit(1)
    try:
        result = export_network(network, tmp_path / "first.ts", 128, torchscript_method="trace")
        loaded = torch.jit.load(str(result.path))
        images = torch.randn(1, 3, 128, 128)
        with torch.no_grad():
            for got, expected in zip(flat(loaded(images)), flat(network.forward_exits(images)[0])):
                torch.testing.assert_close(got, expected)
    finally:
        network.set_exit(None)
    assert result.metadata["exit_at"] == "1" and result.max_abs_diff == 0.0


def test_failures_leave_no_files_and_say_why(network, tmp_path, monkeypatch):
    with pytest.raises(UsageError, match="cannot tell the export format"):
        export_format(tmp_path / "model.txt")
    with pytest.raises(ModelError, match="opset 3 is not supported; choose 9 to 20"):
        export_onnx(network, tmp_path / "model.onnx", 128, opset=3)

    def half_written(model, args, target, **kwargs):  # a path or a file object
        if hasattr(target, "write"):
            target.write(b"partial")
        else:
            with open(target, "wb") as handle:
                handle.write(b"partial")
        raise RuntimeError("exporter crashed\n<graph dump>")

    monkeypatch.setattr(torch.onnx, "export", half_written)
    with pytest.raises(ModelError, match=r"ONNX export failed \(opset 17\): RuntimeError: exporter crashed$"):
        export_onnx(network, tmp_path / "model.onnx", 128)
    assert list(tmp_path.iterdir()) == []
    assert output_names((8, 16)) == ["cls_p3", "cls_p4", "box_p3", "box_p4"]


@pytest.mark.parametrize("suffix", [".onnx", ".pt"])
def test_export_to_a_path_that_is_not_utf8(network, tmp_path, suffix):
    """The exporters' C++ bindings refuse such paths; the file is written by Python instead."""
    import os

    folder = os.fsdecode(os.fsencode(str(tmp_path)) + b"/r\xff")
    os.mkdir(folder)
    result = export_network(network, os.path.join(folder, "m\udcff" + suffix), 128)
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-3
    assert os.listdir(folder) == ["m\udcff" + suffix]
