"""COCO bbox evaluation: run a detector over a dataset, map detections back to the original
images and category ids, score them with pycocotools' COCOeval.

Under torchrun every rank evaluates its own slice; detections are gathered to rank 0, scored
once, and the metrics broadcast so every rank sees the same numbers.
"""
from __future__ import annotations

import contextlib
import io
from typing import Any, Iterable, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from ..errors import DatasetError
from . import distributed
from .precision import autocast, memory_format
from ..data.image_io import to_original
from ..utils import eval_mode, make_progress

# pycocotools' summary order for bbox evaluation (COCOeval.stats)
STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm",
              "ARl")


def detections_to_coco(output: dict[str, torch.Tensor], target: dict[str, Any],
                       label_to_category: Sequence[int] | dict[int, int]) -> list[dict[str, Any]]:
    """One image's detections as COCO result dicts: boxes divided by the transform's scale,
    clipped to the original image, xyxy -> xywh; contiguous labels -> category ids."""
    if output["boxes"].numel() == 0:
        return []
    original = torch.as_tensor(target["orig_size"]).flatten().tolist()
    boxes = to_original(output["boxes"], target.get("scale", 1.0), original)
    image_id = int(torch.as_tensor(target["image_id"]).item())
    results = []
    for box, score, label in zip(boxes.tolist(), output["scores"].float().cpu().tolist(),
                                 output["labels"].cpu().tolist()):
        x1, y1, x2, y2 = box
        if x2 <= x1 or y2 <= y1:
            continue
        results.append({"image_id": image_id, "category_id": int(label_to_category[int(label)]),
                        "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                        "score": round(float(score), 5)})
    return results


def _results_as_coco(coco_gt, results: list[dict[str, Any]]):
    """A COCO object holding ``results`` (also when empty, where ``COCO.loadRes`` fails)."""
    from pycocotools.coco import COCO

    annotations = []
    for index, result in enumerate(results, start=1):
        _, _, w, h = result["bbox"]
        annotations.append({**result, "id": index, "area": w * h, "iscrowd": 0})
    coco_dt = COCO()
    coco_dt.dataset = {"images": list(coco_gt.dataset.get("images", [])),
                       "categories": list(coco_gt.dataset.get("categories", [])),
                       "annotations": annotations}
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt.createIndex()
    return coco_dt


def coco_bbox_metrics(coco_gt, results: list[dict[str, Any]], image_ids: Iterable[int],
                      category_names: dict[int, str] | None = None) -> dict[str, Any]:
    """COCOeval bbox metrics over ``image_ids``: the 12 summary numbers as fractions (-1 where
    pycocotools has no ground truth for a range) and ``per_class`` AP (None: class absent).
    No results at all gives zeros, not an error."""
    from pycocotools.cocoeval import COCOeval

    image_ids = sorted(set(int(i) for i in image_ids))
    if not image_ids:
        raise DatasetError("no images to evaluate")
    coco_dt = _results_as_coco(coco_gt, results)
    evaluator = COCOeval(coco_gt, coco_dt, iouType="bbox")
    evaluator.params.imgIds = image_ids
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    metrics: dict[str, Any] = {name: float(value) for name, value in zip(STAT_NAMES, evaluator.stats)}
    # precision: [iou thresholds, recall points, classes, area ranges, max dets]; area "all", 100 dets
    precision = evaluator.eval["precision"]
    names = category_names or {}
    per_class: dict[str, float | None] = {}
    for k, category_id in enumerate(evaluator.params.catIds):
        values = precision[:, :, k, 0, -1]
        values = values[values > -1]
        name = names.get(category_id) or coco_gt.cats.get(category_id, {}).get("name", str(category_id))
        per_class[str(name)] = float(values.mean()) if values.size else None
    metrics["per_class"] = per_class
    metrics["num_images"] = len(image_ids)
    metrics["num_detections"] = len(results)
    return metrics


def _identity_collate(batch):
    return batch


@torch.no_grad()
def evaluate(detector: nn.Module, dataset, *, batch_size: int = 4, workers: int = 0,
             device: torch.device | str | None = None, progress: bool = False,
             description: str = "eval",
             label_to_category: Sequence[int] | None = None,
             channels_last: bool | str = False, amp: bool | str = False) -> dict[str, Any]:
    """COCO bbox metrics of ``detector`` on ``dataset`` (a ``CocoDetection`` with an eval
    transform: items are ``(image, target)`` with ``image_id``, ``orig_size`` and ``scale``).
    ``channels_last`` and ``amp``: modes of ``--channels-last`` and ``--amp`` (or bools) for
    the batches' layout and the network's autocast (boxes are decoded in fp32 either way).

    Returns ``AP``, ``AP50``, ``AP75``, ``APs``, ``APm``, ``APl`` (fractions), the recall
    figures, ``per_class`` AP, ``num_images`` and ``num_detections``. Distributed: call on every
    rank; each evaluates ``rank::world_size`` and all get the same metrics back.
    """
    device = torch.device(device) if device is not None else next(detector.parameters()).device
    rank, world = 0, 1
    if distributed.is_initialized():
        rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    indices = list(range(rank, len(dataset), world))
    loader = DataLoader(Subset(dataset, indices), batch_size=batch_size, shuffle=False,
                        num_workers=workers, collate_fn=_identity_collate,
                        persistent_workers=False)
    results: list[dict[str, Any]] = []
    image_ids: list[int] = []
    if label_to_category is None:
        label_to_category = dataset.label_to_category
    show = progress and rank == 0
    with eval_mode(detector), make_progress(enabled=show) as bar:
        task = bar.add_task(description, total=len(indices), status="")
        for batch in loader:
            images = torch.stack([image for image, _ in batch]).to(
                device, non_blocking=True, memory_format=memory_format(channels_last, device))
            with autocast(amp, device):
                outputs = detector(images)
            for output, (_, target) in zip(outputs, batch):
                image_ids.append(int(torch.as_tensor(target["image_id"]).item()))
                results.extend(detections_to_coco(output, target, label_to_category))
            bar.advance(task, len(batch))
    gathered = distributed.all_gather_objects((results, image_ids))
    metrics = None
    if rank == 0:
        all_results = [r for part, _ in gathered for r in part]
        all_ids = [i for _, ids in gathered for i in ids]
        names = getattr(dataset, "category_names", None)
        if isinstance(names, (list, tuple)):
            names = {int(dataset.label_to_category[i]): n for i, n in enumerate(names)}
        metrics = coco_bbox_metrics(dataset.coco, all_results, all_ids, names)
    return distributed.broadcast_object(metrics)
