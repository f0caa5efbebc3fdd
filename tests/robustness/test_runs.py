"""Train, predict and eval on hostile data and files: nothing good is lost for something bad,
every log line is right, and the data checks of train guard eval too."""
from __future__ import annotations

import json
import shutil

import pytest

from nasfpn_cli.utils import read_jsonl as read_records


def test_metrics_log_the_epoch_each_step_belongs_to(tiny_run):
    """20 images, 16 for training, batch 8: two steps per epoch; with --log-every above that,
    the only train records are the ones at each epoch's end."""
    records = read_records(tiny_run / "metrics.jsonl")
    train = [(r["epoch"], r["step"]) for r in records if r["kind"] == "train"]
    evals = [(r["epoch"], r["step"]) for r in records if r["kind"] == "eval"]
    assert train == [(1, 2), (2, 4)]
    assert evals == [(1, 2), (2, 4)]


def _image_folder(tiny_data, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    good = sorted((tiny_data / "val2017").iterdir())[:2]
    for path in good:
        shutil.copy(path, folder / path.name)
    (folder / "b_truncated.png").write_bytes(good[0].read_bytes()[:60])
    (folder / "c_empty.jpg").write_bytes(b"")
    (folder / "d_text.png").write_text("not an image")
    (folder / "e_bomb.png").write_bytes(_png_header(30000, 30000))  # 900 Mpixel in 60 bytes
    return folder, [p.name for p in good]


def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def test_predict_skips_unreadable_images_and_keeps_the_good_ones(run, tiny_run, tiny_data,
                                                                 tmp_path, one_thread):
    folder, good = _image_folder(tiny_data, tmp_path)
    out = tmp_path / "predictions"
    code, _, err = run("predict", tiny_run / "last.pt", folder, "-o", out)
    assert code == 1, err
    bad_files = ("b_truncated.png", "c_empty.jpg", "d_text.png", "e_bomb.png")
    for bad in bad_files:
        assert err.count(bad) >= 1 and f"skipped: {folder / bad}" in err, err
    assert "4 of 6 images could not be read" in err
    assert "Traceback" not in err and "warnings.warn" not in err
    result = json.loads((out / "detections.json").read_text())
    assert [r["file"] for r in result["images"]] == [str(folder / name) for name in good]
    assert [s["file"] for s in result["skipped"]] == [str(folder / n) for n in bad_files]
    drawings = sorted(p.name for p in out.glob("*.png"))
    assert drawings == sorted(r["drawing"].rsplit("/", 1)[1] for r in result["images"])


def _bad_annotations(tiny_data, tmp_path, change):
    data = json.loads((tiny_data / "annotations" / "instances_val2017.json").read_text())
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("change, kind", [
    (lambda d: d["annotations"][0].update(iscrowd="yes"), "wrong-type"),
    (lambda d: d["annotations"][0].update(bbox=None), "bbox-length"),
    (lambda d: d["annotations"][0].update(bbox=[1, 2, "x", 4]), "bbox-non-numeric"),
    (lambda d: d["images"][0].update(width=-5), "bad-image-size"),
])
def test_eval_refuses_the_data_train_refuses(run, tiny_run, tiny_data, tmp_path, change, kind):
    ann = _bad_annotations(tiny_data, tmp_path, change)
    code, _, err = run("eval", tiny_run / "last.pt", "--ann", ann, "--images",
                       tiny_data / "val2017")
    assert code == 1, err
    assert f"{ann}: the evaluation data has" in err and kind in err
    assert "internal error" not in err
    assert "--skip-bad" not in err  # eval has no such option


def test_category_names_are_printed_as_text(run, tiny_run, tiny_data, tmp_path, one_thread):
    hostile = "[bold]x[/bold]\x1b]0;owned\x07\x1b[2J"

    def rename(data):
        data["categories"][0]["name"] = hostile

    ann = _bad_annotations(tiny_data, tmp_path, rename)
    code, out, err = run("eval", tiny_run / "last.pt", "--ann", ann, "--images",
                         tiny_data / "val2017")
    assert code == 0, err
    assert "[bold]x[/bold]" in out  # the markup is shown, not applied
    assert "\x1b" not in out and "\\x1b]0;owned\\x07" in out


def _pickled_code(path, marker):
    import torch

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"model": {}, "config": Payload()}, path)


@pytest.mark.parametrize("command", ["predict", "eval", "export"])
def test_malicious_checkpoints_run_no_code_and_get_no_torch_advice(run, tmp_path, tiny_data,
                                                                   command):
    checkpoint, marker = tmp_path / "evil.pt", tmp_path / "pwned"
    _pickled_code(checkpoint, marker)
    args = {"predict": ["predict", checkpoint, tiny_data / "val2017", "-o", tmp_path / "p"],
            "eval": ["eval", checkpoint, "--ann", tiny_data / "annotations" /
                     "instances_val2017.json", "--images", tiny_data / "val2017"],
            "export": ["export", "fpn", "--checkpoint", checkpoint, "-o", tmp_path / "m.onnx"]}
    code, _, err = run(*args[command])
    assert code == 1, err
    assert str(checkpoint) in err and "Python objects" in err
    assert "weights_only" not in err and "trusted source" not in err
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"hello", b"PK\x03\x04" + b"\x00" * 40])
def test_foreign_checkpoints_are_clear_errors(run, tmp_path, tiny_data, content):
    checkpoint = tmp_path / "foreign.pt"
    checkpoint.write_bytes(content)
    code, _, err = run("predict", checkpoint, tiny_data / "val2017", "-o", tmp_path / "p")
    assert code == 1 and f"{checkpoint}: cannot read checkpoint" in err, err
    assert "weights_only" not in err


def test_predict_refuses_to_draw_over_its_input_images(run, tiny_run, tiny_data, tmp_path):
    folder = tmp_path / "images"
    shutil.copytree(tiny_data / "val2017", folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    code, _, err = run("predict", tiny_run / "last.pt", folder, "-o", folder)
    assert code == 2 and "its drawing would overwrite it" in err, err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_convert_refuses_to_write_onto_its_input(run, tmp_path):
    path = tmp_path / "g.json"
    run("convert", "fpn", "--to", "json", "-o", path)
    before = path.read_bytes()
    code, _, err = run("convert", path, "--to", "dsl", "-o", path)
    assert code == 1 and "it is also an input" in err, err
    assert path.read_bytes() == before


def test_an_interrupted_predict_still_lists_the_drawings_it_wrote(run, tiny_run, tiny_data,
                                                                  tmp_path, monkeypatch):
    import nasfpn_cli.engine.prediction as prediction

    real = prediction.predict_image
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(prediction, "predict_image", interrupted)
    out = tmp_path / "p"
    code, _, err = run("predict", tiny_run / "last.pt", tiny_data / "val2017", "-o", out)
    assert code == 130, err
    result = json.loads((out / "detections.json").read_text())
    assert result["complete"] is False and len(result["images"]) == 2
    assert sorted(p.name for p in out.glob("*.png")) == sorted(
        r["drawing"].rsplit("/", 1)[1] for r in result["images"])


def _tampered(tiny_run, tmp_path, change):
    import torch

    state = torch.load(tiny_run / "last.pt", weights_only=True)
    change(state["config"])
    path = tmp_path / "tampered.pt"
    torch.save(state, path)
    return path


@pytest.mark.parametrize("change, message", [
    (lambda c: c["train"].update(image_size=10 ** 9), "stored image_size 1000000000 is not a size"),
    (lambda c: c["data"].update(label_to_category=["x", None]),
     "stored label_to_category is not a list of category ids"),
])
@pytest.mark.parametrize("command", ["predict", "eval"])
def test_tampered_checkpoint_configs_are_clear_errors(run, tiny_run, tiny_data, tmp_path,
                                                      change, message, command):
    checkpoint = _tampered(tiny_run, tmp_path, change)
    if command == "predict":
        code, _, err = run("predict", checkpoint, tiny_data / "val2017", "-o", tmp_path / "p")
    else:
        code, _, err = run("eval", checkpoint, "--ann", tiny_data / "annotations" /
                           "instances_val2017.json", "--images", tiny_data / "val2017")
    assert code == 1 and f"{checkpoint}: {message}" in err, err
    assert "out of memory" not in err and "internal error" not in err


def test_draw_refuses_to_write_onto_its_genotype(run, tmp_path):
    from nasfpn_cli.genotype import load_genotype

    path = tmp_path / "g.dot"  # a genotype file that happens to end in .dot
    path.write_text(load_genotype("fpn").source)
    before = path.read_bytes()
    code, _, err = run("draw", path, "-o", path)
    assert code == 1 and "it is also an input" in err, err
    assert path.read_bytes() == before
