"""The fairseq task that reads what format.py writes: sentence classification (RT, SST-5, custom TSV)."""
# No `from __future__ import annotations`: fairseq reads dataclass field types at runtime.

import os
from dataclasses import dataclass, field

import numpy as np
from fairseq.data import Dictionary, data_utils
from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import MISSING

import normlab.fairseq_adapter  # noqa: F401  (registers normlab_classification and the models)
from normlab.families.classification.format import DICT, LABELS, label_file
from normlab.fairseq_adapter.datasets import TokenClassificationDataset
from normlab.fairseq_adapter.epoch_subset import maybe_subset


@dataclass
class TextClassificationConfig(FairseqDataclass):
    data: str = field(default=MISSING, metadata={"help": "prepared folder (dict.txt, labels.txt, splits)"})
    max_positions: int = field(default=512, metadata={"help": "longer sentences are truncated"})
    epoch_size: int = field(default=0, metadata={"help": "training examples drawn per epoch (0: all)"})


@register_task("normlab_text_classification", dataclass=TextClassificationConfig)
class TextClassificationTask(FairseqTask):
    def __init__(self, cfg, dictionary, num_classes):
        super().__init__(cfg)
        self.dictionary, self.num_classes = dictionary, num_classes

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        dictionary = Dictionary.load(os.path.join(cfg.data, DICT))
        with open(os.path.join(cfg.data, LABELS), encoding="utf-8") as handle:
            num_classes = sum(1 for line in handle if line.strip())
        return cls(cfg, dictionary, num_classes)

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        prefix = os.path.join(self.cfg.data, split)
        tokens = data_utils.load_indexed_dataset(prefix, self.dictionary)
        if tokens is None:
            raise FileNotFoundError(f"Dataset not found: {split} ({prefix})")
        labels = np.loadtxt(label_file(self.cfg.data, split), dtype=np.int64, ndmin=1)
        dataset = TokenClassificationDataset(tokens, labels, self.dictionary.pad(), self.cfg.max_positions)
        self.datasets[split] = maybe_subset(dataset, split, self.cfg.epoch_size)
        return self.datasets[split]

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary
