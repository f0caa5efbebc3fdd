"""The tiny dataset and model of the robustness tests (a module of its own: conftest modules
of different folders clash on import)."""
from __future__ import annotations

# a dataset and model small enough to train in seconds on one core
TINY_DATA = dict(num_images=20, image_size=64, seed=0, val_fraction=0.2, num_classes=2,
                 max_objects=2)
TINY_TRAIN = dict(genotype="fpn", backbone="resnet10", stack=1, channels=16, image_size=64,
                  batch_size=8, lr=0.01, warmup=2, workers=0, log_every=100)
