"""Short "epochs" over a big training set, so the runner's one-point-per-epoch history has enough points.

Each epoch draws a fresh random subset of `size` examples (without replacement within the epoch); fairseq
seeds ordered_indices with seed + epoch, so runs stay reproducible and resumable.
"""

from __future__ import annotations

import numpy as np
from fairseq.data import BaseWrapperDataset


class EpochSubsetDataset(BaseWrapperDataset):
    def __init__(self, dataset, size: int):
        super().__init__(dataset)
        self.size_per_epoch = min(int(size), len(dataset))

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return False  # a new subset, hence new batches, every epoch

    def ordered_indices(self):
        chosen = np.random.permutation(len(self.dataset))[: self.size_per_epoch]
        sizes = self.dataset.sizes
        sizes = sizes[0] if isinstance(sizes, (list, tuple)) else sizes
        return chosen[np.argsort(np.asarray(sizes)[chosen], kind="mergesort")]


def maybe_subset(dataset, split: str, epoch_size: int):
    return EpochSubsetDataset(dataset, epoch_size) if split == "train" and epoch_size > 0 else dataset
