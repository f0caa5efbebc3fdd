"""What ``nasfpn train`` prints before and while it runs: the summary line, the anchor-coverage
check of the training boxes, and the time to the end of the run in the progress bar."""
from __future__ import annotations

import pytest
import torch
from engine_helpers import ONE_THREAD, TINY_MODEL
from rich.progress import Progress

from nasfpn_cli.engine.progress import RunEndColumn
from nasfpn_cli.engine.summary import RunSummary, estimate_images_per_second
from nasfpn_cli.modeling.anchor_coverage import anchor_coverage
from nasfpn_cli.modeling.anchors import AnchorGenerator


def test_coverage_counts_boxes_whose_best_anchor_reaches_the_threshold():
    # P3 anchors of 32 px sit at centres 4 + 8k: [4, 4, 36, 36] is one of them exactly
    boxes = [[4, 4, 32, 32], [4, 4, 4, 4], [4, 4, 64, 64]]
    coverage = anchor_coverage(boxes, [(128, 128)] * 3, AnchorGenerator(), 128)
    assert (coverage.covered, coverage.total) == (2, 3)
    assert coverage.fraction == pytest.approx(2 / 3)
    # the 64 px box at [4, 68] meets the P4 anchor at [8, 72]: 60² / (2 * 64² - 60²)
    assert coverage.median_best_iou == pytest.approx(3600 / 4592)
    assert coverage.smallest_anchor == 32
    assert "66.7% of 3 training boxes" in coverage.summary()
    # the same boxes in a 256 px image are halved first: the 32 px box no longer fits exactly
    halved = anchor_coverage(boxes, [(256, 128)] * 3, AnchorGenerator(), 128)
    assert halved.covered < 2
    # smaller anchors cover the 4 px box once the image is scaled up to 512 px (16 px box)
    small = anchor_coverage([[1, 1, 4, 4]], [(128, 128)], AnchorGenerator(size_multiplier=2),
                            512)
    assert small.covered == 1


def test_empty_coverage():
    coverage = anchor_coverage([], [], AnchorGenerator(), 128)
    assert (coverage.total, coverage.fraction) == (0, 1.0)


def test_summary_line_and_estimate():
    line = RunSummary("fpn 1@64 resnet10", 1_234_567, 2_500_000_000, 128, 300, 8, 16.0).line()
    assert line.startswith("fpn 1@64 resnet10: 1.23 M params, 2.50 G MACs per 128 px image")
    assert "300 steps of 8" in line and "~16.0 img/s" in line and "2m30s of steps" in line

    network = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    network.train()
    before = network[1].running_mean.clone()
    speed = estimate_images_per_second(network, 2, 32, torch.device("cpu"))
    assert speed > 0 and network.training
    assert torch.equal(network[1].running_mean, before), "no batch-norm statistics moved"


def test_run_end_column_extrapolates_the_session_mean_step_time():
    clock = [100.0]
    progress = Progress(get_time=lambda: clock[0])
    task_id = progress.add_task("epoch", total=100, completed=10, first=10)
    task = progress._tasks[task_id]
    assert str(RunEndColumn().render(task)) == "ends in -:--:--"
    clock[0] = 130.0
    progress.update(task_id, completed=20)  # 10 steps in 30 s, 80 to go: 240 s
    assert str(RunEndColumn().render(task)) == "ends in 0:04:00"


def test_train_prints_the_summary_and_coverage_first(tiny_data, tmp_path, cli):
    result = cli("train", "fpn", "--data", str(tiny_data), *TINY_MODEL, "--epochs", "1",
                 "--anchor-size", "2", "-o", str(tmp_path / "run"),
                 env={**ONE_THREAD, "COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("fpn 1@64 resnet10 (fp32): ") and "MACs per 64 px image" in lines[0]
    assert "6 steps of 8" in lines[0] and "img/s estimated" in lines[0]
    assert lines[1].startswith("anchor coverage: ") and "smallest anchor 16 px" in lines[1]
    assert "ends in" in result.stderr
