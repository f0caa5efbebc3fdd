"""Where the data is: ``--data DIR`` (the standard COCO 2017 layout) or explicit paths."""
from __future__ import annotations

from pathlib import Path

from ..errors import DatasetError

COCO_LAYOUT = {
    "train_ann": ("annotations/instances_train2017.json", "--train-ann"),
    "train_images": ("train2017", "--train-images"),
    "val_ann": ("annotations/instances_val2017.json", "--val-ann"),
    "val_images": ("val2017", "--val-images"),
}
_LAYOUT_HINT = ("--data DIR expects DIR/annotations/instances_{train,val}2017.json and "
                "DIR/{train,val}2017/; or give --train-ann/--train-images/--val-ann/--val-images")


def _checked(path: Path, option: str, from_data_dir: bool, want_dir: bool) -> Path:
    source = "under --data" if from_data_dir else f"given by {option}"
    if not path.exists():
        raise DatasetError(f"{path}: not found ({source})",
                           hint=_LAYOUT_HINT if from_data_dir else None)
    if want_dir and not path.is_dir():
        raise DatasetError(f"{path}: is not a folder of images ({source})")
    if not want_dir and not path.is_file():
        raise DatasetError(f"{path}: is not an annotation file ({source})")
    return path


def resolve_data_paths(data_dir: str | Path | None = None, train_ann: str | Path | None = None,
                       train_images: str | Path | None = None, val_ann: str | Path | None = None,
                       val_images: str | Path | None = None
                       ) -> tuple[Path, Path, Path | None, Path | None]:
    """(train_ann, train_images, val_ann, val_images), every path checked to exist.

    With ``data_dir`` all four come from the COCO 2017 layout under it, and an explicit path
    replaces its part. Without it the training pair is required and the validation pair is
    optional (both or neither; None when absent). Raises DatasetError naming the missing
    path or option.
    """
    given = {"train_ann": train_ann, "train_images": train_images, "val_ann": val_ann,
             "val_images": val_images}
    if data_dir is not None:
        root = Path(data_dir)
        if not root.is_dir():
            raise DatasetError(f"{root}: no such data folder (given by --data)",
                               hint=_LAYOUT_HINT)
    elif train_ann is None or train_images is None:
        missing = [option for key, (_, option) in COCO_LAYOUT.items()
                   if key.startswith("train") and given[key] is None]
        raise DatasetError(f"no training data: give {' and '.join(missing)}, or --data DIR "
                           f"with the COCO 2017 layout")
    elif (val_ann is None) != (val_images is None):
        missing = "--val-ann" if val_ann is None else "--val-images"
        present = "--val-images" if val_ann is None else "--val-ann"
        raise DatasetError(f"{present} needs {missing} too")
    resolved: dict[str, Path | None] = {}
    for key, (relative, option) in COCO_LAYOUT.items():
        value = given[key]
        if value is None and data_dir is None:
            resolved[key] = None
            continue
        path = Path(value) if value is not None else Path(data_dir) / relative
        resolved[key] = _checked(path, option, value is None, key.endswith("images"))
    return (resolved["train_ann"], resolved["train_images"],  # type: ignore[return-value]
            resolved["val_ann"], resolved["val_images"])
