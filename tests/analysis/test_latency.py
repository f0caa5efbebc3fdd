"""Latency timing: percentiles, interleaved run order, memory fields, and `nasfpn bench` JSON
on tiny CPU models (structure, not timing values)."""
from __future__ import annotations

import json

import pytest
import torch

from nasfpn_cli.analysis.latency import (BenchCase, BenchSettings, RssPeakSampler,
                                         current_rss_bytes, network_case, percentile, run_cases,
                                         total_runs)
from nasfpn_cli.commands.bench import relative_to_first
from nasfpn_cli.errors import UsageError
from nasfpn_cli.modeling.network import build_network

TINY = ["--backbone", "resnet10", "--stack", "1", "--channels", "16", "--image-size", "64",
        "--num-classes", "2", "--warmup", "1", "--runs", "2", "--threads", "1"]


def test_percentile_interpolates_like_numpy():
    assert percentile([4, 1, 3, 2], 90) == pytest.approx(3.7)
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile([5.0], 90) == 5.0
    assert percentile(list(range(11)), 90) == pytest.approx(9.0)


def test_timed_runs_go_round_the_cases_after_each_warm_up():
    calls: list[str] = []
    cases = [BenchCase(name, "network", lambda name=name: calls.append(name), 2)
             for name in ("a", "b", "c")]
    settings = BenchSettings(image_size=8, warmup=2, runs=3)
    ticks = []
    results = run_cases(cases, settings, on_run=lambda: ticks.append(1))
    assert calls == ["a", "a", "b", "b", "c", "c"] + ["a", "b", "c"] * 3
    assert len(ticks) == total_runs(3, settings) == 15
    assert [len(r.times_s) for r in results] == [3, 3, 3]
    result = results[0]
    assert result.images_per_s == pytest.approx(2 / result.median_s)
    assert result.memory_kind == "cpu_rss_growth" and result.peak_memory_bytes >= 0
    assert set(result.to_dict()) >= {"model", "mode", "median_ms", "p90_ms", "images_per_s",
                                     "peak_memory_bytes", "times_ms"}


def test_a_warm_up_of_zero_still_measures_memory_once():
    calls = []
    run_cases([BenchCase("a", "network", lambda: calls.append(1), 1)],
              BenchSettings(image_size=8, warmup=0, runs=2))
    assert len(calls) == 3


def test_rss_sampler_sees_an_allocation():
    if current_rss_bytes() is None:
        pytest.skip("no /proc/self/statm here")
    with RssPeakSampler() as sampler:
        block = torch.ones(64 * 2 ** 20 // 4)  # 64 MiB, touched
        del block
    assert sampler.growth >= 32 * 2 ** 20


def test_bad_settings_and_no_cases_are_usage_errors():
    with pytest.raises(UsageError):
        BenchSettings(runs=0)
    with pytest.raises(UsageError):
        run_cases([], BenchSettings())


def test_network_case_runs_the_network_in_inference_mode():
    torch.manual_seed(0)
    network = build_network("fpn", 2, "resnet10", 16, 1)
    settings = BenchSettings(image_size=64, warmup=0, runs=1, channels_last=True)
    case = network_case("fpn", network, settings)
    cls_out, box_out = case.run()
    assert [tuple(t.shape[-2:]) for t in cls_out] == [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]  # padded to 128
    assert not network.training and case.params == sum(p.numel() for p in network.parameters())


def test_ratios_are_per_mode_against_the_first_model():
    class Fake:
        def __init__(self, mode, median):
            self.mode, self.median_s = mode, median

    results = [Fake("network", 2.0), Fake("detector", 4.0), Fake("network", 3.0),
               Fake("detector", 2.0)]
    assert relative_to_first(results) == [1.0, 1.0, 1.5, 0.5]


def test_bench_json_side_by_side(cli):
    run = cli("bench", "fpn", "nasfpn", *TINY, "--json")
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["settings"]["image_size"] == 64 and payload["settings"]["runs"] == 2
    assert payload["environment"]["threads"] == 1
    rows = [(r["model"], r["mode"]) for r in payload["results"]]
    assert rows == [("fpn", "network"), ("fpn", "detector"), ("nasfpn", "network"),
                    ("nasfpn", "detector")]
    for row in payload["results"]:
        assert len(row["times_ms"]) == 2 and row["median_ms"] > 0
        assert row["p90_ms"] >= row["median_ms"] > 0 and row["images_per_s"] > 0
        assert row["memory_kind"] == "cpu_rss_growth" and row["exit_at"] == 1
    assert payload["results"][0]["relative_to_first"] == 1.0
    assert payload["results"][0]["params"] == payload["results"][1]["params"] > 0


def test_bench_variants_neck_only_and_exits(cli):
    run = cli("bench", "fpn", *TINY, "--stack", "2", "--neck-only", "--amp", "--channels-last",
              "--compile", "--compile-backend", "eager", "--json")
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["settings"]["amp_dtype"] == "bfloat16" and payload["settings"]["compile"]
    assert [r["mode"] for r in payload["results"]] == ["neck"]
    run = cli("bench", "fpn", *TINY, "--stack", "2", "--exit-at", "1",
              "--post-processing", "with", "--score-threshold", "0")
    assert run.returncode == 0, run.stderr
    assert "detector" in run.stdout and "median" in run.stdout and "network" not in run.stdout


def test_bench_of_a_checkpoint_uses_its_training_size(tmp_path, cli):
    from nasfpn_cli.engine.checkpoint import write_checkpoint
    from nasfpn_cli.modeling.detector import build_detector

    torch.manual_seed(0)
    detector = build_detector("fpn", 2, "resnet10", 16, 1)
    path = tmp_path / "tiny.pt"
    write_checkpoint({"model": detector.state_dict(),
                      "config": {"genotype_text": detector.spec.genotype_text,
                                 "model": detector.config, "train": {"image_size": 64}}}, path)
    run = cli("bench", str(path), "--warmup", "0", "--runs", "1", "--threads", "1", "--json",
              "--post-processing", "without")
    assert run.returncode == 0, run.stderr
    payload = json.loads(run.stdout)
    assert payload["settings"]["image_size"] == 64 and payload["results"][0]["model"] == "fpn"


@pytest.mark.parametrize("args, message", [
    (("no-such-genotype",), "no-such-genotype"),
    (("missing.pt",), "missing.pt: no such checkpoint file"),
    (("fpn", "--exit-at", "5", "--stack", "1"), "--exit-at 5: fpn has 1 pyramid copy"),
])
def test_bench_bad_input_is_a_clear_error(cli, args, message):
    run = cli("bench", *args, "--backbone", "resnet10", "--channels", "16", "--runs", "1")
    assert run.returncode in (1, 2) and message in run.stderr
    assert "Traceback" not in run.stderr
