"""Batching detection samples: ``collate`` and a seeded, epoch-aware DataLoader.

Shuffling and augmentation are functions of (seed, epoch): ``loader.set_epoch(e)`` before
iterating reproduces epoch ``e`` exactly (for ``--resume``), and iterating again without it
moves on to the next epoch. Workers run one torch thread each so they do not fight the
training step for cores.
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler


def collate(batch: Sequence[tuple[torch.Tensor, dict]]) -> tuple[torch.Tensor, list[dict]]:
    """Stack images into Tensor[B, 3, H, W] (zero-padding at the bottom/right when sizes
    differ, zero being the normalised mean) and keep the targets as a list."""
    images = [image for image, _ in batch]
    targets = [target for _, target in batch]
    height = max(image.shape[-2] for image in images)
    width = max(image.shape[-1] for image in images)
    padded = [image if image.shape[-2:] == (height, width) else
              F.pad(image, (0, width - image.shape[-1], 0, height - image.shape[-2]))
              for image in images]
    return torch.stack(padded), targets


def _epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, 0x5EED]).generate_state(1, np.uint32)[0])


class EpochSampler(Sampler[int]):
    """All indices once, shuffled by a permutation that depends only on (seed, epoch)."""

    def __init__(self, size: int, shuffle: bool, seed: int):
        self.size, self.shuffle, self.seed, self.epoch = size, shuffle, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.size))
        generator = torch.Generator().manual_seed(_epoch_seed(self.seed, self.epoch))
        return iter(torch.randperm(self.size, generator=generator).tolist())

    def __len__(self) -> int:
        return self.size


def seed_worker(worker_id: int) -> None:
    """DataLoader worker init: one torch thread; numpy and random seeded from torch's seed
    (which the DataLoader derives from the loader's generator and the worker id)."""
    torch.set_num_threads(1)
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


class DetectionDataLoader(DataLoader):
    """A DataLoader whose order, augmentation and worker seeds follow (seed, epoch)."""

    def __init__(self, dataset: Dataset, *, seed: int, **kwargs):
        super().__init__(dataset, **kwargs)
        self.seed = int(seed)
        self.epoch = -1
        self._epoch_pending = False

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch``: sampler order, dataset augmentation stream
        and worker seeds."""
        self.epoch = int(epoch)
        self._epoch_pending = True
        for part in (self.sampler, self.dataset):
            if hasattr(part, "set_epoch"):
                part.set_epoch(self.epoch)
        if self.generator is not None:
            self.generator.manual_seed(_epoch_seed(self.seed, self.epoch) + 1)

    def __iter__(self):
        if not self._epoch_pending:
            self.set_epoch(self.epoch + 1)
        self._epoch_pending = False
        return super().__iter__()


def endless_batches(loader: DetectionDataLoader):
    """The loader's batches forever, epoch after epoch, each epoch seeded as training seeds it
    (benchmarks that time a number of steps rather than epochs)."""
    epoch = 0
    while True:
        loader.set_epoch(epoch)
        yield from loader
        epoch += 1


def build_dataloader(dataset: Dataset, batch_size: int, shuffle: bool, workers: int = 0,
                     seed: int = 0, distributed: bool = False, drop_last: bool | None = None,
                     pin_memory: bool = False) -> DetectionDataLoader:
    """A DataLoader for detection: ``collate`` batches, shuffling by (seed, epoch), a
    DistributedSampler when ``distributed`` (torch.distributed must be initialised), worker
    seeding. ``drop_last`` defaults to ``shuffle`` (drop a ragged last batch in training).

    A dataset with a ``seed`` attribute that is None (CocoDetection) gets ``seed``, so its
    augmentation is reproducible too.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    if drop_last is None:
        drop_last = shuffle
    if getattr(dataset, "seed", 0) is None:
        dataset.seed = seed
    if distributed:
        sampler: Sampler[int] = DistributedSampler(dataset, shuffle=shuffle, seed=seed,
                                                   drop_last=drop_last)
    else:
        sampler = EpochSampler(len(dataset), shuffle, seed)
    return DetectionDataLoader(
        dataset, seed=seed, batch_size=batch_size, sampler=sampler, num_workers=workers,
        collate_fn=collate, drop_last=drop_last, pin_memory=pin_memory,
        worker_init_fn=seed_worker if workers > 0 else None,
        generator=torch.Generator().manual_seed(seed))
