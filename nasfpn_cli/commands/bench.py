"""``nasfpn bench``: latency and peak memory of detectors built from genotypes or checkpoints,
several side by side with their timed runs interleaved."""
from __future__ import annotations

import json

import click

from .inference_settings import inference_options, numerics_options, pop_numerics
from .model_options import MODEL_OPTION_NAMES, model_options, spec_from_options

# --post-processing choice -> the modes timed per model
POST_PROCESSING_MODES = {"both": ("network", "detector"), "with": ("detector",),
                         "without": ("network",)}
MODE_HELP = {"network": "raw head outputs", "detector": "with decoding + NMS",
             "neck": "neck alone"}


@click.command(name="bench")
@click.argument("models", nargs=-1, required=True, metavar="GENOTYPE|CHECKPOINT...")
@inference_options("image_size", "batch_size", "device", "warmup", "runs")
@numerics_options
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the network (or neck).")
@click.option("--compile-backend", default="inductor", show_default=True,
              help="torch.compile backend (inductor; eager or aot_eager to check tracing).")
@click.option("--post-processing", type=click.Choice(list(POST_PROCESSING_MODES)),
              default="both", show_default=True,
              help="Time the detector with anchor decoding + NMS, without (raw network), or both.")
@inference_options("score_threshold", help_for=lambda name: (
    "Post-processing score threshold; 0 keeps every candidate up to the top-k, the worst case "
    "for NMS."))
@inference_options("neck_only")
@model_options("exit_at", *MODEL_OPTION_NAMES)
@inference_options("threads")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(models: tuple[str, ...], image_size: int | None, batch_size: int, device: str,
            warmup: int, runs: int, compile_: bool,
            compile_backend: str, post_processing: str, score_threshold: float | None,
            neck_only: bool, exit_at: int | None, threads: int | None, as_json: bool,
            **model) -> int:
    """Time GENOTYPE(s) or CHECKPOINT(s): median and p90 latency, images/s, peak memory.

    A genotype (file or bundled name) is built with fresh weights and the model options; a
    checkpoint (.pt) brings its own model and weights. Each model gets --warmup untimed runs,
    then the --runs timed runs go round the models in turn, so noise hits all alike. Peak
    memory: CUDA max allocated bytes; on the CPU the growth of the resident set size.
    """
    import torch

    from ..analysis.latency import BenchSettings
    from ..engine.distributed import resolve_device
    from ..engine.precision import autocast_dtype, start_line, uses_channels_last
    from ..engine.sources import load_source
    from ..utils import unique_names

    amp, channels_last = pop_numerics(model)
    where = resolve_device(device)
    if not as_json:
        from ..console import err_console

        err_console.print(start_line(amp, channels_last, where), markup=False)
    if threads is not None:
        torch.set_num_threads(threads)
    sources = [load_source(argument, lambda g: spec_from_options(g, **model))
               for argument in models]
    for source, name in zip(sources, unique_names([s.name for s in sources])):
        source.name = name
    settings = BenchSettings(image_size or _default_size(sources), batch_size, str(where),
                             warmup, runs, autocast_dtype(amp, where) is not None,
                             uses_channels_last(channels_last, where), compile_, compile_backend)
    modes = ("neck",) if neck_only else POST_PROCESSING_MODES[post_processing]
    from ..memory_guard import memory_headroom

    # a batch too large for the machine fails as "out of memory", not as a silent kill
    with memory_headroom():
        cases = [case for source in sources
                 for case in _cases(source, modes, settings, exit_at, score_threshold)]
        results = _run_with_progress(cases, settings, show=not as_json)
    _print(results, settings, as_json)
    return 0


def _default_size(sources) -> int:
    sizes = {source.training_image_size for source in sources}
    return sizes.pop() if len(sizes) == 1 and None not in sizes else 640


def _cases(source, modes, settings, exit_at, score_threshold):
    from ..analysis.latency import detector_case, neck_case, network_case

    detector = source.detector
    if exit_at is not None:
        from ..engine.anytime import check_exit_option

        check_exit_option(detector.network, exit_at, source.name)
        detector.exit_at = exit_at
    if score_threshold is not None:
        detector.postprocessor.score_threshold = score_threshold
    builders = {
        "network": lambda: network_case(source.name, detector.network, settings),
        "detector": lambda: detector_case(source.name, detector, settings),
        "neck": lambda: neck_case(source.name, detector.network.neck, source.backbone_channels,
                                  settings),
    }
    return [builders[mode]() for mode in modes]


def _run_with_progress(cases, settings, show: bool):
    from ..analysis.latency import run_cases, total_runs
    from ..utils import make_progress

    with make_progress(enabled=show) as bar:
        task = bar.add_task("bench", total=total_runs(len(cases), settings), status="")
        return run_cases(cases, settings, on_run=lambda: bar.advance(task))


def relative_to_first(results) -> list[float]:
    """Each result's median over the first result's median of the same mode."""
    first: dict[str, float] = {}
    ratios = []
    for result in results:
        base = first.setdefault(result.mode, result.median_s)
        ratios.append(result.median_s / base)
    return ratios


def _print(results, settings, as_json: bool) -> None:
    from ..analysis.latency import environment

    ratios = relative_to_first(results)
    if as_json:
        payload = {"settings": settings.to_dict(), "environment": environment(settings),
                   "results": [{**r.to_dict(), "relative_to_first": ratio}
                               for r, ratio in zip(results, ratios)]}
        click.echo(json.dumps(payload, indent=2))
        return
    from rich.table import Table

    from ..console import console

    variants = [name for name in ("amp", "channels_last", "compile") if getattr(settings, name)]
    table = Table(title=f"latency, batch {settings.batch_size} at {settings.image_size} px on "
                        f"{settings.device}" + (f" ({', '.join(variants)})" if variants else "")
                        + f", median of {settings.runs} runs")
    for column in ("model", "mode", "exit", "params", "median ms", "p90 ms", "img/s",
                   "peak MiB", "x 1st"):
        table.add_column(column, justify="left" if column in ("model", "mode") else "right",
                         min_width=8 if column == "mode" else None)
    for result, ratio in zip(results, ratios):
        memory = ("-" if result.peak_memory_bytes is None
                  else f"{result.peak_memory_bytes / 2 ** 20:.1f}")
        exit_at = result.info.get("exit_at")
        table.add_row(result.name, result.mode,
                      "-" if exit_at is None else str(exit_at), f"{result.params / 1e6:.2f}M",
                      f"{result.median_s * 1e3:.2f}", f"{result.p90_s * 1e3:.2f}",
                      f"{result.images_per_s:.1f}", memory, f"{ratio:.2f}")
    console.print(table)
    shown = dict.fromkeys(result.mode for result in results)
    # the console prints text as text (no markup): the style is given, not written in it
    console.print("; ".join(f"{mode}: {MODE_HELP[mode]}" for mode in shown)
                  + "; x 1st: median over the first model's in the same mode", style="dim")
    console.print("peak memory: " + ("CUDA max allocated during the warm-up runs"
                                     if settings.device_type == "cuda" else
                                     "growth of the resident set size during the warm-up runs"),
                  style="dim")
