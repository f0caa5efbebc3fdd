"""`nasfpn eval`, `predict` and `plot` on a checkpoint and run folder of a short training."""
from __future__ import annotations

import json

import pytest
from engine_helpers import ONE_THREAD
from PIL import Image, ImageChops

from nasfpn_cli.engine.prediction import draw_detections, unique_stems

SUMMARY = ("AP", "AP50", "AP75", "APs", "APm", "APl")


def test_eval_json_reproduces_the_training_evaluation(trained_run, tiny_data, cli):
    config, result = trained_run
    best = next(r for r in result.metrics_history if r["AP"] == result.best_ap)
    ann = tiny_data / "annotations" / "instances_val2017.json"
    run = cli("eval", str(result.output_dir / "best.pt"), "--ann", str(ann), "--images",
              str(tiny_data / "val2017"), "--json", "--batch-size", "8", env=ONE_THREAD)
    assert run.returncode == 0, run.stderr
    metrics = json.loads(run.stdout)
    assert all(0.0 <= metrics[k] <= 1.0 or metrics[k] == -1.0 for k in SUMMARY)
    for key in SUMMARY:
        assert metrics[key] == pytest.approx(best[key], abs=1e-6), key
    assert set(metrics["per_class"]) == {"square"} and metrics["num_images"] == 12
    table = cli("eval", str(result.output_dir / "best.pt"), "--ann", str(ann), "--images",
                str(tiny_data / "val2017"), env=ONE_THREAD)
    assert table.returncode == 0 and "AP per class" in table.stdout and "square" in table.stdout


def test_eval_against_categories_the_model_never_saw_is_an_error(trained_run, tiny_data, cli,
                                                                   tmp_path):
    """Annotations that share no category id with the checkpoint: exit 1 naming both sets
    (it used to exit 0 with AP 0)."""
    config, result = trained_run
    ann = json.loads((tiny_data / "annotations" / "instances_val2017.json").read_text())
    ids = {c["id"]: c["id"] + 1000 for c in ann["categories"]}
    for category in ann["categories"]:
        category["id"] = ids[category["id"]]
    for box in ann["annotations"]:
        box["category_id"] = ids[box["category_id"]]
    other = tmp_path / "other.json"
    other.write_text(json.dumps(ann))
    run = cli("eval", str(result.output_dir / "best.pt"), "--ann", str(other), "--images",
              str(tiny_data / "val2017"), env=ONE_THREAD)
    assert run.returncode == 1, run.stderr
    assert "share no id with the ones" in run.stderr and str(sorted(ids.values())[0]) in \
        run.stderr and "Traceback" not in run.stderr


def test_eval_of_a_missing_checkpoint_is_a_clear_error(tiny_data, cli, tmp_path):
    run = cli("eval", str(tmp_path / "nope.pt"), "--ann", "x.json", "--images", ".")
    assert run.returncode == 1 and "nope.pt: no such checkpoint file" in run.stderr


def test_predict_writes_json_and_drawings(trained_run, tiny_data, cli, tmp_path):
    _, result = trained_run
    images = sorted((tiny_data / "val2017").glob("*.png"))
    out = tmp_path / "pred"
    run = cli("predict", str(result.output_dir / "best.pt"), str(tiny_data / "val2017"),
              str(images[0]), "-o", str(out), "--score-threshold", "0.2", env=ONE_THREAD)
    assert run.returncode == 0, run.stderr
    report = json.loads((out / "detections.json").read_text())
    assert report["score_threshold"] == 0.2 and report["image_size"] == 64
    records = report["images"]
    assert len(records) == len(images) + 1
    assert records[-1]["drawing"].endswith(f"{images[0].stem}-2.png")  # same stem twice
    total = 0
    for record in records:
        drawing = Image.open(record["drawing"])
        assert drawing.size == (record["width"], record["height"]) == (64, 64)
        for detection in record["detections"]:
            total += 1
            x1, y1, x2, y2 = detection["box"]
            assert 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64
            assert detection["score"] >= 0.2
            assert (detection["category"], detection["category_id"]) == ("square", 1)
        if record["detections"]:
            original = Image.open(record["file"]).convert("RGB")
            assert ImageChops.difference(original, drawing.convert("RGB")).getbbox()
    assert total > 0


def test_predict_refuses_missing_inputs(trained_run, cli, tmp_path):
    _, result = trained_run
    run = cli("predict", str(result.output_dir / "last.pt"), str(tmp_path / "missing.png"),
              "-o", str(tmp_path / "p"))
    assert run.returncode == 2 and "missing.png: no such image file or folder" in run.stderr


def test_draw_detections_and_unique_names():
    image = Image.new("RGB", (50, 40), (100, 100, 100))
    drawn = draw_detections(image, [{"box": [5, 5, 30, 30], "score": 0.9, "label": 0,
                                     "category": "square"}])
    assert drawn.size == image.size and drawn.getpixel((5, 20)) != (100, 100, 100)
    assert image.getpixel((5, 20)) == (100, 100, 100)  # the input is not drawn on
    from pathlib import Path

    assert unique_stems([Path("a/x.png"), Path("b/x.jpg"), Path("y.png"), Path("c/x.png")]) == \
        ["x", "x-2", "y", "x-3"]


def test_plot_writes_the_three_curves(trained_run, cli, tmp_path):
    _, result = trained_run
    run = cli("plot", str(result.output_dir), "-o", str(tmp_path / "plots"))
    assert run.returncode == 0, run.stderr
    for name in ("losses.png", "lr.png", "ap.png"):
        with Image.open(tmp_path / "plots" / name) as png:
            assert png.format == "PNG" and png.size == (700, 400)
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = cli("plot", str(empty))
    assert nothing.returncode == 2 and "no metrics to plot" in nothing.stderr


def test_plot_of_several_runs_puts_them_on_one_chart(cli, tmp_path):
    import json

    from nasfpn_cli.engine.plotting import _training_seconds

    for name, speed in (("today", 1.0), ("small", 3.0)):
        run = tmp_path / name
        run.mkdir()
        lines = [{"kind": "train", "epoch": 1, "step": s, "loss": 2.0 / s, "lr": 0.01,
                  "time": 1000.0 + s / speed} for s in (1, 10, 20)]
        lines.append({"kind": "eval", "epoch": 1, "step": 20, "AP": 0.1 * speed, "AP50": 0.2})
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    train = [r for r in map(json.loads, (tmp_path / "small" / "metrics.jsonl").read_text()
                            .splitlines()) if r["kind"] == "train"]
    assert _training_seconds(train, 20) == pytest.approx((20 - 1) / 3.0)
    assert _training_seconds(train, 0) is None
    result = cli("plot", str(tmp_path / "today"), str(tmp_path / "small"), "-o",
                 str(tmp_path / "charts"))
    assert result.returncode == 0, result.stderr
    for name in ("compare_ap.png", "compare_loss.png"):
        with Image.open(tmp_path / "charts" / name) as png:
            assert png.format == "PNG" and png.size == (700, 400)
