"""The image datasets, one table.

  mnist         the four IDX files; valid = the last 5,000 of the 60,000 training digits (never test)
  mnist_sample  the 10k test-set digits, shuffled (fixed seed) into 7,000 train + 1,000 valid and 2,000 test
  digits        scikit-learn's bundled real 8x8 digits (1,797, in the wheel: no download), scaled 3x and
                padded to 28x28 uint8, split 1,000 / 300 / 497 (the quick grid's MNIST stand-in)
  generated     28x28 images holding one bright blob whose grid position is the class (no file)
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from normlab.data import sources
from normlab.data.errors import require_file
from normlab.families.base import GeneratedRecipe, Log, Paths, raw_folder

TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
SAMPLE_SPLIT = (8_000, 2_000)
REMEDY = "set NORMLAB_RAW_DIR or dataset.raw_dir, or pass dataset.download=true"


def _idx_files(spec: Mapping[str, Any], paths: Paths, names, log: Log) -> list[Path]:
    folder = raw_folder(spec, paths, "mnist")
    found = []
    for name in names:
        path = folder / name
        if not path.is_file() and spec.get("download"):
            sources.fetch_source(sources.find_source("mnist", name), folder, log=log,
                                 verify=spec.get("verify_checksums", True))
        found.append(require_file(path, REMEDY))
    return found


class Mnist:
    kind = "paper"

    def payload(self, spec):
        return {"valid_size": int(spec.get("valid_size", 5_000))}

    def inputs(self, spec, paths, log):
        return _idx_files(spec, paths, TRAIN_FILES + TEST_FILES, log)

    def read(self, spec, files):
        train_images, train_labels, test_images, test_labels = files
        valid_size = self.payload(spec)["valid_size"]
        x, y = read_idx(train_images), read_idx(train_labels)
        return {"train": (x[:-valid_size], y[:-valid_size]), "valid": (x[-valid_size:], y[-valid_size:]),
                "test": (read_idx(test_images), read_idx(test_labels))}


class MnistSample:
    kind = "offline_sample"

    def payload(self, spec):
        return {"split_seed": int(spec.get("split_seed", 1)), "valid_size": int(spec.get("valid_size", 1_000))}

    def inputs(self, spec, paths, log):
        return _idx_files(spec, paths, TEST_FILES, log)

    def read(self, spec, files):
        options = self.payload(spec)
        x, y = read_idx(files[0]), read_idx(files[1])
        order = np.random.RandomState(options["split_seed"]).permutation(len(y))
        n_train = SAMPLE_SPLIT[0] - options["valid_size"]
        parts = {"train": order[:n_train], "valid": order[n_train:SAMPLE_SPLIT[0]], "test": order[SAMPLE_SPLIT[0]:]}
        return {split: (x[idx], y[idx]) for split, idx in parts.items()}


class Generated(GeneratedRecipe):
    DEFAULTS = {"n_train": 600, "n_valid": 100, "n_test": 100, "num_classes": 10, "seed": 0}

    def generate(self, **options):
        return generated_blobs(**options)


class Digits:
    kind = "generated"  # a stand-in (scikit-learn's digits), not a sample of MNIST

    SPLIT = (1_000, 300)

    def payload(self, spec):
        return {"split_seed": int(spec.get("split_seed", 1))}

    def inputs(self, spec, paths, log):
        return []

    def read(self, spec, files):
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = np.kron(digits.images, np.ones((3, 3)))  # 8x8 -> 24x24, each pixel a 3x3 block
        images = np.pad(images, ((0, 0), (2, 2), (2, 2))) * (255.0 / 16.0)
        images, labels = images.round().astype(np.uint8), digits.target.astype(np.uint8)
        order = np.random.RandomState(self.payload(spec)["split_seed"]).permutation(len(labels))
        a, b = self.SPLIT
        parts = {"train": order[:a], "valid": order[a:a + b], "test": order[a + b:]}
        return {split: (images[idx], labels[idx]) for split, idx in parts.items()}


class Hub:
    """`dataset.source=hf`: the hub's MNIST (image, label columns; train and test), valid = the last
    `valid_size` training digits as the raw recipe takes them."""

    def __init__(self, source, cache_dir: Path, log: Log):
        self.source, self.cache_dir, self.log = source, cache_dir, log

    def payload(self, spec):
        from normlab.data import hub

        return {"hub": hub.identity(self.source, spec), "valid_size": int(spec.get("valid_size", 5_000))}

    def inputs(self, spec, paths, log):
        return []  # the payload holds the hub identity

    def read(self, spec, files):
        from normlab.data import hub

        loaded = hub.load(self.source, spec, self.cache_dir, self.log)
        splits = {}
        for split, data in loaded.items():
            images, labels = hub.columns(data, self.source, "image", "label")
            splits[split] = (np.stack([decode_image(i) for i in images]), np.asarray(labels, dtype=np.uint8))
        if "test" not in splits:
            raise ValueError(f"{self.source.id} has no test split")
        if "valid" not in splits:
            valid_size = self.payload(spec)["valid_size"]
            x, y = splits["train"]
            if not 0 < valid_size < len(y):
                raise ValueError(f"dataset.valid_size={valid_size} leaves no train or valid digit of {len(y)}")
            splits["train"], splits["valid"] = (x[:-valid_size], y[:-valid_size]), (x[-valid_size:], y[-valid_size:])
        return {k: splits[k] for k in ("train", "valid", "test")}

    def deviations(self, spec, counts) -> list[str]:
        return []  # the hub holds the same 60,000 + 10,000 digits as the IDX files


def decode_image(value) -> np.ndarray:
    """A hub image cell as uint8 pixels: a PIL image (datasets' Image feature) or {bytes, path}."""
    if isinstance(value, dict):
        import io

        from PIL import Image

        value = Image.open(io.BytesIO(value["bytes"]))
    return np.asarray(value.convert("L") if hasattr(value, "convert") else value, dtype=np.uint8)


RECIPES = {"mnist": Mnist(), "mnist_sample": MnistSample(), "digits": Digits(), "generated": Generated()}


def read_idx(path: Path) -> np.ndarray:
    data = gzip.open(path).read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def generated_blobs(n_train: int, n_valid: int, n_test: int, num_classes: int, seed: int):
    """28x28 images holding one bright blob whose position (on a 4x3 grid) is the class, plus noise."""
    rng = np.random.RandomState(seed)
    centers = [(5 + 6 * (c % 4), 6 + 8 * (c // 4)) for c in range(num_classes)]
    yy, xx = np.mgrid[:28, :28]

    def make(n):
        labels = rng.randint(num_classes, size=n).astype(np.uint8)
        images = np.empty((n, 28, 28), dtype=np.uint8)
        for i, c in enumerate(labels):
            cx, cy = np.array(centers[c]) + rng.randint(-1, 2, size=2)
            blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 6.0) * 230 + rng.rand(28, 28) * 40
            images[i] = np.clip(blob, 0, 255)
        return images, labels

    return {"train": make(n_train), "valid": make(n_valid), "test": make(n_test)}
