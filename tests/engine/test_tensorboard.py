"""`train --tensorboard`: scalars (losses, lr, AP, per-class and per-exit AP) and prediction
images written as TensorBoard events next to metrics.jsonl, read back with EventAccumulator."""
from __future__ import annotations

import pytest
from engine_helpers import TINY_CONFIG, train_single_threaded

from nasfpn_cli.engine.tensorboard import record_scalars

pytest.importorskip("tensorboard")


@pytest.fixture(scope="module")
def tensorboard_run(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("tb") / "run"
    train_single_threaded(**{**TINY_CONFIG, "stack": 2, "channels": 16}, deep_supervision=True,
                          data_dir=str(tiny_data), output_dir=str(out), epochs=2, eval_every=1,
                          log_every=3, tensorboard=True)
    return out


def _events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    accumulator.Reload()
    return accumulator


def test_record_scalars_flattens_numbers_and_per_class_ap():
    record = {"kind": "eval", "epoch": 1, "step": 6, "AP": 0.5, "AP50": 0.75, "time": 1.0,
              "per_class": {"square": 0.4, "circle": None}, "num_images": 12}
    assert record_scalars(record) == {"eval/AP": 0.5, "eval/AP50": 0.75,
                                      "eval/AP_class/square": 0.4}


def test_events_hold_losses_lr_ap_per_exit_ap_and_images(tensorboard_run):
    from nasfpn_cli.utils import read_jsonl as read_records

    assert list(tensorboard_run.glob("events.out.tfevents.*"))
    events = _events(tensorboard_run)
    tags = events.Tags()
    for tag in ("train/loss", "train/cls", "train/box", "train/cls/exit1", "train/lr",
                "eval/AP", "eval/AP50", "eval/AP_class/square", "eval/AP/exit1",
                "eval/AP50/exit1"):
        assert tag in tags["scalars"], tag
    assert "eval/AP/exit2" not in tags["scalars"]  # the last exit is eval/AP itself
    records = read_records(tensorboard_run / "metrics.jsonl")
    train = [r for r in records if r["kind"] == "train"]
    logged = events.Scalars("train/loss")
    assert [e.step for e in logged] == [r["step"] for r in train]
    assert [e.value for e in logged] == pytest.approx([r["loss"] for r in train], rel=1e-6)
    evals = [r for r in records if r["kind"] == "eval"]
    assert [e.value for e in events.Scalars("eval/AP")] == pytest.approx([r["AP"] for r in evals])
    assert len(events.Scalars("eval/AP/exit1")) == len(evals) == 2
    assert all(0.0 <= e.value <= 1.0 for e in events.Scalars("eval/AP/exit1"))
    assert sorted(tags["images"]) == ["predictions/0", "predictions/1", "predictions/2"]
    image = events.Images("predictions/0")[-1]
    assert (image.width, image.height) == (64, 64) and image.step == evals[-1]["step"]


def test_plot_keeps_working_from_metrics_jsonl(tensorboard_run, tmp_path):
    from nasfpn_cli.engine.plotting import plot_run

    paths = plot_run(tensorboard_run, tmp_path)
    assert {p.name for p in paths} >= {"losses.png", "lr.png", "ap.png"}


def test_without_the_package_it_is_a_usage_error_naming_the_extra(monkeypatch, tmp_path):
    import sys

    from nasfpn_cli.engine.tensorboard import summary_writer
    from nasfpn_cli.errors import UsageError

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(UsageError, match="tensorboard") as caught:
        summary_writer(tmp_path)
    assert "nasfpn[tensorboard]" in caught.value.render()


def test_train_cli_flag_writes_events(tiny_data, cli, tmp_path):
    from engine_helpers import ONE_THREAD, TINY_MODEL

    out = tmp_path / "run"
    run = cli("train", "fpn", "--data", str(tiny_data), *TINY_MODEL, "--epochs", "1",
              "--tensorboard", "--no-progress", "-o", str(out), env=ONE_THREAD)
    assert run.returncode == 0, run.stderr
    assert "train/loss" in _events(out).Tags()["scalars"]
