"""The fairseq task that reads what format.py writes: transition classification for the Chen & Manning parser.

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

import normlab.fairseq_adapter  # noqa: F401  (registers normlab_classification and the models)
from normlab.fairseq_adapter.datasets import ArrayClassificationDataset
from normlab.fairseq_adapter.epoch_subset import maybe_subset
from normlab.families.parsing.arc_standard import NUM_FEATURES, NUM_TRANSITIONS
from normlab.families.parsing.format import VOCAB, features_file, labels_file


@dataclass
class ParsingConfig(FairseqDataclass):
    data: str = field(default=MISSING, metadata={"help": "prepared folder (vocab.json, {split}.features.npy)"})
    epoch_size: int = field(default=0, metadata={"help": "training configurations drawn per epoch (0: all)"})


@register_task("normlab_parsing", dataclass=ParsingConfig)
class ParsingTask(FairseqTask):
    def __init__(self, cfg, num_words, num_tags):
        super().__init__(cfg)
        self.num_words, self.num_tags, self.num_classes = num_words, num_tags, NUM_TRANSITIONS
        self.num_features = NUM_FEATURES

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        with open(os.path.join(cfg.data, VOCAB), encoding="utf-8") as handle:
            vocab = json.load(handle)
        return cls(cfg, len(vocab["words"]), len(vocab["tags"]))

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        path = features_file(self.cfg.data, split)
        if not path.exists():
            raise FileNotFoundError(f"Dataset not found: {split} ({path})")
        features = np.load(path).astype(np.int64)
        dataset = ArrayClassificationDataset(features, np.load(labels_file(self.cfg.data, split)), "features")
        self.datasets[split] = maybe_subset(dataset, split, self.cfg.epoch_size)
        return self.datasets[split]

    @property
    def source_dictionary(self):
        return None

    @property
    def target_dictionary(self):
        return None
