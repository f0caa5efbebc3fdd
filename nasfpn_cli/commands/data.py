"""``nasfpn data``: check a COCO-format dataset, write the synthetic or digits one, or import\nVOC and YOLO annotations as COCO JSON."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..data.command_settings import CheckSettings, ExportSettings, ImportSettings
from ..data.generated_settings import DigitsSettings, SynthSettings
from ..errors import DatasetError, UsageError
from .settings_options import option_fields, settings_options


@click.group(name="data")
def command() -> None:
    """Check, synthesise, import or export COCO-format datasets."""


def _progress_bar(description: str, total: int):
    from ..utils import make_progress

    progress = make_progress(status=False, transient=True)
    task = progress.add_task(description, total=total)
    return progress, lambda n: progress.advance(task, n)


def _settings(cls: type, options: dict):
    """The settings object of a command's generated options (parameter names mapped back)."""
    fields = option_fields(cls)
    return cls(**{fields[name]: value for name, value in options.items()})


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
@settings_options(CheckSettings, defaults=CheckSettings(), concrete=True)
def check(ann: Path, **options) -> int:
    """Report every problem in annotation file ANN and its images; exit 1 if any."""
    from ..console import console
    from ..data.checks import check_dataset

    settings = _settings(CheckSettings, options)
    image_dir = Path(settings.image_dir)
    checking = dict(check_images=not settings.no_images, full_decode=settings.full_decode,
                    max_examples=settings.max_examples)
    if settings.as_json or not console.is_terminal:
        report = check_dataset(ann, image_dir, **checking)
    else:
        progress, advance = _progress_bar("checking images", total=None)
        with progress:
            report = check_dataset(ann, image_dir, progress=advance, **checking)
    if settings.as_json:
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
@settings_options(ImportSettings, defaults=ImportSettings(), concrete=True)
def import_(source: Path, **options) -> int:
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

    settings = _settings(ImportSettings, options)
    out, skip_bad = Path(settings.output_dir), settings.skip_bad
    _check_output_folder(out, MARKER, "imported", settings.overwrite)
    if source.is_dir() and out.exists() and out.resolve() == source.resolve():
        raise UsageError(f"-o {out}: is the source folder", hint="write the import elsewhere")
    progress, advance = _progress_bar("reading annotations", total=None)
    reading = ImportOptions(difficult=settings.difficult, progress=advance,
                            total=lambda n: progress.update(progress.task_ids[0], total=n))
    with progress:
        result = importer(settings.source_format)(source, reading)
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
@settings_options(ExportSettings, defaults=ExportSettings(), concrete=True)
def export(ann_files: tuple[Path, ...], **options) -> int:
    """Write the COCO splits ANN... (e.g. instances_train.json instances_val.json) in another
    format: YOLO's images/<split>/, labels/<split>/ and data.yaml.

    OUT must be empty, new, or an earlier export (its export.json lists what it wrote): a
    re-export replaces the splits it writes again, and keeps the others in data.yaml, so splits
    with images in different folders (COCO 2017) can be exported one call at a time. Anything
    else needs --overwrite.
    """
    from ..console import console
    from ..data.exporters import exporter
    from ..data.exporters.yolo import MARKER

    settings = _settings(ExportSettings, options)
    out = Path(settings.output_dir)
    progress, advance = _progress_bar("writing labels", total=None)
    with progress:
        summary = exporter(settings.target_format)(list(ann_files), Path(settings.image_dir),
                                                    out, progress=advance,
                                                    overwrite=settings.overwrite)
    for name, counts in summary["splits"].items():
        console.print(f"{name}: {counts['images']} images, {counts['boxes']} boxes")
    if summary["kept"]:
        console.print(f"kept the earlier export's {', '.join(summary['kept'])} in data.yaml")
    if summary["crowd_left_out"]:
        console.print(f"note: {summary['crowd_left_out']} crowd boxes left out (YOLO has no "
                      "crowd regions)")
    console.print(f"wrote {out / MARKER} (classes: {', '.join(summary['names'])})")
    return 0
