"""The language-model datasets, one table. Split as in Transformer-XL's prep_enwik8.py: the last 2n bytes
are valid then test, n = 5M for the full file (len // 20 for the sample).

  enwik8         enwik8.zip (or the extracted file), exactly 10^8 bytes
  enwik8_sample  the first 4 MB (enwik8_head4M.gz), split 90/5/5
  generated      sentences from a tiny grammar (no file)
"""

from __future__ import annotations

import gzip
import random
import zipfile
from pathlib import Path

from normlab.data import sources
from normlab.data.errors import missing_input, require_file
from normlab.families.base import GeneratedRecipe, raw_folder

FULL_SIZE = 100_000_000
FULL_HELD_OUT = 5_000_000


class Enwik8:
    kind = "paper"

    def payload(self, spec):
        return {}

    def inputs(self, spec, paths, log):
        folder = raw_folder(spec, paths, "enwik8")
        for candidate in (folder / "enwik8.zip", folder / "enwik8"):
            if candidate.is_file():
                return [candidate]
        if spec.get("download"):
            return [sources.fetch_source(sources.find_source("enwik8", "enwik8.zip"), folder, log=log,
                                         verify=spec.get("verify_checksums", True))]
        raise missing_input(folder / "enwik8.zip", "put enwik8.zip there, or pass dataset.download=true "
                            "(or use dataset=enwik8_sample)")

    def read(self, spec, files):
        return split_like_prep(read_bytes(files[0]))


class Enwik8Sample(Enwik8):
    kind = "offline_sample"

    def inputs(self, spec, paths, log):
        return [require_file(raw_folder(spec, paths, "enwik8") / "enwik8_head4M.gz",
                             "set NORMLAB_RAW_DIR or dataset.raw_dir")]


class Generated(GeneratedRecipe):
    DEFAULTS = {"n_train": 30_000, "n_valid": 3_000, "n_test": 3_000, "seed": 0}

    def generate(self, n_train, n_valid, n_test, seed):
        text = generated_text(n_train, n_valid, n_test, seed)
        return {"train": text[:n_train], "valid": text[n_train:n_train + n_valid],
                "test": text[n_train + n_valid:n_train + n_valid + n_test]}


RECIPES = {"enwik8": Enwik8(), "enwik8_sample": Enwik8Sample(), "generated": Generated()}


def read_bytes(path: Path) -> bytes:
    if path.suffix == ".zip":
        data = zipfile.ZipFile(path).read("enwik8")
    elif path.suffix == ".gz":
        data = gzip.open(path).read()
    else:
        data = path.read_bytes()
    if path.name.startswith("enwik8") and "head" not in path.name and len(data) != FULL_SIZE:
        raise ValueError(f"{path}: {len(data)} bytes, enwik8 has exactly {FULL_SIZE}")
    return data


def split_like_prep(data: bytes) -> dict[str, bytes]:
    n = FULL_HELD_OUT if len(data) == FULL_SIZE else len(data) // 20
    return {"train": data[:-2 * n], "valid": data[-2 * n:-n], "test": data[-n:]}


def generated_text(n_train: int, n_valid: int, n_test: int, seed: int) -> bytes:
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
