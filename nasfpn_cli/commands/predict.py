"""``nasfpn predict``: run a checkpoint on image files; JSON detections and drawings."""
from __future__ import annotations

from pathlib import Path

import click

from .inference_settings import (inference_options, numerics_options, pop_numerics,
                                 prepare_numerics)
from .model_options import model_options
from .params import OutputDir


@click.command(name="predict")
@click.argument("checkpoint", type=click.Path(path_type=str))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("-o", "--output-dir", type=OutputDir(),
              required=True, help="Folder for detections.json and one PNG per image.")
@inference_options("score_threshold", "image_size", "device", score_threshold=0.3)
@model_options("exit_at")
@numerics_options
def command(checkpoint: str, inputs: tuple[str, ...], output_dir: Path, score_threshold: float,
            image_size: int | None, device: str, exit_at: int | None, **numerics) -> int:
    """Detect objects in INPUTS (image files or folders of images) with CHECKPOINT.

    Writes OUTPUT_DIR/detections.json (boxes in each image's own pixels, xyxy) and
    OUTPUT_DIR/<image>.png with the boxes and labels drawn.
    """
    from ..console import console, print_error
    from ..engine.checkpoint import Checkpoint
    from ..engine.prediction import (LabelInfo, PredictionRun, find_images, predict_files,
                                     refuse_overwriting_inputs)
    from ..engine.distributed import resolve_device
    from ..utils import atomic_write_json

    amp, channels_last = pop_numerics(numerics)
    output_dir = Path(output_dir)
    paths = find_images(inputs)
    refuse_overwriting_inputs(paths, output_dir)
    stored = Checkpoint.read(checkpoint)
    detector = prepare_numerics(stored.detector(), amp, channels_last, resolve_device(device))
    if exit_at is not None:
        from ..engine.anytime import set_exit

        set_exit(detector, exit_at, checkpoint)
    labels = LabelInfo(stored.label_to_category, stored.category_names)
    size = image_size or stored.image_size or 640
    run, complete = PredictionRun([], []), False
    try:
        predict_files(detector, paths, output_dir, image_size=size, labels=labels,
                      score_threshold=score_threshold, run=run, amp=amp)
        complete = True
    finally:  # even when interrupted: detections.json lists exactly the drawings written
        atomic_write_json(output_dir / "detections.json", {
            "checkpoint": checkpoint, "score_threshold": score_threshold, "image_size": size,
            "exit_at": detector.exit_at, "complete": complete, "images": run.records,
            "skipped": run.skipped})
    records = run.records
    total = sum(len(r["detections"]) for r in records)
    console.print(f"{total} detections in {len(records)} images: "
                  f"{output_dir / 'detections.json'} and {len(records)} drawings in {output_dir}",
                  markup=False)
    if run.skipped:
        print_error(f"{len(run.skipped)} of {len(paths)} images could not be read (listed "
                    f"above and under \"skipped\" in {output_dir / 'detections.json'})")
        return 1
    return 0
