"""The classification family's on-disk format, written here and read by its fairseq task (task.py).

A prepared folder: dict.txt (train words), {split}.bin/.idx (token ids, </s> appended so no sentence
is empty), {split}.label (one class index per line), labels.txt (class names, index order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from normlab.data.binarize import write_token_dataset

DICT = "dict.txt"
LABELS = "labels.txt"
LABEL_SUFFIX = ".label"
SPLITS = ("train", "valid", "test")

Example = tuple[str, str]  # (label, text)


def label_file(folder: Path | str, split: str) -> Path:
    return Path(folder) / f"{split}{LABEL_SUFFIX}"


def write_classification(work: Path, splits: Mapping[str, list[Example]], lowercase: bool, min_count: int) -> dict:
    from fairseq.data import Dictionary

    def tokens(text):
        return (text.lower() if lowercase else text).split()

    labels = sorted({label for examples in splits.values() for label, _ in examples}, key=_label_order)
    index = {label: i for i, label in enumerate(labels)}
    vocab = Dictionary()
    for _, text in splits["train"]:
        for word in tokens(text):
            vocab.add_symbol(word)
    vocab.finalize(threshold=min_count, padding_factor=8)
    vocab.save(str(work / DICT))
    for split, examples in splits.items():
        ids = (vocab.encode_line(" ".join(tokens(t)), add_if_not_exist=False, append_eos=True).numpy()
               for _, t in examples)
        write_token_dataset(work / split, ids, len(vocab))
        label_file(work, split).write_text("".join(f"{index[label]}\n" for label, _ in examples))
    (work / LABELS).write_text("".join(f"{label}\n" for label in labels))
    return {"counts": {s: len(e) for s, e in splits.items()}, "extra": {"num_classes": len(labels), "labels": labels}}


def _label_order(label: str):
    # numeric labels in numeric order (so SST's 0-4 keep their meaning), others alphabetically
    return (0, int(label), "") if label.lstrip("-").isdigit() else (1, 0, label)
