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


def numerics_options(command: Callable) -> Callable:
    """``--amp`` and ``--channels-last`` (with ``--no-amp``, ``--no-channels-last``): train's
    declarations, defaults and all (auto: mixed precision and NHWC where the hardware has native
    bf16 or a GPU)."""
    from ..engine.config import TrainConfig

    return settings_options(TrainConfig, names=("amp", "channels_last"), defaults=TrainConfig(),
                            concrete=True, section="numerics")(command)


def pop_numerics(options: dict[str, Any]) -> tuple[str, str]:
    """The ``--amp`` and ``--channels-last`` modes from a command's options (removed there),
    ``--no-*`` folded in."""
    from ..engine.config import TrainConfig
    from .settings_options import fold_negations

    folded = fold_negations(TrainConfig, {name: options.pop(name) for name in
                                          ("amp", "channels_last", "no_amp", "no_channels_last")})
    return folded["amp"], folded["channels_last"]


def prepare_numerics(detector, amp: str, channels_last: str, device, *, quiet: bool = False):
    """``detector`` on ``device`` in the layout ``--channels-last`` means there; prints what the
    command runs with (to stderr) unless ``quiet``."""
    from ..console import err_console
    from ..engine.precision import memory_format, start_line

    if not quiet:
        err_console.print(start_line(amp, channels_last, device), markup=False)
    return detector.to(device, memory_format=memory_format(channels_last, device))
