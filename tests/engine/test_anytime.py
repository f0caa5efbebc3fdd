"""Anytime exits from the command line: a tiny deeply supervised model scored at every exit by
`eval --all-exits`, and `eval`/`predict`/`flops`/`export --exit-at K` agreeing with it."""
from __future__ import annotations

import json

import pytest
from engine_helpers import ONE_THREAD, TINY_CONFIG, train_single_threaded

STACKS = 2


@pytest.fixture(scope="module")
def deep_run(tiny_data, tmp_path_factory):
    """A 2-stack deeply supervised model after a few epochs on the tiny data: best.pt."""
    out = tmp_path_factory.mktemp("deep") / "run"
    train_single_threaded(**{**TINY_CONFIG, "stack": STACKS, "channels": 16},
                          deep_supervision=True, data_dir=str(tiny_data), output_dir=str(out),
                          epochs=3, eval_every=3, log_every=3)
    return out / "last.pt"


def _val(tiny_data):
    return ["--ann", str(tiny_data / "annotations" / "instances_val2017.json"),
            "--images", str(tiny_data / "val2017")]


@pytest.mark.slow
def test_every_exit_scores_and_matches_eval_exit_at(deep_run, tiny_data, cli):
    run = cli("eval", str(deep_run), *_val(tiny_data), "--all-exits", "--json",
              "--latency-runs", "2", env=ONE_THREAD)
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    exits = payload["exits"]
    assert [row["exit"] for row in exits] == [1, 2] and payload["image_size"] == 64
    for row in exits:
        assert 0.0 <= row["AP"] <= 1.0 and 0.0 <= row["AP50"] <= 1.0
        assert row["num_images"] == 12 and row["latency_ms"] > 0
    assert exits[0]["macs"] < exits[1]["macs"]  # exit 1 skips the second stack
    assert exits[0]["num_detections"] != exits[1]["num_detections"] or \
        exits[0]["AP"] != exits[1]["AP"]  # two different heads answer
    for row in exits:
        single = cli("eval", str(deep_run), *_val(tiny_data), "--exit-at", str(row["exit"]),
                     "--json", env=ONE_THREAD)
        assert single.returncode == 0, single.stderr
        metrics = json.loads(single.stdout)
        assert metrics["AP"] == pytest.approx(row["AP"], abs=1e-9)
        assert metrics["num_detections"] == row["num_detections"]
    table = cli("eval", str(deep_run), *_val(tiny_data), "--all-exits", "--latency-runs", "0",
                env=ONE_THREAD)
    assert table.returncode == 0 and "anytime exits" in table.stdout and "GMACs" in table.stdout


@pytest.mark.slow
def test_flops_predict_and_export_at_an_exit(deep_run, tiny_data, cli, tmp_path):
    from nasfpn_cli.analysis.counting import count_network
    from nasfpn_cli.engine.checkpoint import load_detector

    network = load_detector(deep_run).network
    network.set_exit(1)
    expected = count_network(network, 64).macs
    flops = cli("flops", "fpn", "--backbone", "resnet10", "--stack", "2", "--channels", "16",
                "--num-classes", "1", "--image-size", "64", "--exit-at", "1", "--json")
    assert flops.returncode == 0, flops.stderr
    assert json.loads(flops.stdout)["macs"] == expected  # one head: same MACs as the checkpoint's
    out = tmp_path / "pred"
    predict = cli("predict", str(deep_run), str(tiny_data / "val2017"), "-o", str(out),
                  "--exit-at", "1", "--score-threshold", "0.0", env=ONE_THREAD)
    assert predict.returncode == 0, predict.stderr
    assert json.loads((out / "detections.json").read_text())["exit_at"] == 1
    export = cli("export", "fpn", "--checkpoint", str(deep_run), "--exit-at", "1",
                 "--image-size", "64", "-o", str(tmp_path / "exit1.onnx"), env=ONE_THREAD)
    assert export.returncode == 0, export.stderr
    assert (tmp_path / "exit1.onnx").stat().st_size > 0


def test_all_exits_needs_deep_supervision(trained_run, tiny_data, cli):
    _, result = trained_run
    run = cli("eval", str(result.output_dir / "best.pt"), *_val(tiny_data), "--all-exits")
    assert run.returncode == 2 and "trained without deep supervision" in run.stderr
    assert "--deep-supervision" in run.stderr and "Traceback" not in run.stderr


def test_exit_out_of_range_and_conflicting_options_are_clear_errors(deep_run, tiny_data, cli):
    run = cli("eval", str(deep_run), *_val(tiny_data), "--exit-at", "3")
    assert run.returncode == 2 and "--exit-at 3:" in run.stderr and "has 2 pyramid copies" \
        in run.stderr
    run = cli("eval", str(deep_run), *_val(tiny_data), "--exit-at", "1", "--all-exits")
    assert run.returncode == 2 and "exclude each other" in run.stderr
    run = cli("flops", "fpn", "--neck-only", "--exit-at", "1")
    assert run.returncode == 2 and "--neck-only" in run.stderr
