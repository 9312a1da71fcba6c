"""The parsing family's on-disk format, written here and read by its fairseq task (task.py) and evaluation.

A prepared folder: vocab.json (word and POS lists, specials first), {split}.features.npy (oracle
configurations, int32 N x 36), {split}.labels.npy (transitions), {split}.sentences.json (word/POS ids,
gold heads and the gold tags that decide punctuation, for UAS at test time). Non-projective training
trees have no arc-standard oracle and are skipped in the feature files (as C&M did); every sentence is
still parsed and scored at test time.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from normlab.families.parsing.arc_standard import NUM_FEATURES, ROOT, SPECIALS, UNK, oracle

VOCAB = "vocab.json"
FEATURES_SUFFIX = ".features.npy"
LABELS_SUFFIX = ".labels.npy"
SENTENCES_SUFFIX = ".sentences.json"


def features_file(folder: Path | str, split: str) -> Path:
    return Path(folder) / f"{split}{FEATURES_SUFFIX}"


def labels_file(folder: Path | str, split: str) -> Path:
    return Path(folder) / f"{split}{LABELS_SUFFIX}"


def sentences_file(folder: Path | str, split: str) -> Path:
    return Path(folder) / f"{split}{SENTENCES_SUFFIX}"


@dataclass
class Sentence:
    words: list[str]
    tags: list[str]  # the POS the parser reads (fine-grained PTB tag / XPOS when present)
    heads: list[int]
    eval_tags: list[str]  # what decides punctuation (metrics.is_punct): the PTB tag, or UPOS without one


def write_parsing(work: Path, splits: Mapping[str, list[Sentence]], word_min_count: int, lowercase: bool) -> dict:
    def norm(word):
        return word.lower() if lowercase else word

    counts = Counter(norm(w) for s in splits["train"] for w in s.words)
    words = list(SPECIALS) + sorted(w for w, c in counts.items() if c >= word_min_count)
    tags = list(SPECIALS) + sorted({t for s in splits["train"] for t in s.tags})
    word_index, tag_index = {w: i for i, w in enumerate(words)}, {t: i for i, t in enumerate(tags)}
    (work / VOCAB).write_text(json.dumps({"words": words, "tags": tags}))
    info = {"counts": {}, "extra": {"non_projective_skipped": {}, "configurations": {}}}
    for split, sentences in splits.items():
        if not sentences:
            raise ValueError(f"the {split} split holds no sentence")
        encoded = [([word_index.get(norm(w), UNK) for w in s.words], [tag_index.get(t, UNK) for t in s.tags], s)
                   for s in sentences]
        feats, moves, skipped = [], [], 0
        for w, t, s in encoded:
            result = oracle(s.heads, w, t)
            if result is None:
                skipped += 1
                continue
            feats += result[0]
            moves += result[1]
        np.save(features_file(work, split), np.asarray(feats, dtype=np.int32).reshape(-1, 2 * NUM_FEATURES))
        np.save(labels_file(work, split), np.asarray(moves, dtype=np.int64))
        sentences_file(work, split).write_text(json.dumps(
            [{"w": w, "t": t, "heads": s.heads, "eval_tags": s.eval_tags} for w, t, s in encoded]))
        info["counts"][split] = len(sentences)
        info["extra"]["non_projective_skipped"][split] = skipped
        info["extra"]["configurations"][split] = len(moves)
    info["extra"].update({"words": len(words), "tags": len(tags), "root_id": ROOT})
    return info
