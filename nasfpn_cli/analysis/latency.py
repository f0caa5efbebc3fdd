"""Latency and peak memory of models, timed side by side.

Every model gets its warm-up runs first (they also measure peak memory: CUDA's max allocated
bytes, or on the CPU the growth of the resident set size sampled during the runs), then the timed
runs are interleaved, one run of each model in turn, so that machine noise (other processes,
clock changes) hits all models alike and their ratios stay fair.

A :class:`BenchCase` is a name plus a zero-argument callable doing one forward pass; the
builders here make such calls for a network, a detector with post-processing or a neck, with
the AMP / channels-last / torch.compile variants applied.
"""
from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import ModelError, UsageError

RSS_SAMPLE_INTERVAL_S = 0.001
MEMORY_KINDS = {"cuda": "cuda_max_allocated", "cpu": "cpu_rss_growth"}


@dataclass(frozen=True)
class BenchSettings:
    """How every case is run: input shape, device, run counts and the speed variants."""

    image_size: int = 640
    batch_size: int = 1
    device: str = "cpu"
    warmup: int = 3
    runs: int = 10
    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    compile_backend: str = "inductor"

    def __post_init__(self) -> None:
        if self.image_size < 1 or self.batch_size < 1:
            raise UsageError("image size and batch size must be at least 1")
        if self.warmup < 0 or self.runs < 1:
            raise UsageError("warm-up runs must be >= 0 and timed runs >= 1")

    @property
    def amp_dtype(self) -> torch.dtype:
        """fp16 on CUDA (what training uses there), bf16 on the CPU (its autocast type)."""
        return torch.float16 if self.device_type == "cuda" else torch.bfloat16

    @property
    def device_type(self) -> str:
        return torch.device(self.device).type

    def to_dict(self) -> dict[str, Any]:
        return {"image_size": self.image_size, "batch_size": self.batch_size,
                "device": self.device, "warmup": self.warmup, "runs": self.runs,
                "amp": self.amp, "amp_dtype": str(self.amp_dtype).replace("torch.", "")
                if self.amp else None, "channels_last": self.channels_last,
                "compile": self.compile,
                "compile_backend": self.compile_backend if self.compile else None}


@dataclass
class BenchCase:
    """One thing to time: ``run()`` does one forward pass of ``images_per_run`` images."""

    name: str
    mode: str
    run: Callable[[], Any]
    images_per_run: int
    params: int = 0
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class BenchResult:
    """Timings (seconds, in run order) and peak memory of one case."""

    name: str
    mode: str
    times_s: list[float]
    images_per_run: int
    peak_memory_bytes: int | None
    memory_kind: str
    params: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def p90_s(self) -> float:
        return percentile(self.times_s, 90)

    @property
    def images_per_s(self) -> float:
        return self.images_per_run / self.median_s

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.name, "mode": self.mode, "params": self.params,
                "median_ms": self.median_s * 1e3, "p90_ms": self.p90_s * 1e3,
                "mean_ms": statistics.fmean(self.times_s) * 1e3,
                "min_ms": min(self.times_s) * 1e3, "max_ms": max(self.times_s) * 1e3,
                "images_per_s": self.images_per_s,
                "peak_memory_bytes": self.peak_memory_bytes, "memory_kind": self.memory_kind,
                "times_ms": [t * 1e3 for t in self.times_s], **self.info}


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile with linear interpolation between order statistics (numpy's
    default method), e.g. ``percentile([1, 2, 3, 4], 90) == 3.7``."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def current_rss_bytes() -> int | None:
    """This process's resident set size (Linux ``/proc/self/statm``); None elsewhere."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def release_freed_memory() -> None:
    """Hand memory freed by earlier runs back to the OS (glibc ``malloc_trim``), so the next
    case's RSS growth is its own rather than hidden in the allocator's cache; a no-op elsewhere."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class RssPeakSampler:
    """Samples the resident set size in a background thread; ``growth`` is the peak seen while
    running minus the size at start (what a forward pass allocates on top of the model)."""

    def __init__(self, interval_s: float = RSS_SAMPLE_INTERVAL_S):
        self.interval_s = interval_s
        self.start_bytes = current_rss_bytes()
        self.peak_bytes = self.start_bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._record()
            self._stop.wait(self.interval_s)

    def _record(self) -> None:
        value = current_rss_bytes()
        if value is not None and (self.peak_bytes is None or value > self.peak_bytes):
            self.peak_bytes = value

    def __enter__(self) -> "RssPeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._record()
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int | None:
        if self.start_bytes is None or self.peak_bytes is None:
            return None
        return max(0, self.peak_bytes - self.start_bytes)


def _synchronize(device_type: str) -> None:
    if device_type == "cuda":
        torch.cuda.synchronize()


def _timed(case: BenchCase, device_type: str) -> float:
    _synchronize(device_type)
    start = time.perf_counter()
    case.run()
    _synchronize(device_type)
    return time.perf_counter() - start


def _warm_up(case: BenchCase, settings: BenchSettings, tick: Callable[[], None]) -> int | None:
    """Run the warm-up (at least one run, so memory is always measured); peak memory bytes."""
    device_type = settings.device_type
    if device_type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
        for _ in range(max(1, settings.warmup)):
            _timed(case, device_type)
            tick()
        return torch.cuda.max_memory_allocated() - baseline
    release_freed_memory()
    with RssPeakSampler() as sampler:
        for _ in range(max(1, settings.warmup)):
            _timed(case, device_type)
            tick()
    return sampler.growth


def run_cases(cases: Sequence[BenchCase], settings: BenchSettings,
              on_run: Callable[[], None] | None = None) -> list[BenchResult]:
    """Warm every case up (measuring its memory), then time ``settings.runs`` rounds of one run
    per case in turn. ``on_run`` is called after every run (for a progress bar)."""
    if not cases:
        raise UsageError("nothing to benchmark")
    tick = on_run or (lambda: None)
    device_type = settings.device_type
    memory = [_warm_up(case, settings, tick) for case in cases]
    times: list[list[float]] = [[] for _ in cases]
    for _ in range(settings.runs):
        for index, case in enumerate(cases):
            times[index].append(_timed(case, device_type))
            tick()
    return [BenchResult(case.name, case.mode, case_times, case.images_per_run, peak,
                        MEMORY_KINDS.get(device_type, "unmeasured"), case.params, dict(case.info))
            for case, case_times, peak in zip(cases, times, memory)]


def total_runs(num_cases: int, settings: BenchSettings) -> int:
    """How many forward passes :func:`run_cases` makes (the progress bar's total)."""
    return num_cases * (max(1, settings.warmup) + settings.runs)


# ---------------------------------------------------------------------------------------------
# building the forward calls


def prepare_module(module: nn.Module, settings: BenchSettings) -> nn.Module:
    """``module`` in eval mode on the device, channels-last when asked (compile comes later:
    it wraps the call, see :func:`compiled`)."""
    module = module.eval().to(settings.device)
    if settings.channels_last:
        module = module.to(memory_format=torch.channels_last)
    return module


def compiled(function: Callable, settings: BenchSettings) -> Callable:
    """``torch.compile(function)`` when the settings ask for it (a ModelError when torch cannot
    compile here); the function itself otherwise."""
    if not settings.compile:
        return function
    try:
        return torch.compile(function, backend=settings.compile_backend)
    except Exception as exc:  # an unknown backend or a platform torch.compile does not support
        raise ModelError(f"--compile: torch.compile failed: {type(exc).__name__}: {exc}") from exc


def _images(settings: BenchSettings, channels: int = 3, size: tuple[int, int] | None = None,
            seed: int = 0) -> torch.Tensor:
    height, width = size or (settings.image_size, settings.image_size)
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(settings.batch_size, channels, height, width, generator=generator)
    images = images.to(settings.device)
    if settings.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images


def _forward(function: Callable, argument: Any, settings: BenchSettings) -> Callable[[], Any]:
    """One inference-mode call of ``function(argument)`` under autocast when asked."""

    def run() -> Any:
        autocast = (torch.autocast(settings.device_type, dtype=settings.amp_dtype)
                    if settings.amp else nullcontext())
        with torch.inference_mode(), autocast:
            return function(argument)

    return run


def _param_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def network_case(name: str, network: nn.Module, settings: BenchSettings) -> BenchCase:
    """The raw network: images -> head outputs (no anchors, decoding or NMS)."""
    network = prepare_module(network, settings)
    run = _forward(compiled(network, settings), _images(settings), settings)
    return BenchCase(name, "network", run, settings.batch_size, _param_count(network),
                     {"exit_at": getattr(network, "exit_at", None)})


def detector_case(name: str, detector: nn.Module, settings: BenchSettings) -> BenchCase:
    """The whole detector in eval mode: network, anchors, decoding and NMS."""
    detector = prepare_module(detector, settings)
    network = detector.network
    detector.network = compiled(network, settings) if settings.compile else network
    run = _forward(detector, _images(settings), settings)
    case = BenchCase(name, "detector", run, settings.batch_size, _param_count(network),
                     {"exit_at": network.exit_at,
                      "score_threshold": detector.postprocessor.score_threshold})
    return case


def neck_case(name: str, neck: nn.Module, in_channels: Sequence[int],
              settings: BenchSettings) -> BenchCase:
    """The neck alone, fed random backbone-shaped features (C3 at stride 8 ...) of an image of
    the settings' size padded as the network pads it."""
    from ..data.image_io import padded_size

    neck = prepare_module(neck, settings)
    height, width = padded_size(settings.image_size, settings.image_size, neck.size_divisor)
    features = [_images(settings, channels, (height // 2 ** level, width // 2 ** level), seed)
                for seed, (level, channels) in enumerate(zip(neck.inputs.in_levels, in_channels))]
    run = _forward(compiled(neck, settings), features, settings)
    return BenchCase(name, "neck", run, settings.batch_size, _param_count(neck))


def environment(settings: BenchSettings) -> dict[str, Any]:
    """Where the figures were measured: torch version, threads, device name."""
    info: dict[str, Any] = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    if settings.device_type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(torch.device(settings.device))
    else:
        import platform

        info["device_name"] = platform.processor() or platform.machine()
    return info
