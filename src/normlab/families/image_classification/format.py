"""The image family's on-disk format, written here and read by its fairseq task (task.py).

A prepared folder: {split}.images.npy (N x H x W uint8), {split}.labels.npy (N uint8), labels.txt.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGES_SUFFIX = ".images.npy"
LABELS_SUFFIX = ".labels.npy"
LABELS = "labels.txt"


def images_file(folder: Path | str, split: str) -> Path:
    return Path(folder) / f"{split}{IMAGES_SUFFIX}"


def labels_file(folder: Path | str, split: str) -> Path:
    return Path(folder) / f"{split}{LABELS_SUFFIX}"


def write_images(work: Path, splits) -> dict:
    for split, (images, labels) in splits.items():
        if len(labels) == 0:
            raise ValueError(f"the {split} split is empty")
        np.save(images_file(work, split), np.ascontiguousarray(images, dtype=np.uint8))
        np.save(labels_file(work, split), np.ascontiguousarray(labels, dtype=np.uint8))
    classes = sorted({int(c) for _, labels in splits.values() for c in labels})
    (work / LABELS).write_text("".join(f"{c}\n" for c in range(max(classes) + 1)))
    return {"counts": {s: int(len(lab)) for s, (_, lab) in splits.items()}, "extra": {"num_classes": max(classes) + 1}}
