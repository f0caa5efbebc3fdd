"""``nasfpn eval``: COCO bbox metrics of a checkpoint on an annotated dataset."""
from __future__ import annotations

import json

import click

from ..console import plain, print_warning
from ..errors import DatasetError, UsageError
from .inference_settings import (inference_options, numerics_options, pop_numerics,
                                 prepare_numerics)
from .model_options import model_options

PATH = click.Path(path_type=str)
SUMMARY_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl")


def _table(metrics: dict):
    from rich.table import Table

    summary = Table(title=f"COCO bbox, {metrics['num_images']} images, "
                          f"{metrics['num_detections']} detections")
    for key in SUMMARY_KEYS:
        summary.add_column(key, justify="right")
    summary.add_row(*(f"{metrics[k]:.3f}" if metrics[k] >= 0 else "-" for k in SUMMARY_KEYS))
    per_class = Table(title="AP per class")
    per_class.add_column("class")
    per_class.add_column("AP", justify="right")
    for name, value in metrics["per_class"].items():
        per_class.add_row(plain(name), "-" if value is None else f"{value:.3f}")
    return summary, per_class


@click.command(name="eval")
@click.argument("checkpoint", type=PATH)
@click.option("--ann", type=PATH, required=True, help="COCO annotation file to score against.")
@click.option("--images", type=PATH, required=True, help="Folder of its images.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
@inference_options("batch_size", "workers", "device", "image_size", batch_size=4)
@model_options("exit_at")
@click.option("--all-exits", is_flag=True,
              help="Score every exit of a deeply supervised model: AP, AP50, MACs, latency.")
@inference_options("latency_runs")
@numerics_options
def command(checkpoint: str, ann: str, images: str, as_json: bool, batch_size: int,
            workers: int, device: str, image_size: int | None, exit_at: int | None,
            all_exits: bool, latency_runs: int, **numerics) -> int:
    """Evaluate CHECKPOINT on annotation file ANN with COCOeval (bbox).

    AP figures are fractions as pycocotools gives them (-1: no ground truth in that range).
    --all-exits prints one row per exit (anytime prediction) with the network's MACs and
    batch-1 latency up to that exit.
    """
    if exit_at is not None and all_exits:
        raise UsageError("--exit-at and --all-exits exclude each other")
    amp, channels_last = pop_numerics(numerics)
    from ..console import console
    from ..data.checks import require_clean
    from ..data.coco import CocoDetection, EvalTransform
    from ..engine.checkpoint import Checkpoint
    from ..engine.evaluation import evaluate
    from ..engine.distributed import resolve_device

    stored = Checkpoint.read(checkpoint)
    require_clean(ann, images, "evaluation")  # the same checks as train, before any model work
    size = image_size or stored.image_size or 640
    dataset = CocoDetection(ann, images, EvalTransform(size))
    trained_categories = (stored.label_to_category if stored.data.get("label_to_category")
                          else None)
    if trained_categories and not set(trained_categories) & set(dataset.label_to_category):
        raise DatasetError(f"{ann}: its categories {dataset.label_to_category} share no id with "
                           f"the ones {checkpoint} was trained on {list(trained_categories)}",
                           hint="evaluate on annotations of the training's categories")
    if trained_categories and list(trained_categories) != dataset.label_to_category:
        print_warning(f"{ann}: categories {dataset.label_to_category} differ from the trained "
                      f"ones {list(trained_categories)}; only shared ids can score")
    detector = prepare_numerics(stored.detector(), amp, channels_last, resolve_device(device))
    if all_exits:
        return _all_exits(detector, dataset, checkpoint, size, as_json, latency_runs,
                          batch_size=batch_size, workers=workers,
                          label_to_category=trained_categories, amp=amp,
                          channels_last=channels_last)
    if exit_at is not None:
        from ..engine.anytime import set_exit

        set_exit(detector, exit_at, checkpoint)
    metrics = evaluate(detector, dataset, batch_size=batch_size, workers=workers,
                       progress=not as_json, label_to_category=trained_categories, amp=amp,
                       channels_last=channels_last)
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
    else:
        for table in _table(metrics):
            console.print(table)
    return 0


def _all_exits(detector, dataset, checkpoint: str, image_size: int, as_json: bool,
               latency_runs: int, **evaluate_options) -> int:
    from ..console import console
    from ..engine.anytime import evaluate_exits, require_deep_supervision

    require_deep_supervision(detector, checkpoint)
    device = str(next(detector.parameters()).device)
    scores = evaluate_exits(detector, dataset, image_size=image_size, device=device,
                            latency_runs=latency_runs, progress=not as_json, **evaluate_options)
    if as_json:
        click.echo(json.dumps({"checkpoint": checkpoint, "image_size": image_size,
                               "exits": [score.to_dict() for score in scores]}, indent=2))
        return 0
    from rich.table import Table

    table = Table(title=f"anytime exits, {scores[0].metrics['num_images']} images at "
                        f"{image_size} px (latency: raw network, batch 1, {device})")
    for column in ("exit", "AP", "AP50", "GMACs", "latency ms"):
        table.add_column(column, justify="right")
    for score in scores:
        latency = "-" if score.latency_ms is None else f"{score.latency_ms:.2f}"
        table.add_row(str(score.exit), f"{score.metrics['AP']:.3f}",
                      f"{score.metrics['AP50']:.3f}", f"{score.macs / 1e9:.3f}", latency)
    console.print(table)
    return 0
