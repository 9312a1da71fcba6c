"""The fairseq task that reads what format.py writes: image classification over .npy arrays."""
# No `from __future__ import annotations`: fairseq reads dataclass field types at runtime.

import os
from dataclasses import dataclass, field

import numpy as np
import torch
from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import MISSING

import normlab.fairseq_adapter  # noqa: F401  (registers normlab_classification and the models)
from normlab.fairseq_adapter.datasets import ArrayClassificationDataset
from normlab.fairseq_adapter.epoch_subset import maybe_subset
from normlab.families.image_classification.format import LABELS, images_file, labels_file

# The usual MNIST pixel statistics (over the 60k training digits).
MEAN, STD = 0.1307, 0.3081


def to_input(images: torch.Tensor) -> torch.Tensor:
    return ((images.float() / 255.0 - MEAN) / STD).unsqueeze(1)  # N x 1 x H x W


@dataclass
class ImageClassificationConfig(FairseqDataclass):
    data: str = field(default=MISSING, metadata={"help": "prepared folder ({split}.images.npy, labels)"})
    epoch_size: int = field(default=0, metadata={"help": "training images drawn per epoch (0: all)"})


@register_task("normlab_image_classification", dataclass=ImageClassificationConfig)
class ImageClassificationTask(FairseqTask):
    def __init__(self, cfg, num_classes):
        super().__init__(cfg)
        self.num_classes = num_classes

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        with open(os.path.join(cfg.data, LABELS), encoding="utf-8") as handle:
            return cls(cfg, sum(1 for line in handle if line.strip()))

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        images_path = images_file(self.cfg.data, split)
        if not images_path.exists():
            raise FileNotFoundError(f"Dataset not found: {split} ({images_path})")
        images, labels = np.load(images_path), np.load(labels_file(self.cfg.data, split)).astype(np.int64)
        dataset = ArrayClassificationDataset(images, labels, "images", transform=to_input)
        self.datasets[split] = maybe_subset(dataset, split, self.cfg.epoch_size)
        return self.datasets[split]

    @property
    def source_dictionary(self):
        return None

    @property
    def target_dictionary(self):
        return None
