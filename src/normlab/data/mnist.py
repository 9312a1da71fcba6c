"""MNIST (full IDX files, the 10k test-set sample, or synthetic blobs) as uint8 .npy arrays.

Prepared folder: {split}.images.npy (N x 28 x 28 uint8), {split}.labels.npy (N uint8), labels.txt.
Valid sets are carved from the training part (never from test): the last 5,000 of the 60,000 training
digits for `mnist`; for `mnist_sample` the 10,000 digits are shuffled (fixed seed) into an 8,000-digit
training part (7,000 train + 1,000 valid) and 2,000 test.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from normlab.data.cached import cached_prepare, spec_raw_dir, synthetic_options
from normlab.data_missing import DataMissingError
from normlab.families.base import Prepared

# torchvision's mirrors and md5 sums (torchvision.datasets.MNIST.resources)
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
SAMPLE_SPLIT = (8_000, 2_000)
SYNTHETIC_DEFAULTS = {"n_train": 600, "n_valid": 100, "n_test": 100, "num_classes": 10, "seed": 0}


def prepare_mnist(spec: Mapping[str, Any], log: Callable[[str], None] = print) -> Prepared:
    name = spec.get("name", "mnist")
    synthetic = synthetic_options(spec, SYNTHETIC_DEFAULTS)
    if synthetic is not None:
        return cached_prepare(f"{name}_synthetic", synthetic, [],
                              lambda work: _write(work, synthetic_blobs(**synthetic)), log)
    folder = spec_raw_dir(spec, "mnist")
    if name == "mnist_sample":
        files = [_need(folder, f, name, spec, log) for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")]
        payload = {"split_seed": int(spec.get("split_seed", 1)), "valid_size": int(spec.get("valid_size", 1_000))}
        return cached_prepare(name, payload, files, lambda work: _write(work, _sample_split(*files, **payload)), log)
    if name != "mnist":
        raise ValueError(f"unknown image dataset {name!r}: mnist, mnist_sample")
    files = [_need(folder, f, name, spec, log) for f in MD5]
    payload = {"valid_size": int(spec.get("valid_size", 5_000))}
    return cached_prepare(name, payload, files, lambda work: _write(work, _full_split(*files, **payload)), log)


def _need(folder: Path, filename: str, name: str, spec, log) -> Path:
    path = folder / filename
    if path.is_file():
        return path
    if spec.get("download"):
        from normlab.data.download import fetch

        return fetch(tuple(m + filename for m in MIRRORS), path, md5=MD5[filename], log=log)
    raise DataMissingError(f"{name}: missing {path}; set NORMLAB_RAW_DIR or dataset.raw_dir, "
                           f"or pass dataset.download=true")


def read_idx(path: Path) -> np.ndarray:
    data = gzip.open(path).read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _full_split(train_images, train_labels, test_images, test_labels, valid_size):
    x, y = read_idx(train_images), read_idx(train_labels)
    return {"train": (x[:-valid_size], y[:-valid_size]), "valid": (x[-valid_size:], y[-valid_size:]),
            "test": (read_idx(test_images), read_idx(test_labels))}


def _sample_split(images, labels, split_seed, valid_size):
    x, y = read_idx(images), read_idx(labels)
    order = np.random.RandomState(split_seed).permutation(len(y))
    n_train = SAMPLE_SPLIT[0] - valid_size
    parts = {"train": order[:n_train], "valid": order[n_train:SAMPLE_SPLIT[0]], "test": order[SAMPLE_SPLIT[0]:]}
    return {split: (x[idx], y[idx]) for split, idx in parts.items()}


def synthetic_blobs(n_train: int, n_valid: int, n_test: int, num_classes: int, seed: int):
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


def _write(work: Path, splits) -> dict:
    for split, (images, labels) in splits.items():
        np.save(work / f"{split}.images.npy", np.ascontiguousarray(images, dtype=np.uint8))
        np.save(work / f"{split}.labels.npy", np.ascontiguousarray(labels, dtype=np.uint8))
    classes = sorted({int(c) for _, labels in splits.values() for c in labels})
    (work / "labels.txt").write_text("".join(f"{c}\n" for c in range(max(classes) + 1)))
    return {"counts": {s: int(len(lab)) for s, (_, lab) in splits.items()}, "extra": {"num_classes": max(classes) + 1}}
