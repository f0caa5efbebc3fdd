"""``nasfpn eval``: COCO bbox metrics of a checkpoint on an annotated dataset."""
from __future__ import annotations

import json

import click

from ..engine.config import DEVICES

from ..console import print_warning

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
        per_class.add_row(name, "-" if value is None else f"{value:.3f}")
    return summary, per_class


@click.command(name="eval")
@click.argument("checkpoint", type=PATH)
@click.option("--ann", type=PATH, required=True, help="COCO annotation file to score against.")
@click.option("--images", type=PATH, required=True, help="Folder of its images.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
@click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--device", type=click.Choice(DEVICES), default="auto",
              show_default=True)
@click.option("--image-size", type=click.IntRange(min=64),
              help="Evaluation size (default: the training size stored in the checkpoint).")
def command(checkpoint: str, ann: str, images: str, as_json: bool, batch_size: int,
            workers: int, device: str, image_size: int | None) -> int:
    """Evaluate CHECKPOINT on annotation file ANN with COCOeval (bbox).

    AP figures are fractions as pycocotools gives them (-1: no ground truth in that range).
    """
    from ..console import console
    from ..data.coco import CocoDetection, EvalTransform
    from ..engine.checkpoint import Checkpoint
    from ..engine.evaluation import evaluate
    from ..engine.run import resolve_device

    stored = Checkpoint.read(checkpoint)
    size = image_size or stored.image_size or 640
    dataset = CocoDetection(ann, images, EvalTransform(size))
    trained_categories = stored.config.get("data", {}).get("label_to_category")
    if trained_categories and list(trained_categories) != dataset.label_to_category:
        print_warning(f"{ann}: categories {dataset.label_to_category} differ from the trained "
                      f"ones {list(trained_categories)}; only shared ids can score")
    detector = stored.detector().to(resolve_device(device))
    metrics = evaluate(detector, dataset, batch_size=batch_size, workers=workers,
                       progress=not as_json, label_to_category=trained_categories)
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
    else:
        for table in _table(metrics):
            console.print(table)
    return 0
