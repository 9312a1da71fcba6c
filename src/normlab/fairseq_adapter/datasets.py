"""fairseq datasets with one class label per example: padded token sequences, or fixed-shape arrays."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from fairseq.data import FairseqDataset, data_utils


class _LabelledDataset(FairseqDataset):
    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return False  # regroup batches every epoch (fairseq only reshuffles the order of fixed batches)

    def __len__(self):
        return len(self.labels)

    def num_tokens(self, index):
        return int(self.sizes[index])

    def size(self, index):
        return int(self.sizes[index])

    def ordered_indices(self):
        order = np.random.permutation(len(self))
        return order[np.argsort(self.sizes[order], kind="mergesort")]


class TokenClassificationDataset(_LabelledDataset):
    def __init__(self, tokens, labels: np.ndarray, pad: int, max_len: int):
        self.tokens, self.labels, self.pad, self.max_len = tokens, labels, pad, max_len
        self.sizes = np.minimum(np.asarray(tokens.sizes), max_len)

    def __getitem__(self, index):
        # keep the final </s>, so a truncated sentence still ends like every other
        item = self.tokens[index].long()
        if len(item) > self.max_len:
            item = torch.cat([item[: self.max_len - 1], item[-1:]])
        return {"id": index, "source": item, "target": int(self.labels[index])}

    def collater(self, samples):
        if not samples:
            return {}
        src = data_utils.collate_tokens([s["source"] for s in samples], self.pad, left_pad=False)
        lengths = torch.LongTensor([s["source"].numel() for s in samples])
        return {
            "id": torch.LongTensor([s["id"] for s in samples]),
            "nsentences": len(samples), "ntokens": int(lengths.sum()),
            "net_input": {"src_tokens": src, "src_lengths": lengths},
            "target": torch.LongTensor([s["target"] for s in samples]),
        }


class ArrayClassificationDataset(_LabelledDataset):
    """Fixed-shape inputs (images, parser feature vectors) under net_input[input_name]."""

    def __init__(self, inputs: np.ndarray, labels: np.ndarray, input_name: str,
                 transform: Callable[[torch.Tensor], torch.Tensor] = lambda x: x):
        self.inputs, self.labels, self.input_name, self.transform = inputs, labels, input_name, transform
        self.sizes = np.full(len(labels), int(np.prod(inputs.shape[1:])), dtype=np.int64)

    def __getitem__(self, index):
        return {"id": index, "input": torch.from_numpy(np.array(self.inputs[index])), "target": int(self.labels[index])}

    def collater(self, samples):
        if not samples:
            return {}
        return {
            "id": torch.LongTensor([s["id"] for s in samples]),
            "nsentences": len(samples), "ntokens": len(samples),
            "net_input": {self.input_name: self.transform(torch.stack([s["input"] for s in samples]))},
            "target": torch.LongTensor([s["target"] for s in samples]),
        }
