"""Anytime prediction: score a deeply supervised detector at every exit (after each pyramid
copy), with the multiply-adds and latency of the network up to that exit.

The paper's anytime detector trades accuracy for compute by stopping after stack K; this puts
the three figures of each exit side by side: AP (COCOeval), MACs (fvcore, the network with
``set_exit(K)``, so later stacks are not counted) and the median latency of the raw network at
batch 1 (no decoding or NMS, as published latency tables), the exits' timed runs interleaved.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from ..console import print_warning
from ..errors import UsageError

LATENCY_WARMUP = 2


@dataclass
class ExitScore:
    """One exit's metrics (as :func:`~.evaluation.evaluate` returns them), MACs and latency."""

    exit: int
    metrics: dict[str, Any]
    macs: int
    latency_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"exit": self.exit, "macs": self.macs, "latency_ms": self.latency_ms,
                **self.metrics}


def require_deep_supervision(detector: nn.Module, source: str) -> None:
    """UsageError unless every exit of ``detector`` has a trained head of its own."""
    if not detector.network.deep_supervision:
        raise UsageError(
            f"{source}: trained without deep supervision: only the last pyramid copy "
            f"(stack {detector.network.num_stacks}) has a trained head, so the earlier exits "
            "cannot be scored", hint="train with --deep-supervision for anytime exits")


def check_exit_option(network: nn.Module, exit_at: int, source: str) -> None:
    """UsageError naming ``--exit-at`` when ``network`` has no stack ``exit_at``."""
    stacks = network.num_stacks
    if not 1 <= exit_at <= stacks:
        raise UsageError(f"--exit-at {exit_at}: {source} has {stacks} pyramid "
                         f"cop{'y' if stacks == 1 else 'ies'} (stacks)",
                         hint=f"choose an exit from 1 to {stacks}")


def set_exit(detector: nn.Module, exit_at: int, source: str) -> None:
    """Make ``detector`` answer at stack ``exit_at`` (UsageError naming --exit-at when out of
    range); a warning when that stack's head was never trained (no deep supervision, not the
    last stack)."""
    check_exit_option(detector.network, exit_at, source)
    detector.exit_at = exit_at
    network = detector.network
    if not network.deep_supervision and exit_at != network.num_stacks:
        print_warning(f"{source}: trained without deep supervision; the head learnt from "
                      f"stack {network.num_stacks} only, so exit {exit_at} will score poorly")


def exit_macs(network: nn.Module, image_size: int, exit_at: int) -> int:
    """Multiply-adds of ``network`` on one image when it stops at stack ``exit_at``."""
    from ..analysis.counting import count_network

    previous = network.exit_at
    network.set_exit(exit_at)
    try:
        return count_network(network, image_size).macs
    finally:
        network.set_exit(previous)


def exit_latencies(network: nn.Module, image_size: int, device: str, exits: list[int],
                   runs: int) -> list[float]:
    """Median latency (ms) of the raw network at batch 1 stopping at each exit, interleaved."""
    from ..analysis.latency import BenchCase, BenchSettings, network_case, run_cases

    settings = BenchSettings(image_size=image_size, device=device, warmup=LATENCY_WARMUP,
                             runs=runs)
    base = network_case("network", network, settings)

    def at_exit(stack: int):
        def run():
            network.set_exit(stack)
            return base.run()

        return run

    previous = network.exit_at
    try:
        cases = [BenchCase(f"exit {k}", "network", at_exit(k), 1) for k in exits]
        return [result.median_s * 1e3 for result in run_cases(cases, settings)]
    finally:
        network.set_exit(previous)


def evaluate_exits(detector: nn.Module, dataset, *, image_size: int, device: str,
                   latency_runs: int = 5, progress: bool = False,
                   **evaluate_options: Any) -> list[ExitScore]:
    """COCO metrics, MACs and latency of ``detector`` at each of its exits (1 .. num_stacks).

    ``latency_runs`` 0 skips timing (latency None). ``evaluate_options`` go to
    :func:`~.evaluation.evaluate`.
    """
    from .evaluation import evaluate

    network = detector.network
    exits = list(range(1, network.num_stacks + 1))
    previous = detector.exit_at
    scores = []
    try:
        for stack in exits:
            detector.exit_at = stack
            metrics = evaluate(detector, dataset, progress=progress,
                               description=f"exit {stack}/{exits[-1]}", **evaluate_options)
            scores.append(ExitScore(stack, metrics, exit_macs(network, image_size, stack), None))
    finally:
        detector.exit_at = previous
    if latency_runs > 0:
        for score, latency in zip(scores, exit_latencies(network, image_size, device, exits,
                                                         latency_runs)):
            score.latency_ms = latency
    return scores
