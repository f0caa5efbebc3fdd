"""Advice ``nasfpn train`` prints once at the start of a run, for settings that train but train
badly. Pure decisions on numbers, so tests check them without training; the search's proxy
trials never ask for them (hundreds of short runs would repeat them)."""
from __future__ import annotations

# a backbone this large learns little from this few images when it starts from random weights
# (He et al. 2019, "Rethinking ImageNet Pre-training": from scratch matched pre-training on 10k
# COCO images only with long schedules, and overfitted on 1k), so detectors fine-tune ImageNet
# weights. ResNet-34
# (21.3M without its classifier), ResNet-50 (23.5M) and ResNet-101 (42.5M) are above the line,
# ResNet-18 (11.2M) and MobileNetV2 (2.2M) below.
LARGE_BACKBONE_PARAMS = 20_000_000
SMALL_DATASET_IMAGES = 10_000
# a warmup longer than this share of the run leaves little of it at the peak lr
MAX_WARMUP_SHARE = 0.5


def from_scratch_warning(backbone: str, backbone_params: int, backbone_weights: str | None,
                         train_images: int) -> str | None:
    """The warning for a large backbone trained from random weights on a small dataset, or
    None when the run is fine as it is."""
    if (backbone_weights is not None or backbone_params < LARGE_BACKBONE_PARAMS
            or train_images >= SMALL_DATASET_IMAGES):
        return None
    return (f"{backbone} ({backbone_params / 1e6:.1f}M parameters) trains from random weights on "
            f"{train_images} images: a backbone this large needs far more data from scratch; "
            "start it from ImageNet weights with --backbone-weights imagenet, or use "
            "--recipe finetune (docs/training.md)")


def warmup_warning(warmup: int, total_steps: int) -> str | None:
    """The warning for a warmup that covers most of the run (e.g. ``--recipe finetune``'s 1000
    steps on a small dataset), or None."""
    if total_steps <= 0 or warmup <= MAX_WARMUP_SHARE * total_steps:
        return None
    return (f"the warmup of {warmup} steps covers {min(warmup, total_steps) / total_steps:.0%} of "
            f"the run's {total_steps} steps, so the lr barely reaches --lr; try --warmup "
            f"{max(1, total_steps // 10)} (a tenth of the run)")
