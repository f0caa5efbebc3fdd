"""The settings the commands that run or measure a built model share (``eval``, ``predict``,
``bench``, ``export``, ``flops``, ``compare``), each declared once; a command picks the ones it
takes and its own defaults (``inference_options(...)``)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..engine.config import DEVICES
from ..limits import MAX_BATCH_SIZE, MAX_IMAGE_SIZE, max_local_processes
from ..settings import setting
from .settings_options import settings_options


@dataclass(frozen=True)
class InferenceSettings:
    """How a built model is run or measured."""

    image_size: int | None = setting(None, section="inference", minimum=64,
                                     maximum=MAX_IMAGE_SIZE, unit="pixels",
                                     help="Square input side in pixels.",
                                     unset_help="[default: the training size stored in the "
                                                "checkpoint, else 640]")
    batch_size: int = setting(1, section="inference", minimum=1, maximum=MAX_BATCH_SIZE,
                              help="Images per forward pass.")
    workers: int = setting(0, section="inference", minimum=0, maximum=max_local_processes,
                           help="DataLoader worker processes.")
    device: str = setting("auto", section="inference", choices=DEVICES,
                          help="auto: CUDA when there is one.")
    score_threshold: float | None = setting(None, section="inference", minimum=0.0, maximum=1.0,
                                            help="Keep detections scoring at least this.",
                                            unset_help="[default: the model's]")
    warmup: int = setting(3, section="inference", minimum=0, maximum=10_000,
                          help="Untimed runs per model first (at least one measures memory).")
    runs: int = setting(10, section="inference", minimum=1, maximum=100_000,
                        help="Timed runs per model, interleaved across models.")
    latency_runs: int = setting(5, section="inference", minimum=0, maximum=100_000,
                                help="Timed runs per model for the latency (0: no timing).")
    neck_only: bool = setting(False, section="inference",
                              help="The neck alone (laterals and cells), on backbone-shaped "
                                   "inputs.")
    threads: int | None = setting(None, section="inference", minimum=1,
                                  maximum=max_local_processes,
                                  help="torch CPU threads.", unset_help="[default: torch's]")


def inference_options(*names: str, help_for: Callable[[str], str | None] | None = None,
                      **defaults: Any) -> Callable:
    """The options ``names`` of :class:`InferenceSettings`, with this command's ``defaults``."""
    return settings_options(InferenceSettings, names=names,
                            defaults=replace(InferenceSettings(), **defaults), concrete=True,
                            help_for=help_for)
