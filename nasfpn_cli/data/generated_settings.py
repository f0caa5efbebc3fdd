"""The settings of the generated datasets (``nasfpn data synth`` and ``data digits``), each
declared once (:mod:`nasfpn_cli.settings`): the writers take their defaults from here and the
commands' options are generated from them. Light on purpose (no numpy, no PIL)."""
from __future__ import annotations

from dataclasses import dataclass

from ..limits import MAX_IMAGE_SIZE, MAX_SEED
from ..settings import setting

# images of one generated dataset: a million 256 px images are 200 GB of PNG
MAX_GENERATED_IMAGES = 1_000_000


@dataclass(frozen=True)
class WriterSettings:
    """What every dataset writer takes."""

    seed: int = setting(0, section="data", minimum=0, maximum=MAX_SEED,
                        help="The same seed writes byte-identical files.")


@dataclass(frozen=True)
class SynthSettings(WriterSettings):
    """Synthetic shapes on noise (``data synth``)."""

    num_images: int = setting(200, section="data", minimum=1, maximum=MAX_GENERATED_IMAGES,
                              help="Images in both splits together.")
    image_size: int = setting(256, section="data", minimum=32, maximum=MAX_IMAGE_SIZE,
                              help="Width and height of every image, in pixels.")
    val_fraction: float = setting(0.2, section="data", minimum=0.0, maximum=1.0, max_open=True,
                                  help="Share of the images in the val2017 split.")
    num_classes: int = setting(3, section="data", minimum=1, maximum=6,
                               help="Shape categories (COCO ids 1, 3, 7, 12, 18, 25: "
                                    "non-contiguous).")
    max_objects: int = setting(6, section="data", minimum=1, maximum=1000,
                               help="Most objects in one image (about 1 in 10 images has none).")
    min_object_size: int = setting(8, section="data", minimum=4,
                                   help="Smallest object side in pixels; the largest is half "
                                        "the image.")


@dataclass(frozen=True)
class DigitsSettings(WriterSettings):
    """scikit-learn's handwritten digits on its photographs (``data digits``)."""

    num_train: int = setting(600, section="data", minimum=1, maximum=MAX_GENERATED_IMAGES,
                             help="Images in train2017.")
    num_val: int = setting(200, section="data", minimum=0, maximum=MAX_GENERATED_IMAGES,
                           help="Images in val2017 (digits written by other hands than the "
                                "training ones).")
    image_size: int = setting(160, section="data", minimum=64, maximum=MAX_IMAGE_SIZE,
                              help="Width and height of every image, in pixels.")
    max_objects: int = setting(6, section="data", minimum=1, maximum=1000,
                               help="Most digits in one image.")
    min_object_size: int = setting(10, section="data", minimum=6,
                                   help="Smallest digit height in pixels.")
    max_object_size: int = setting(80, section="data", minimum=6,
                                   help="Largest digit height in pixels (at most half the "
                                        "image).")
