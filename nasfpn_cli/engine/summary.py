"""The lines ``nasfpn train`` prints before its first step: what is trained, what it costs,
how long it will roughly take, and how well the anchors fit the training boxes.

The images/s figure is an estimate from one timed forward pass of the raw network (no
gradients, eval mode, so no batch-norm statistics move) on a blank batch: a training step
(forward, backward, optimizer) costs about :data:`TRAIN_STEP_FORWARDS` such passes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from ..utils import eval_mode

TRAIN_STEP_FORWARDS = 3.0  # measured on CPU: a training step ~ 3 no-grad forward passes
LOW_COVERAGE = 0.8  # below this share of covered boxes the start lines suggest a fix


@dataclass(frozen=True)
class RunSummary:
    model: str
    params: int
    macs: int
    image_size: int
    steps: int
    batch_size: int
    images_per_s: float

    def line(self) -> str:
        from ..analysis.flop_tables import human

        seconds = self.steps * self.batch_size / max(self.images_per_s, 1e-9)
        return (f"{self.model}: {human(self.params)} params, {human(self.macs)} MACs per "
                f"{self.image_size} px image; {self.steps} steps of {self.batch_size}; "
                f"~{self.images_per_s:.1f} img/s estimated (~{_duration(seconds)} of steps)")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


@torch.no_grad()
def estimate_images_per_second(network: nn.Module, batch_size: int, image_size: int,
                               device: torch.device) -> float:
    """Training images/s guessed from one timed no-grad forward pass (after a warm-up one)."""
    with eval_mode(network), torch.no_grad():
        images = torch.zeros(batch_size, 3, image_size, image_size, device=device)
        network(images[:1])
        started = time.perf_counter()
        network(images)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed = time.perf_counter() - started
    return batch_size / max(TRAIN_STEP_FORWARDS * elapsed, 1e-9)


def summarise_run(detector: nn.Module, name: str, image_size: int, steps: int,
                  batch_size: int, device: torch.device) -> RunSummary:
    """Parameters, multiply-adds per image (fvcore), steps and the images/s estimate."""
    from ..analysis.counting import count_network

    network = detector.network
    report = count_network(network, image_size)
    return RunSummary(name, report.params, report.macs, image_size, steps, batch_size,
                      estimate_images_per_second(network, batch_size, image_size, device))


def start_lines(detector: nn.Module, config, dataset, steps: int,
                device: torch.device) -> list[str]:
    """The run summary line and the anchor-coverage line of the training boxes."""
    from ..modeling.anchor_coverage import dataset_anchor_coverage

    from .precision import autocast_dtype, describe, uses_channels_last

    spec = detector.spec  # N@C as resolved (options, the file's directives or 7@256)
    numerics = describe(autocast_dtype(config.amp, device),
                        uses_channels_last(config.channels_last, device))
    summary = summarise_run(detector, f"{config.genotype} {spec.stack}@{spec.channels} "
                                      f"{spec.backbone} ({numerics})", config.image_size, steps,
                            config.batch_size, device)
    coverage = dataset_anchor_coverage(dataset, detector.anchor_generator, config.image_size)
    lines = [summary.line(), coverage.summary()]
    if coverage.total and coverage.fraction < LOW_COVERAGE:
        lines.append(f"  few boxes fit an anchor: try a smaller --anchor-size (now "
                     f"{config.model.anchor_size:g}) or a larger --image-size")
    return lines
