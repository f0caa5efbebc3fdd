"""Running a trained detector on image files: detections in original pixels, and drawings.

Preprocessing is the evaluation transform the model was validated with (longer side to the
training size, padded square), so predictions match what ``nasfpn eval`` measured.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from ..errors import DatasetError, UsageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# distinguishable box colours, cycled by class
PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128))


@dataclass(frozen=True)
class LabelInfo:
    """How contiguous labels map to the dataset's category ids and names."""

    label_to_category: Sequence[int]
    category_names: Sequence[str]

    def name(self, label: int) -> str:
        return self.category_names[label] if label < len(self.category_names) else str(label)


def find_images(inputs: Iterable[str | Path]) -> list[Path]:
    """Image files named directly or found (sorted, not recursively) in named folders."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir()
                                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such image file or folder")
    if not found:
        raise UsageError("no images found in " + ", ".join(str(i) for i in inputs),
                         hint="suffixes looked for: " + " ".join(IMAGE_SUFFIXES))
    return found


def _open_rgb(path: Path) -> Image.Image:
    import warnings

    from ..console import print_warning

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                converted = image.convert("RGB")
        for warning in caught:  # e.g. a very large image: say which file it is
            print_warning(f"{path}: {warning.message}")
        return converted
    except (OSError, ValueError, SyntaxError, MemoryError, Image.DecompressionBombError) as exc:
        # PIL raises SyntaxError for some corrupt headers and MemoryError for absurd sizes
        raise DatasetError(f"{path}: cannot read image: {exc or type(exc).__name__}") from None


@torch.no_grad()
def predict_image(detector: nn.Module, image: Image.Image, image_size: int, labels: LabelInfo,
                  score_threshold: float = 0.3, amp: str | bool = False) -> list[dict[str, Any]]:
    """Detections of one RGB image in its own pixels: ``box`` [x1, y1, x2, y2], ``score``,
    ``label``, ``category_id``, ``category``; best first. ``amp``: a mode of ``--amp`` (the
    network under autocast; boxes decoded in fp32)."""
    from ..data.image_io import ImageIO
    from .precision import autocast

    detector.eval()
    with autocast(amp, next(detector.parameters()).device):
        output = ImageIO(image_size).detect(detector, image)
    boxes = output["boxes"]
    detections = []
    for box, score, label in zip(boxes.tolist(), output["scores"].float().cpu().tolist(),
                                 output["labels"].cpu().tolist()):
        if score < score_threshold:
            continue
        detections.append({"box": [round(v, 2) for v in box], "score": round(score, 4),
                           "label": int(label),
                           "category_id": int(labels.label_to_category[label]),
                           "category": labels.name(label)})
    detections.sort(key=lambda d: -d["score"])
    return detections


def draw_detections(image: Image.Image, detections: Sequence[dict[str, Any]]) -> Image.Image:
    """A copy of ``image`` with each detection's box and "category score" label drawn."""
    canvas = image.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    width = max(1, round(max(canvas.size) / 300))
    for detection in sorted(detections, key=lambda d: d["score"]):
        colour = PALETTE[detection["label"] % len(PALETTE)]
        x1, y1, x2, y2 = detection["box"]
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        text = f"{detection['category']} {detection['score']:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        text_y = y1 - (bottom - top) - 2 if y1 - (bottom - top) - 2 >= 0 else y1
        draw.rectangle((x1, text_y, x1 + right - left + 4, text_y + bottom - top + 2), fill=colour)
        draw.text((x1 + 2, text_y - top + 1), text, fill=(255, 255, 255), font=font)
    return canvas


def unique_stems(paths: Sequence[Path]) -> list[str]:
    """Output names per input image; repeated stems (a.png in two folders) get -2, -3..."""
    from ..utils import unique_names

    return unique_names((path.stem for path in paths), separator="-")


@dataclass
class PredictionRun:
    """What :func:`predict_files` did: one record per image written (``file``, ``drawing``,
    ``width``, ``height``, ``detections``) and one per image skipped (``file``, ``error``)."""

    records: list[dict[str, Any]]
    skipped: list[dict[str, str]]


def drawing_paths(paths: Sequence[Path], out_dir: Path) -> list[Path]:
    """Where the drawing of each image goes: ``OUT/<unique stem>.png``."""
    return [out_dir / f"{name}.png" for name in unique_stems(paths)]


def refuse_overwriting_inputs(paths: Sequence[Path], out_dir: Path) -> None:
    """A UsageError before any work when a drawing would replace one of the input images
    (``predict imgs/ -o imgs/`` with PNG inputs)."""
    from ..utils import same_file

    for image, drawing in zip(paths, drawing_paths(paths, out_dir)):
        if same_file(drawing, image):
            raise UsageError(f"{image}: its drawing would overwrite it in {out_dir}",
                             hint="choose another --output-dir")


def predict_files(detector: nn.Module, paths: Sequence[Path], out_dir: Path, *, image_size: int,
                  labels: LabelInfo, score_threshold: float = 0.3,
                  progress: bool = True, run: PredictionRun | None = None,
                  amp: str | bool = False) -> PredictionRun:
    """Predict every image and write ``OUT/<name>.png`` drawings. An image that cannot be read
    is skipped with a warning (one per file), so one bad file never costs the good ones.
    Records go into ``run`` as they are made, so a caller still has them after an interrupt."""
    from ..console import print_warning
    from ..utils import atomic_write, make_progress

    import io

    out_dir.mkdir(parents=True, exist_ok=True)
    run = run if run is not None else PredictionRun([], [])
    with make_progress(enabled=progress) as bar:
        task = bar.add_task("predict", total=len(paths), status="")
        for path, drawing in zip(paths, drawing_paths(paths, out_dir)):
            bar.advance(task)
            try:
                image = _open_rgb(path)
            except DatasetError as exc:
                print_warning(f"skipped: {exc}")
                run.skipped.append({"file": str(path), "error": str(exc)})
                continue
            detections = predict_image(detector, image, image_size, labels, score_threshold,
                                       amp)
            buffer = io.BytesIO()
            draw_detections(image, detections).save(buffer, format="PNG")
            atomic_write(drawing, buffer.getvalue())
            run.records.append({"file": str(path), "drawing": str(drawing), "width": image.width,
                                "height": image.height, "detections": detections})
    return run
