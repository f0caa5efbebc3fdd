"""``nasfpn data``: check a COCO-format dataset, write the synthetic or digits one, or import\nVOC and YOLO annotations as COCO JSON."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..data.generated_settings import DigitsSettings, SynthSettings
from ..data.exporters import EXPORTERS
from ..data.importers import IMPORTERS
from ..data.importers.voc import DIFFICULT_AS
from ..errors import DatasetError, UsageError
from .settings_options import settings_options


@click.group(name="data")
def command() -> None:
    """Check, synthesise, import or export COCO-format datasets."""


def _progress_bar(description: str, total: int):
    from ..utils import make_progress

    progress = make_progress(status=False, transient=True)
    task = progress.add_task(description, total=total)
    return progress, lambda n: progress.advance(task, n)


def _check_output_folder(out: Path, marker: str, kind: str, overwrite: bool) -> None:
    """Refuse to write a generated dataset into a file, or into a non-empty folder that holds
    no earlier dataset of this ``kind`` (recognised by its ``marker`` summary file)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / marker).is_file() and not overwrite:
        raise UsageError(f"{out}: folder is not empty and holds no {kind} dataset",
                         hint="choose an empty folder or pass --overwrite")


@command.command("check")
@click.argument("ann", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--images", "image_dir", required=True, type=click.Path(path_type=Path),
              help="Folder the images' file_name entries are relative to.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as a JSON object.")
@click.option("--no-images", is_flag=True, help="Check the annotations only, not the files.")
@click.option("--full-decode", is_flag=True,
              help="Decode every image (slow) instead of reading headers and end markers.")
@click.option("--max-examples", type=click.IntRange(min=0), default=5, show_default=True,
              help="Examples shown per kind of problem.")
def check(ann: Path, image_dir: Path, as_json: bool, no_images: bool, full_decode: bool,
          max_examples: int) -> int:
    """Report every problem in annotation file ANN and its images; exit 1 if any."""
    from ..console import console
    from ..data.checks import check_dataset

    options = dict(check_images=not no_images, full_decode=full_decode,
                   max_examples=max_examples)
    if as_json or not console.is_terminal:
        report = check_dataset(ann, image_dir, **options)
    else:
        progress, advance = _progress_bar("checking images", total=None)
        with progress:
            report = check_dataset(ann, image_dir, progress=advance, **options)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        console.print(report.render())
    return 0 if report.ok else 1


def writer_options(settings: type):
    """A dataset writer's options, from ``settings``' declarations, and --overwrite."""

    def decorate(function):
        function = click.option("--overwrite", is_flag=True,
                                help="Write into a non-empty folder (other files there are left "
                                     "alone).")(function)
        return settings_options(settings, defaults=settings(), concrete=True)(function)

    return decorate


@command.command("synth")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@writer_options(SynthSettings)
def synth(out: Path, num_images: int, image_size: int, seed: int, val_fraction: float,
          num_classes: int, max_objects: int, min_object_size: int, overwrite: bool) -> int:
    """Write a synthetic COCO 2017-layout dataset of simple shapes to OUT."""
    from ..console import console
    from ..data.synth import make_synthetic_dataset

    _check_output_folder(out, "synth.json", "synthetic", overwrite)
    progress, advance = _progress_bar("writing images", total=num_images)
    with progress:
        summary = make_synthetic_dataset(out, num_images=num_images, image_size=image_size,
                                         seed=seed, val_fraction=val_fraction,
                                         num_classes=num_classes, max_objects=max_objects,
                                         min_object_size=min_object_size, progress=advance)
    names = ", ".join(f"{c['name']} ({c['id']})" for c in summary["categories"])
    console.print(f"wrote {summary['num_train']} train and {summary['num_val']} val images "
                  f"({summary['num_annotations']} objects; categories {names}) to {out}",
                  markup=False)
    return 0


@command.command("digits")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@writer_options(DigitsSettings)
def digits(out: Path, num_train: int, num_val: int, image_size: int, seed: int,
           max_objects: int, min_object_size: int, max_object_size: int,
           overwrite: bool) -> int:
    """Write a small real COCO 2017-layout set to OUT: scikit-learn's handwritten digits
    (10 classes) on its bundled photographs."""
    from ..console import console
    from ..data.digits import make_digits_dataset

    _check_output_folder(out, "digits.json", "digits", overwrite)
    if not min_object_size <= max_object_size <= image_size // 2:
        raise UsageError(f"--max-object-size: must be between --min-object-size "
                         f"({min_object_size}) and half of --image-size ({image_size // 2}), "
                         f"got {max_object_size}")
    progress, advance = _progress_bar("writing images", total=num_train + num_val)
    with progress:
        summary = make_digits_dataset(out, num_train=num_train, num_val=num_val,
                                      image_size=image_size, seed=seed,
                                      max_objects=max_objects, min_object_size=min_object_size,
                                      max_object_size=max_object_size, progress=advance)
    console.print(f"wrote {summary['num_train']} train and {summary['num_val']} val images "
                  f"({summary['num_annotations']} digits, categories 0-9) to {out}",
                  markup=False)
    return 0


@command.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--from", "source_format", required=True,
              type=click.Choice(sorted(IMPORTERS)),
              help="The format of SOURCE: voc (a VOCdevkit/VOC2007-style folder) or yolo (a "
                   "data.yaml, or a folder with data.yaml or classes.txt).")
@click.option("-o", "--output-dir", "out", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for annotations/instances_<split>.json and import.json.")
@click.option("--difficult", type=click.Choice(sorted(DIFFICULT_AS)), default="crowd",
              show_default=True,
              help="VOC objects marked difficult: crowd (iscrowd 1: left out of training, "
                   "ignored in evaluation), keep (ordinary boxes) or skip.")
@click.option("--skip-bad", is_flag=True,
              help="Exit 0 although bad input was left out (it is listed either way).")
@click.option("--overwrite", is_flag=True,
              help="Write into a non-empty folder that holds no earlier import (other files "
                   "there are left alone).")
def import_(source: Path, source_format: str, out: Path, difficult: str, skip_bad: bool,
            overwrite: bool) -> int:
    """Import the VOC or YOLO dataset SOURCE as COCO JSON, one file per split.

    The images stay where they are: every file_name is relative to one images folder, and the
    `nasfpn train` command printed at the end uses it. Bad input (a malformed file, a box
    outside its image, an unknown class...) is left out and listed with its file and line;
    then the written files go through `data check`. Exit 1 when anything was left out, unless
    --skip-bad.
    """
    from ..console import capped, console, print_warning
    from ..data.checks import check_dataset
    from ..data.importers import ImportOptions, importer
    from ..data.importers.writer import MARKER, annotation_file, train_command, write_import

    _check_output_folder(out, MARKER, "imported", overwrite)
    if source.is_dir() and out.exists() and out.resolve() == source.resolve():
        raise UsageError(f"-o {out}: is the source folder", hint="write the import elsewhere")
    progress, advance = _progress_bar("reading annotations", total=None)
    options = ImportOptions(difficult=difficult, progress=advance,
                            total=lambda n: progress.update(progress.task_ids[0], total=n))
    with progress:
        result = importer(source_format)(source, options)
    result.drop_empty_splits()
    if not result.splits:
        shown, _ = capped([p.render() for p in result.problems], 5)
        raise DatasetError(f"{source}: no usable image found; nothing written"
                           + "".join(f"\n  {line}" for line in shown))
    command = train_command(result, out)
    write_import(result, out, command)
    if result.problems:
        console.print(f"{len(result.problems)} problem(s) in the input; left out:")
        shown, rest = capped(result.problems)
        for problem in shown:
            console.print(f"  {problem.render()} [{problem.kind}]")
        if rest:
            console.print(f"  ... and {rest} more (all listed in {out / MARKER})")
    for note in result.notes:
        console.print(f"note: {note}")
    names = ", ".join(f"{c['name']} ({c['id']})" for c in result.categories)
    console.print(f"categories: {names}")
    clean = True
    for name in result.splits:
        report = check_dataset(annotation_file(out, name), result.image_root)
        console.print(report.render())
        clean = clean and report.ok
    console.print("train with:")
    console.print(f"  {command}")
    if result.problems and skip_bad:
        print_warning(f"--skip-bad: {len(result.problems)} problem(s) in the input, left out")
    return 0 if clean and (skip_bad or not result.problems) else 1


@command.command("export")
@click.argument("ann_files", metavar="ANN...", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--to", "target_format", required=True, type=click.Choice(sorted(EXPORTERS)),
              help="The format to write.")
@click.option("--images", "image_dir", required=True, type=click.Path(path_type=Path),
              help="Folder the images' file_name entries are relative to.")
@click.option("-o", "--output-dir", "out", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for images/<split>/ (hard links or copies), labels/<split>/ and "
                   "data.yaml.")
@click.option("--overwrite", is_flag=True,
              help="Write into a non-empty folder that holds no earlier export.")
def export(ann_files: tuple[Path, ...], target_format: str, image_dir: Path, out: Path,
           overwrite: bool) -> int:
    """Write the COCO splits ANN... (e.g. instances_train.json instances_val.json) in another
    format: YOLO's images/<split>/, labels/<split>/ and data.yaml."""
    from ..console import console
    from ..data.exporters import exporter
    from ..data.exporters.yolo import MARKER

    _check_output_folder(out, MARKER, "exported", overwrite)
    progress, advance = _progress_bar("writing labels", total=None)
    with progress:
        summary = exporter(target_format)(list(ann_files), image_dir, out, progress=advance)
    for name, counts in summary["splits"].items():
        console.print(f"{name}: {counts['images']} images, {counts['boxes']} boxes")
    if summary["crowd_left_out"]:
        console.print(f"note: {summary['crowd_left_out']} crowd boxes left out (YOLO has no "
                      "crowd regions)")
    console.print(f"wrote {out / MARKER} (classes: {', '.join(summary['names'])})")
    return 0
