"""The language-model family's on-disk format: fairseq's own (dict.txt, {split}.bin/.idx of byte ids),
read by fairseq's language_modeling task (task.py adds --epoch-size).

Each byte is one token (id = byte + 4, after fairseq's four specials); a newline byte becomes </s> and ends
a fairseq item, which is how Transformer-XL's prep_enwik8.py writes it (one line per text line). So the
number of predicted tokens equals the number of bytes, and mean loss in bits per token is bits per character.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from normlab.data.binarize import write_token_dataset

DICT = "dict.txt"
OFFSET = 4  # fairseq Dictionary(): <s>=0 <pad>=1 </s>=2 <unk>=3
EOS = 2
NEWLINE = 10


def write_bytes(work: Path, splits: Mapping[str, bytes]) -> dict:
    counts = {}
    train = np.frombuffer(splits["train"], dtype=np.uint8)
    freq = np.bincount(train, minlength=256)
    # Every byte value gets a symbol (id = byte + 4) so ids never depend on the data; unseen ones have count 0.
    (work / DICT).write_text("".join(f"{b} {int(freq[b])}\n" for b in range(256)))
    for split, data in splits.items():
        if not data:
            raise ValueError(f"the {split} split is empty")
        tokens = np.frombuffer(data, dtype=np.uint8).astype(np.uint16) + OFFSET
        is_newline = np.frombuffer(data, dtype=np.uint8) == NEWLINE
        tokens[is_newline] = EOS
        ends = np.flatnonzero(is_newline) + 1
        if not len(ends) or ends[-1] != len(tokens):
            ends = np.append(ends, len(tokens))
        write_token_dataset(work / split, np.split(tokens, ends[:-1]), vocab_size=256 + OFFSET)
        counts[split] = len(data)
    return {"counts": counts, "extra": {"unit": "bytes"}}
