"""Transition classification for the Chen & Manning parser, over data written by normlab.data.parsing.

Training and validation score oracle transitions (loss/accuracy curves); UAS comes from greedy parsing
in the parsing family's evaluate.
"""
# No `from __future__ import annotations`: fairseq reads dataclass field types at runtime.

import json
import os
from dataclasses import dataclass, field

import numpy as np
from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import MISSING

from normlab.data.arc_standard import NUM_TRANSITIONS

from . import classification_criterion  # noqa: F401  (registers normlab_classification)
from .classification_data import ArrayClassificationDataset
from .epoch_subset import maybe_subset


@dataclass
class ParsingConfig(FairseqDataclass):
    data: str = field(default=MISSING, metadata={"help": "prepared folder (vocab.json, {split}.features.npy)"})
    epoch_size: int = field(default=0, metadata={"help": "training configurations drawn per epoch (0: all)"})


@register_task("normlab_parsing", dataclass=ParsingConfig)
class ParsingTask(FairseqTask):
    def __init__(self, cfg, num_words, num_tags):
        super().__init__(cfg)
        self.num_words, self.num_tags, self.num_classes = num_words, num_tags, NUM_TRANSITIONS

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        with open(os.path.join(cfg.data, "vocab.json"), encoding="utf-8") as handle:
            vocab = json.load(handle)
        return cls(cfg, len(vocab["words"]), len(vocab["tags"]))

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        prefix = os.path.join(self.cfg.data, split)
        if not os.path.exists(prefix + ".features.npy"):
            raise FileNotFoundError(f"Dataset not found: {split} ({prefix}.features.npy)")
        features = np.load(prefix + ".features.npy").astype(np.int64)
        dataset = ArrayClassificationDataset(features, np.load(prefix + ".labels.npy"), "features")
        self.datasets[split] = maybe_subset(dataset, split, self.cfg.epoch_size)
        return self.datasets[split]

    @property
    def source_dictionary(self):
        return None

    @property
    def target_dictionary(self):
        return None
