"""CocoDetection and its loader: contiguous labels, crowd, empty images, seeding, COCOeval."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nasfpn_cli.data.coco import CocoDetection
from nasfpn_cli.data.loader import build_dataloader, collate
from nasfpn_cli.data.transforms import EvalTransform, TrainTransform
from nasfpn_cli.errors import DatasetError

# (file, width, height, [(category_id, [x, y, w, h], iscrowd)])
IMAGES = [
    ("a.png", 80, 60, [(90, [10, 5, 30, 20], 0), (2, [50, 30, 20, 25], 0)]),
    ("b.png", 100, 100, []),  # no objects
    ("c.png", 64, 48, [(5, [4, 4, 40, 30], 0), (90, [0, 0, 64, 48], 1)]),  # one crowd box
]
CATEGORIES = [{"id": 90, "name": "zebra"}, {"id": 5, "name": "bus"}, {"id": 2, "name": "bicycle"}]


def write_dataset(root: Path, images=IMAGES) -> tuple[Path, Path]:
    image_dir = root / "images"
    image_dir.mkdir(parents=True)
    records, annotations = [], []
    for image_id, (name, width, height, objects) in enumerate(images, start=10):
        pixels = np.full((height, width, 3), 100, np.uint8)
        for _, (x, y, w, h), crowd in objects:
            if not crowd:
                pixels[y:y + h, x:x + w] = (200, 30, 30)
        Image.fromarray(pixels).save(image_dir / name)
        records.append({"id": image_id, "file_name": name, "width": width, "height": height})
        for category, bbox, crowd in objects:
            ann = {"id": len(annotations) + 1, "image_id": image_id, "category_id": category,
                   "bbox": bbox}
            if crowd:  # the others leave iscrowd and area out, as many exporters do
                ann.update(iscrowd=1, area=float(bbox[2] * bbox[3]))
            annotations.append(ann)
    ann_file = root / "instances.json"
    ann_file.write_text(json.dumps({"images": records, "annotations": annotations,
                                    "categories": CATEGORIES}))
    return ann_file, image_dir


@pytest.fixture
def coco_files(tmp_path) -> tuple[Path, Path]:
    return write_dataset(tmp_path)


def test_labels_are_contiguous_in_category_id_order(coco_files):
    dataset = CocoDetection(*coco_files)
    assert len(dataset) == 3 and dataset.num_classes == 3
    assert dataset.label_to_category == [2, 5, 90]
    assert dataset.category_names == ["bicycle", "bus", "zebra"]
    assert dataset.image_ids == [10, 11, 12]
    assert sorted(dataset.coco.getCatIds()) == [2, 5, 90]


def test_items_without_transform(coco_files):
    dataset = CocoDetection(*coco_files)
    image, target = dataset[0]
    assert image.shape == (3, 60, 80) and image.dtype == torch.float32
    assert torch.equal(target["boxes"], torch.tensor([[10., 5., 40., 25.], [50., 30., 70., 55.]]))
    assert target["labels"].tolist() == [2, 0] and target["labels"].dtype == torch.int64
    assert target["image_id"] == 10 and target["orig_size"] == (60, 80)
    assert target["scale"] == 1.0 and target["iscrowd"].tolist() == [False, False]
    # the red rectangle of the first box, normalised
    red = (200 / 255 - 0.485) / 0.229
    assert abs(float(image[0, 5:25, 10:40].mean()) - red) < 1e-5


def test_empty_images_are_kept_with_empty_targets(coco_files):
    _, target = CocoDetection(*coco_files, TrainTransform(64), seed=0)[1]
    assert target["boxes"].shape == (0, 4) and target["labels"].shape == (0,)
    assert target["image_id"] == 11


def test_crowd_boxes_dropped_by_default_or_flagged(coco_files):
    _, target = CocoDetection(*coco_files)[2]
    assert target["labels"].tolist() == [1]
    _, target = CocoDetection(*coco_files, skip_crowd=False)[2]
    assert target["labels"].tolist() == [1, 2] and target["iscrowd"].tolist() == [False, True]


def test_eval_transform_scale_maps_boxes_back(coco_files):
    _, target = CocoDetection(*coco_files, EvalTransform(160))[0]
    assert target["scale"] == 2.0 and target["orig_size"] == (60, 80)
    assert torch.equal(target["boxes"] / target["scale"],
                       torch.tensor([[10., 5., 40., 25.], [50., 30., 70., 55.]]))


def test_annotations_dict_replaces_the_file(coco_files):
    data = json.loads(coco_files[0].read_text())
    data["images"] = data["images"][:1]
    dataset = CocoDetection(Path("unused.json"), coco_files[1], annotations=data)
    assert dataset.image_ids == [10]


def test_ground_truth_as_predictions_scores_ap_one(coco_files):
    """The COCO object works with COCOeval (iscrowd/area defaults filled in)."""
    from pycocotools.cocoeval import COCOeval

    dataset = CocoDetection(*coco_files)
    results = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
                "score": 1.0} for a in dataset.coco.dataset["annotations"] if not a["iscrowd"]]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(dataset.coco, dataset.coco.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert evaluator.stats[0] == pytest.approx(1.0)


def test_missing_image_file_and_malformed_annotations(coco_files, tmp_path):
    ann_file, image_dir = coco_files
    (image_dir / "b.png").unlink()
    with pytest.raises(DatasetError, match="b.png: image file not found"):
        CocoDetection(ann_file, image_dir)[1]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"images": [{"id": 1}], "annotations": [], "categories": []}))
    with pytest.raises(DatasetError, match="malformed"):
        CocoDetection(bad, image_dir)
    bad.write_text('{"images": [')
    with pytest.raises(DatasetError, match="truncated JSON"):
        CocoDetection(bad, image_dir)


def test_collate_pads_different_sizes():
    images, targets = collate([(torch.ones(3, 4, 5), {"a": 1}), (torch.ones(3, 6, 2), {"a": 2})])
    assert images.shape == (2, 3, 6, 5) and [t["a"] for t in targets] == [1, 2]
    assert images[0, :, 4:].abs().sum() == 0 and images[1, :, :, 2:].abs().sum() == 0


def _epoch(loader) -> tuple[list[int], torch.Tensor]:
    ids, pixels = [], []
    for images, targets in loader:
        ids += [t["image_id"] for t in targets]
        pixels.append(images)
    return ids, torch.cat(pixels)


def test_loader_is_reproducible_per_epoch_and_independent_of_workers(tmp_path):
    images = [(f"{i}.png", 60 + 7 * i, 50, [(5, [5, 5, 20, 20], 0)]) for i in range(6)]
    dataset = CocoDetection(*write_dataset(tmp_path, images), TrainTransform(64))
    loader = build_dataloader(dataset, batch_size=2, shuffle=True, workers=0, seed=7)
    first_ids, first = _epoch(loader)
    second_ids, second = _epoch(loader)  # the next epoch: new order and augmentation
    assert sorted(first_ids) == sorted(second_ids) == list(range(10, 16))
    assert first_ids != second_ids or not torch.equal(first, second)
    loader.set_epoch(0)
    assert _epoch(loader)[0] == first_ids
    with_workers = build_dataloader(dataset, batch_size=2, shuffle=True, workers=2, seed=7)
    ids, pixels = _epoch(with_workers)
    assert ids == first_ids and torch.equal(pixels, first)


def test_loader_drops_the_ragged_batch_only_when_shuffling(coco_files):
    dataset = CocoDetection(*coco_files, EvalTransform(64))
    assert len(build_dataloader(dataset, 2, shuffle=True, workers=0, seed=0)) == 1
    loader = build_dataloader(dataset, 2, shuffle=False, workers=0, seed=0)
    assert len(loader) == 2 and _epoch(loader)[0] == [10, 11, 12]
