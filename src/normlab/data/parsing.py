"""Dependency treebanks (CoNLL-X / CoNLL-U) turned into Chen & Manning parser training data.

Prepared folder: vocab.json (word and POS lists, specials first), {split}.features.npy (oracle
configurations, int32 N x 36), {split}.labels.npy (transitions), {split}.sentences.json (word/POS ids,
gold heads and the gold tags that decide punctuation, for UAS at test time). Non-projective training
trees have no arc-standard oracle and are skipped in the feature files (as C&M did); every sentence is
still parsed and scored at test time.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from normlab.data.arc_standard import NUM_FEATURES, ROOT, SPECIALS, UNK, oracle
from normlab.data.cached import cached_prepare, spec_raw_dir, synthetic_options
from normlab.data_missing import DataMissingError
from normlab.families.base import Prepared

SPLITS = ("train", "valid", "test")
SUFFIXES = (".conllx", ".conllu", ".conll")
# The NLTK sample holds WSJ files 0001-0199 in order; contiguous 80/10/10 keeps documents apart,
# as the section split of the full treebank does.
SAMPLE_FRACTIONS = (0.8, 0.1)
SYNTHETIC_DEFAULTS = {"n_train": 300, "n_valid": 40, "n_test": 40, "seed": 0}
PTB_HINT = ("PTB WSJ is LDC-licensed and cannot be downloaded: put CoNLL-X or CoNLL-U files "
            "train/valid/test(.conllx|.conllu) in {dir} and pass dataset=custom_parsing dataset.raw_dir={dir}")


@dataclass
class Sentence:
    words: list[str]
    tags: list[str]  # the POS the parser reads (fine-grained PTB tag / XPOS when present)
    heads: list[int]
    eval_tags: list[str]  # what decides punctuation: "PUNCT" for UPOS punctuation, else the tag


def prepare_parsing(spec: Mapping[str, Any], log: Callable[[str], None] = print) -> Prepared:
    name = spec.get("name", "custom_parsing")
    payload = {"word_min_count": int(spec.get("word_min_count", 2)), "lowercase": bool(spec.get("lowercase", True))}
    synthetic = synthetic_options(spec, SYNTHETIC_DEFAULTS)
    if synthetic is not None:
        return cached_prepare(f"{name}_synthetic", {**payload, **synthetic}, [],
                              lambda work: write_parsing(work, synthetic_treebank(**synthetic), **payload), log)
    if name == "ptb_sample":
        source = spec_raw_dir(spec, "ptb_dep_sample") / "ptb_wsj_sample.dep.conllx.gz"
        if not source.is_file():
            raise DataMissingError(f"ptb_sample: missing {source}; set NORMLAB_RAW_DIR or dataset.raw_dir")
        return cached_prepare(name, payload, [source],
                              lambda work: write_parsing(work, _split_sample(read_conll(source)), **payload), log)
    if name not in ("ptb", "custom_parsing"):
        raise ValueError(f"unknown parsing dataset {name!r}: ptb, ptb_sample, custom_parsing")
    folder = spec_raw_dir(spec, name)
    files = {split: _find(folder, split, name) for split in SPLITS}
    return cached_prepare(name, payload, list(files.values()),
                          lambda work: write_parsing(work, {s: read_conll(f) for s, f in files.items()}, **payload),
                          log)


def _find(folder: Path, split: str, name: str) -> Path:
    for suffix in SUFFIXES:
        for candidate in (folder / f"{split}{suffix}", folder / f"{split}{suffix}.gz"):
            if candidate.is_file():
                return candidate
    if name == "ptb":
        raise DataMissingError(PTB_HINT.format(dir=folder))
    raise DataMissingError(f"custom_parsing: missing {folder}/{split}.conllu (or .conllx); "
                           f"pass dataset.raw_dir=DIR holding train/valid/test")


def read_conll(path: Path) -> list[Sentence]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return list(_sentences(handle, path))


def _sentences(lines: Iterable[str], path: Path):
    rows: list[list[str]] = []
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line.strip():
            if rows:
                yield _sentence(rows)
                rows = []
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) < 7:
            raise ValueError(f"{path}:{number}: expected 10 tab-separated CoNLL columns")
        if "-" in cols[0] or "." in cols[0]:
            continue  # CoNLL-U multiword tokens and empty nodes carry no head of their own
        rows.append(cols)
    if rows:
        yield _sentence(rows)


def _sentence(rows: list[list[str]]) -> Sentence:
    # CoNLL-X: CPOSTAG POSTAG in columns 4-5; CoNLL-U: UPOS XPOS. Prefer the fine-grained one.
    tags = [r[4] if r[4] != "_" else r[3] for r in rows]
    return Sentence(words=[r[1] for r in rows], tags=tags, heads=[int(r[6]) for r in rows],
                    eval_tags=["PUNCT" if r[3] == "PUNCT" else t for r, t in zip(rows, tags)])


def _split_sample(sentences: list[Sentence]) -> dict[str, list[Sentence]]:
    a = int(len(sentences) * SAMPLE_FRACTIONS[0])
    b = a + int(len(sentences) * SAMPLE_FRACTIONS[1])
    return {"train": sentences[:a], "valid": sentences[a:b], "test": sentences[b:]}


def synthetic_treebank(n_train: int, n_valid: int, n_test: int, seed: int) -> dict[str, list[Sentence]]:
    """Sentences DT JJ* NN VB DT JJ* NN [IN DT NN] . with heads fixed by rule (NP -> its noun -> the verb)."""
    rng = random.Random(seed)
    lexicon = {"DT": ["the", "a", "this"], "JJ": [f"adj{i}" for i in range(8)], "NN": [f"noun{i}" for i in range(20)],
               "VB": [f"verb{i}" for i in range(8)], "IN": ["in", "on", "with"], ".": ["."]}

    def sentence():
        tags, heads = [], []

        def noun_phrase(head):
            part = ["DT"] + ["JJ"] * rng.randrange(3) + ["NN"]
            noun = len(tags) + len(part)  # 1-based position of the phrase's last word
            tags.extend(part)
            heads.extend([noun] * (len(part) - 1) + [head])
            return noun

        subject = noun_phrase(-1)
        verb = len(tags) + 1
        heads[subject - 1] = verb
        tags.append("VB")
        heads.append(0)
        noun_phrase(verb)
        if rng.random() < 0.5:
            tags.append("IN")
            heads.append(verb)
            noun_phrase(len(tags))
        tags.append(".")
        heads.append(verb)
        return Sentence([rng.choice(lexicon[t]) for t in tags], tags, heads, list(tags))

    return {split: [sentence() for _ in range(n)] for split, n in zip(SPLITS, (n_train, n_valid, n_test))}


def write_parsing(work: Path, splits: Mapping[str, list[Sentence]], word_min_count: int, lowercase: bool) -> dict:
    def norm(word):
        return word.lower() if lowercase else word

    counts = Counter(norm(w) for s in splits["train"] for w in s.words)
    words = list(SPECIALS) + sorted(w for w, c in counts.items() if c >= word_min_count)
    tags = list(SPECIALS) + sorted({t for s in splits["train"] for t in s.tags})
    word_index, tag_index = {w: i for i, w in enumerate(words)}, {t: i for i, t in enumerate(tags)}
    (work / "vocab.json").write_text(json.dumps({"words": words, "tags": tags}))
    info = {"counts": {}, "extra": {"non_projective_skipped": {}, "configurations": {}}}
    for split, sentences in splits.items():
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
        np.save(work / f"{split}.features.npy", np.asarray(feats, dtype=np.int32).reshape(-1, 2 * NUM_FEATURES))
        np.save(work / f"{split}.labels.npy", np.asarray(moves, dtype=np.int64))
        (work / f"{split}.sentences.json").write_text(json.dumps(
            [{"w": w, "t": t, "heads": s.heads, "eval_tags": s.eval_tags} for w, t, s in encoded]))
        info["counts"][split] = len(sentences)
        info["extra"]["non_projective_skipped"][split] = skipped
        info["extra"]["configurations"][split] = len(moves)
    info["extra"].update({"words": len(words), "tags": len(tags), "root_id": ROOT})
    return info
