"""COCO evaluation: mapping back to original pixels and category ids, COCOeval figures,
no predictions giving zeros."""
from __future__ import annotations

import contextlib
import io

import pytest
import torch
from pycocotools.coco import COCO

from nasfpn_cli.engine.evaluation import coco_bbox_metrics, detections_to_coco, evaluate

CATEGORIES = [{"id": 3, "name": "square"}, {"id": 7, "name": "circle"}]
# image id -> [(category id, x, y, w, h)] in original pixels (100 x 80 images)
OBJECTS = {1: [(3, 10, 10, 30, 20), (7, 50, 40, 40, 30)], 2: [(7, 5, 5, 60, 60)], 3: []}


def make_coco() -> COCO:
    annotations = []
    for image_id, objects in OBJECTS.items():
        for category_id, x, y, w, h in objects:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": category_id, "bbox": [x, y, w, h],
                                "area": w * h, "iscrowd": 0})
    coco = COCO()
    coco.dataset = {"images": [{"id": i, "width": 100, "height": 80, "file_name": f"{i}.png"}
                               for i in OBJECTS],
                    "categories": CATEGORIES, "annotations": annotations}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


class ScaledDataset:
    """Like CocoDetection with an eval transform that scales images by 2 (no pixels needed)."""

    label_to_category = [3, 7]
    category_names = ["square", "circle"]
    scale = 2.0

    def __init__(self):
        self.coco = make_coco()
        self.ids = sorted(OBJECTS)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        image_id = self.ids[index]
        objects = OBJECTS[image_id]
        boxes = torch.tensor([[x, y, x + w, y + h] for _, x, y, w, h in objects],
                             dtype=torch.float32).reshape(-1, 4) * self.scale
        labels = torch.tensor([self.label_to_category.index(c) for c, *_ in objects],
                              dtype=torch.long)
        target = {"boxes": boxes, "labels": labels, "image_id": image_id,
                  "orig_size": (80, 100), "scale": self.scale}
        # the image carries its index so the oracle below can look its answer up
        return torch.full((3, 4, 4), float(index)), target


class Oracle(torch.nn.Module):
    """Answers every image with its ground truth (in transformed pixels), or nothing."""

    def __init__(self, dataset, silent=False):
        super().__init__()
        self.dataset, self.silent = dataset, silent
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, images):
        outputs = []
        for image in images:
            _, target = self.dataset[int(image[0, 0, 0])]
            keep = slice(0, 0) if self.silent else slice(None)
            outputs.append({"boxes": target["boxes"][keep],
                            "scores": torch.full((len(target["labels"]),), 0.9)[keep],
                            "labels": target["labels"][keep]})
        return outputs


def test_detections_map_back_to_original_pixels_and_category_ids():
    output = {"boxes": torch.tensor([[20.0, 20.0, 80.0, 60.0], [150.0, 100.0, 260.0, 200.0],
                                     [10.0, 10.0, 10.0, 30.0]]),
              "scores": torch.tensor([0.9, 0.5, 0.4]), "labels": torch.tensor([0, 1, 0])}
    target = {"image_id": 1, "orig_size": (80, 100), "scale": 2.0}
    results = detections_to_coco(output, target, [3, 7])
    assert results == [
        {"image_id": 1, "category_id": 3, "bbox": [10.0, 10.0, 30.0, 20.0], "score": 0.9},
        # clipped to the 100 x 80 original image; the empty box is dropped
        {"image_id": 1, "category_id": 7, "bbox": [75.0, 50.0, 25.0, 30.0], "score": 0.5},
    ]


def test_perfect_and_empty_predictions():
    coco = make_coco()
    perfect = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
                "score": 1.0} for a in coco.dataset["annotations"]]
    metrics = coco_bbox_metrics(coco, perfect, OBJECTS)
    assert metrics["AP"] == pytest.approx(1.0) and metrics["AP50"] == pytest.approx(1.0)
    assert metrics["per_class"] == {"square": pytest.approx(1.0), "circle": pytest.approx(1.0)}
    assert metrics["num_images"] == 3 and metrics["num_detections"] == 3
    empty = coco_bbox_metrics(coco, [], OBJECTS)
    assert [empty[k] for k in ("AP", "AP50", "AP75", "APs", "APm")] == [0.0] * 5
    assert empty["APl"] == -1.0  # no large objects at all: pycocotools says -1
    assert empty["per_class"] == {"square": 0.0, "circle": 0.0}
    assert empty["num_detections"] == 0


def test_evaluate_runs_a_detector_over_a_dataset():
    dataset = ScaledDataset()
    metrics = evaluate(Oracle(dataset), dataset, batch_size=2)
    assert metrics["AP"] == pytest.approx(1.0)
    assert metrics["num_images"] == 3 and metrics["num_detections"] == 3
    silent = evaluate(Oracle(dataset, silent=True), dataset, batch_size=2)
    assert silent["AP"] == 0.0 and silent["num_detections"] == 0
