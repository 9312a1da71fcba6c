"""enwik8 as a byte-level LM corpus for fairseq's language-modeling data path.

Each byte is one token (id = byte + 4, after fairseq's four specials); a newline byte becomes </s> and ends
a fairseq item, which is how Transformer-XL's prep_enwik8.py writes it (one line per text line). So the
number of predicted tokens equals the number of bytes, and mean loss in bits per token is bits per character.
Split as in prep_enwik8.py: the last 2n bytes are valid then test, n = 5M for the full file (len // 20
for the sample).
"""

from __future__ import annotations

import gzip
import random
import zipfile
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from normlab.data.cached import cached_prepare, spec_raw_dir, synthetic_options, write_token_dataset
from normlab.data_missing import DataMissingError
from normlab.families.base import Prepared

OFFSET = 4  # fairseq Dictionary(): <s>=0 <pad>=1 </s>=2 <unk>=3
EOS = 2
NEWLINE = 10
FULL_SIZE = 100_000_000
FULL_HELD_OUT = 5_000_000
URL = "http://mattmahoney.net/dc/enwik8.zip"
SYNTHETIC_DEFAULTS = {"n_train": 30_000, "n_valid": 3_000, "n_test": 3_000, "seed": 0}


def prepare_enwik8(spec: Mapping[str, Any], log: Callable[[str], None] = print) -> Prepared:
    name = spec.get("name", "enwik8")
    synthetic = synthetic_options(spec, SYNTHETIC_DEFAULTS)
    if synthetic is not None:
        return cached_prepare(f"{name}_synthetic", synthetic, [],
                              lambda work: _write(work, _split(synthetic_text(**synthetic), synthetic)), log)
    if name == "enwik8_sample":
        source = spec_raw_dir(spec, "enwik8") / "enwik8_head4M.gz"
        if not source.is_file():
            raise DataMissingError(f"enwik8 sample missing: {source} (set NORMLAB_RAW_DIR or dataset.raw_dir)")
        return cached_prepare(name, {}, [source], lambda work: _write(work, _split_like_prep(_read(source))), log)
    source = _full_source(spec, log)
    return cached_prepare(name, {}, [source], lambda work: _write(work, _split_like_prep(_read(source))), log)


def _full_source(spec: Mapping[str, Any], log) -> Path:
    folder = spec_raw_dir(spec, "enwik8")
    for candidate in (folder / "enwik8.zip", folder / "enwik8"):
        if candidate.is_file():
            return candidate
    if spec.get("download"):
        from normlab.data.download import fetch

        # No published checksum found offline; the extracted size (exactly 10^8 bytes) is checked in _read.
        return fetch(URL, folder / "enwik8.zip", log=log)
    raise DataMissingError(f"enwik8 missing: put enwik8.zip ({URL}) in {folder}, or pass dataset.download=true "
                           f"(or use dataset=enwik8_sample)")


def _read(path: Path) -> bytes:
    if path.suffix == ".zip":
        data = zipfile.ZipFile(path).read("enwik8")
    elif path.suffix == ".gz":
        data = gzip.open(path).read()
    else:
        data = path.read_bytes()
    if path.name.startswith("enwik8") and "head" not in path.name and len(data) != FULL_SIZE:
        raise ValueError(f"{path}: {len(data)} bytes, enwik8 has exactly {FULL_SIZE}")
    return data


def _split_like_prep(data: bytes) -> dict[str, bytes]:
    n = FULL_HELD_OUT if len(data) == FULL_SIZE else len(data) // 20
    return {"train": data[:-2 * n], "valid": data[-2 * n:-n], "test": data[-n:]}


def _split(text: bytes, options: Mapping[str, Any]) -> dict[str, bytes]:
    a, b = options["n_train"], options["n_train"] + options["n_valid"]
    return {"train": text[:a], "valid": text[a:b], "test": text[b:b + options["n_test"]]}


def synthetic_text(n_train: int, n_valid: int, n_test: int, seed: int) -> bytes:
    """Sentences from a tiny grammar: well below 8 bpc after a few updates, far from 0 (choices stay random)."""
    rng = random.Random(seed)
    subjects = ["the cat", "a dog", "the bird", "my friend", "the old man"]
    verbs = ["sat on", "looked at", "ran to", "jumped over", "slept near"]
    objects = ["the mat", "a tree", "the house", "the river", "a red car"]
    out, size, total = [], 0, n_train + n_valid + n_test
    while size < total:
        line = f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}.\n"
        out.append(line)
        size += len(line)
    return "".join(out).encode("ascii")[:total]


def _write(work: Path, splits: Mapping[str, bytes]) -> dict:
    counts = {}
    train = np.frombuffer(splits["train"], dtype=np.uint8)
    freq = np.bincount(train, minlength=256)
    # Every byte value gets a symbol (id = byte + 4) so ids never depend on the data; unseen ones have count 0.
    (work / "dict.txt").write_text("".join(f"{b} {int(freq[b])}\n" for b in range(256)))
    for split, data in splits.items():
        tokens = np.frombuffer(data, dtype=np.uint8).astype(np.uint16) + OFFSET
        is_newline = np.frombuffer(data, dtype=np.uint8) == NEWLINE
        tokens[is_newline] = EOS
        ends = np.flatnonzero(is_newline) + 1
        if not len(ends) or ends[-1] != len(tokens):
            ends = np.append(ends, len(tokens))
        write_token_dataset(work / split, np.split(tokens, ends[:-1]), vocab_size=256 + OFFSET)
        counts[split] = len(data)
    return {"counts": counts, "extra": {"unit": "bytes"}}
