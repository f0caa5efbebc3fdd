"""The settings of ``nasfpn data check``, ``data import`` and ``data export``, each declared
once (:mod:`nasfpn_cli.settings`); the commands' options are generated from them. Light on
purpose: ``--help`` imports this without reading any data."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..settings import setting
from .exporters import EXPORTERS
from .importers import IMPORTERS
from .importers.voc import DIFFICULT_AS


def _images_folder() -> Any:
    return setting(None, section="data", flag="images", path="any", required=True,
                   help="Folder the images' file_name entries are relative to.")


def _output_folder(help_text: str) -> Any:
    return setting(None, section="data", short="-o", path="folder", required=True,
                   help=help_text)


@dataclass(frozen=True)
class CheckSettings:
    """``data check ANN``: what is checked and how the report is shown."""

    image_dir: str | None = _images_folder()
    as_json: bool = setting(False, section="data", flag="json",
                            help="Print the report as a JSON object.")
    no_images: bool = setting(False, section="data",
                              help="Check the annotations only, not the files.")
    full_decode: bool = setting(False, section="data",
                                help="Decode every image (slow) instead of reading headers and "
                                     "end markers.")
    max_examples: int = setting(5, section="data", minimum=0,
                                help="Examples shown per kind of problem.")


@dataclass(frozen=True)
class ImportSettings:
    """``data import SOURCE``: the source format, where the COCO files go, and what to do
    with difficult objects and bad input."""

    source_format: str | None = setting(
        None, section="data", flag="from", required=True, choices=lambda: tuple(IMPORTERS),
        help="The format of SOURCE: voc (a VOCdevkit/VOC2007-style folder) or yolo (a "
             "data.yaml, or a folder with data.yaml or classes.txt).")
    output_dir: str | None = _output_folder(
        "Folder for annotations/instances_<split>.json and import.json.")
    difficult: str = setting("crowd", section="data", choices=tuple(DIFFICULT_AS),
                             help="VOC objects marked difficult: crowd (iscrowd 1: left out of "
                                  "training, ignored in evaluation), keep (ordinary boxes) or "
                                  "skip.")
    skip_bad: bool = setting(False, section="data",
                             help="Exit 0 although bad input was left out (it is listed either "
                                  "way).")
    overwrite: bool = setting(False, section="data",
                              help="Write into a non-empty folder that holds no earlier import "
                                   "(other files there are left alone).")


@dataclass(frozen=True)
class ExportSettings:
    """``data export ANN...``: the target format, the images and where the files go."""

    target_format: str | None = setting(None, section="data", flag="to", required=True,
                                        choices=lambda: tuple(EXPORTERS),
                                        help="The format to write.")
    image_dir: str | None = _images_folder()
    output_dir: str | None = _output_folder(
        "Folder for images/<split>/ (hard links or copies), labels/<split>/ and data.yaml.")
    overwrite: bool = setting(False, section="data",
                              help="Write into a non-empty folder that holds no earlier export "
                                   "(replacing files there that are in the way).")
