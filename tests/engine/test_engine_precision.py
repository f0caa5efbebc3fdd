"""``--amp auto|on|off`` and ``--channels-last``: what they resolve to on each device (the CPU's
bf16 detection forced either way), old bool configs, and a bf16 + channels_last + EMA training
whose resume, evaluation and export stay exact."""
from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest
import torch
from engine_helpers import ONE_THREAD, ROOT, TINY_CONFIG, ToyDetector, toy_batches

from nasfpn_cli.engine import TrainConfig, precision, train
from nasfpn_cli.engine.checkpoint import read_checkpoint
from nasfpn_cli.engine.schedule import LrSchedule, build_scheduler
from nasfpn_cli.engine.trainer import Hook, Trainer
from nasfpn_cli.errors import UsageError

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture
def native_bf16(monkeypatch):
    """Make the CPU look as if it had (True) or lacked (False) native bf16."""

    def force(native: bool) -> None:
        monkeypatch.delenv(precision.NO_NATIVE_BF16_ENV, raising=False)
        monkeypatch.setattr(precision, "_cpu_has_native_bf16", lambda: native)

    return force


@pytest.mark.parametrize("mode, native, device, expected", [
    ("off", True, CPU, None),
    ("off", True, CUDA, None),
    ("on", False, CPU, torch.bfloat16),  # forced: emulated bf16 still runs
    ("on", True, CUDA, torch.float16),
    ("auto", True, CPU, torch.bfloat16),
    ("auto", False, CPU, None),  # no bf16 units: fp32, never slower
    ("auto", False, CUDA, torch.float16),
    (True, False, CPU, torch.bfloat16),  # the bool older configs stored
    (False, True, CPU, None),
])
def test_amp_modes_resolve_per_device(native_bf16, mode, native, device, expected):
    native_bf16(native)
    assert precision.autocast_dtype(mode, device) is expected


def test_the_environment_variable_turns_detection_off(monkeypatch):
    monkeypatch.setattr(precision, "_cpu_has_native_bf16", lambda: True)
    monkeypatch.setenv(precision.NO_NATIVE_BF16_ENV, "1")
    assert not precision.native_bf16()
    assert precision.autocast_dtype("auto", CPU) is None
    monkeypatch.setenv(precision.NO_NATIVE_BF16_ENV, "0")
    assert precision.native_bf16()


def test_cpu_flags_are_read_from_x86_and_arm_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_tile\n\n"
                   "processor\t: 1\nflags\t\t: fpu\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n")
    old = tmp_path / "old"
    old.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512bw\n")
    assert {"avx512_bf16", "amx_tile"} <= precision.cpu_flags(x86)
    assert "bf16" in precision.cpu_flags(arm)
    assert not precision.NATIVE_BF16_FLAGS & precision.cpu_flags(old)
    assert precision.cpu_flags(tmp_path / "absent") == frozenset()


def test_old_bool_amp_loads_and_new_modes_are_checked():
    stored = TrainConfig.of(**TINY_CONFIG).to_dict()
    for old, mode in ((True, "on"), (False, "off")):
        stored["solver"]["amp"] = old
        stored["solver"]["channels_last"] = old
        config = TrainConfig.from_dict(stored).validated()
        assert (config.amp, config.channels_last) == (mode, mode)
    assert TrainConfig.from_recipe(None, amp=True).amp == "on"
    assert TrainConfig.from_recipe(None, amp="auto", channels_last=True).channels_last == "on"
    with pytest.raises(UsageError, match="--amp: must be one of auto, on, off, got 'bf16'"):
        TrainConfig.from_recipe(None, amp="bf16")
    with pytest.raises(UsageError, match="--channels-last: must be one of auto, on, off"):
        TrainConfig.from_recipe(None, channels_last="yes")


@pytest.mark.parametrize("mode, native, device, expected", [
    ("auto", True, CPU, True), ("auto", False, CPU, False), ("auto", False, CUDA, True),
    ("on", False, CPU, True), ("off", True, CUDA, False), (True, False, CPU, True),
])
def test_channels_last_modes_resolve_like_amp(native_bf16, mode, native, device, expected):
    native_bf16(native)
    assert precision.uses_channels_last(mode, device) is expected
    assert (precision.memory_format(mode, device) is torch.channels_last) is expected


def test_the_defaults_are_auto_and_resolve_per_hardware(native_bf16):
    config = TrainConfig()
    assert (config.amp, config.channels_last) == ("auto", "auto")
    native_bf16(True)
    assert precision.resolved("auto", "auto", CPU) == {
        "precision": "bf16", "channels_last": True, "device": "cpu"}
    assert precision.resolved_modes("auto", "auto", CPU) == ("on", "on")
    assert "bf16 autocast, channels_last on cpu" in precision.start_line("auto", "auto", CPU)
    native_bf16(False)
    assert precision.resolved("auto", "auto", CPU)["precision"] == "fp32"
    assert precision.resolved_modes("auto", "auto", CPU) == ("off", "off")
    assert precision.resolved_modes("auto", "auto", CUDA) == ("on", "on")
    assert "fp32 on cpu" in precision.start_line("auto", "off", CPU)


def test_cli_amp_takes_a_mode_and_the_old_flags_still_work(cli):
    def solver(*args: str) -> dict:
        import json

        result = cli("train", "fpn", "--print-config", *args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["solver"]

    assert (solver()["amp"], solver()["channels_last"]) == ("auto", "auto")
    assert solver("--amp")["amp"] == "on"
    assert solver("--no-amp")["amp"] == "off"
    assert solver("--amp", "auto", "--channels-last")["amp"] == "auto"
    assert solver("--channels-last")["channels_last"] == "on"
    assert solver("--no-channels-last")["channels_last"] == "off"


def _toy_trainer(*, epochs: int, hooks=(), **numerics) -> Trainer:
    model = ToyDetector().to(memory_format=precision.memory_format(
        numerics.get("channels_last", False)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = build_scheduler(optimizer, LrSchedule("cosine", total_steps=epochs * 4, warmup=3))
    return Trainer(model, optimizer, scheduler, toy_batches(), epochs=epochs, device=CPU,
                   grad_clip=5.0, hooks=hooks, **numerics)


class StopAfterEpoch(Hook):
    def __init__(self, epoch: int):
        self.epoch = epoch

    def after_epoch(self, trainer) -> None:
        if trainer.epoch == self.epoch:
            raise KeyboardInterrupt


def test_trainer_feeds_channels_last_batches_under_bf16_and_resumes_exactly():
    seen = []

    class Layout(Hook):
        def after_step(self, trainer) -> None:
            seen.append(trainer.model.conv.weight.is_contiguous(memory_format=torch.channels_last))

    numerics = dict(amp="on", channels_last=True)
    straight = _toy_trainer(epochs=4, hooks=[Layout()], **numerics)
    assert straight.autocast_dtype is torch.bfloat16 and not straight.scaler.is_enabled()
    straight.train()
    assert seen and all(seen)
    interrupted = _toy_trainer(epochs=4, hooks=[StopAfterEpoch(2)], **numerics)
    with pytest.raises(KeyboardInterrupt):
        interrupted.train()
    resumed = _toy_trainer(epochs=4, **numerics)
    resumed.load_state_dict(copy.deepcopy(interrupted.state_dict()))
    resumed.train()
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name


def test_auto_without_native_bf16_trains_in_fp32_as_before(native_bf16):
    native_bf16(False)
    auto, fp32 = _toy_trainer(epochs=1, amp="auto"), _toy_trainer(epochs=1, amp="off")
    assert auto.autocast_dtype is None and not auto.amp
    auto.train()
    fp32.train()
    for name, value in fp32.model.state_dict().items():
        assert torch.equal(value, auto.model.state_dict()[name]), name


def _train_one_thread(config: TrainConfig, **kwargs):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(config, progress=False, **kwargs)
    finally:
        torch.set_num_threads(threads)


def test_bf16_channels_last_ema_run_resumes_bit_identically_and_exports(tiny_data, tmp_path,
                                                                         cli):
    options = dict(**TINY_CONFIG, data_dir=str(tiny_data), epochs=3, eval_every=3, amp="on",
                   channels_last=True, ema=True, ema_decay=0.9)
    straight = _train_one_thread(TrainConfig.of(**options, output_dir=str(tmp_path / "straight")))
    assert straight.last_metrics["AP50"] > 0.0  # it learns something in bf16
    broken = TrainConfig.of(**options, output_dir=str(tmp_path / "broken"))
    with pytest.raises(KeyboardInterrupt):
        _train_one_thread(broken, extra_hooks=(StopAfterEpoch(2),))
    assert read_checkpoint(tmp_path / "broken" / "last.pt").state["epoch"] == 2
    resumed = _train_one_thread(TrainConfig.of(**options, output_dir=str(tmp_path / "broken"),
                                            resume=True))

    a = read_checkpoint(tmp_path / "straight" / "last.pt").state
    b = read_checkpoint(tmp_path / "broken" / "last.pt").state
    assert (b["epoch"], b["step"]) == (a["epoch"], a["step"]) == (3, 18)
    assert a["config"]["train"]["solver"]["amp"] == "on"
    assert a["config"]["train"]["solver"]["channels_last"] == "on"
    assert a["config"]["numerics"] == {"precision": "bf16", "channels_last": True,
                                       "device": "cpu"}
    for part in ("model", "ema"):
        weights_a = a[part] if part == "model" else a[part]["model"]
        weights_b = b[part] if part == "model" else b[part]["model"]
        for name, value in weights_a.items():
            assert torch.equal(value, weights_b[name]), (part, name)
    assert resumed.metrics_history == straight.metrics_history

    exported = tmp_path / "model.pt"
    result = cli("export", "fpn", "-o", str(exported), "--checkpoint",
                 str(tmp_path / "broken" / "last.pt"), "--image-size", "64",
                 env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    loaded = torch.jit.load(str(exported))
    with torch.no_grad():
        outputs = loaded(torch.zeros(1, 3, 64, 64))
    assert all(torch.isfinite(t).all() for t in _tensors(outputs))


def _tensors(value) -> list[torch.Tensor]:
    """Every tensor in a nest of tuples, lists and dicts."""
    if isinstance(value, torch.Tensor):
        return [value]
    items = value.values() if isinstance(value, dict) else value
    return [t for item in items for t in _tensors(item)]


def test_cpu_speed_benchmark_prints_capabilities_and_a_row_per_model():
    result = subprocess.run([sys.executable, "benchmarks/cpu_speed.py", "--steps", "1",
                             "--models", "proxy", "--settings", "start,both"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, **ONE_THREAD})
    assert result.returncode == 0, result.stderr
    assert "native bf16: " in result.stdout and "1 torch thread(s)" in result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith("| proxy:"))
    assert row.count(" s") == 2 and "x)" in row
