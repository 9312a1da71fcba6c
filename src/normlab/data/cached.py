"""Shared plumbing of the non-translation data preps: cache folder per spec + inputs, built once, with meta.json.

The cache folder is data_dir()/<name>/<hash12>/ where the hash covers the spec and the identity of every
input file; `normlab.data.cache.build_once` makes the build atomic and idempotent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from normlab.data.cache import build_once, cache_key, file_identity
from normlab.families.base import Prepared
from normlab.paths import data_dir

META = "meta.json"


def spec_raw_dir(spec: Mapping[str, Any], default_leaf: str) -> Path:
    from normlab.paths import raw_dir

    value = spec.get("raw_dir")
    return Path(value).expanduser().resolve() if value else raw_dir() / default_leaf


def synthetic_options(spec: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict | None:
    """The synthetic generator's options, or None for real data (`synthetic: null`/absent/false).

    `synthetic: {}` or `synthetic: true` means the generator's defaults.
    """
    value = spec.get("synthetic")
    if value is None or value is False:
        return None
    options = dict(defaults)
    if isinstance(value, Mapping):
        unknown = set(value) - set(defaults)
        if unknown:
            raise ValueError(f"unknown synthetic option(s) {sorted(unknown)}; accepted: {sorted(defaults)}")
        options.update(value)
    return options


def cached_prepare(name: str, payload: Mapping[str, Any], inputs: Iterable[Path],
                   build: Callable[[Path], Mapping[str, Any]], log: Callable[[str], None] = print) -> Prepared:
    """`build(folder)` writes the prepared files and returns {"counts": {...}, "extra": {...}}."""
    key = cache_key({"name": name, "spec": dict(payload), "inputs": [file_identity(Path(p)) for p in inputs]})
    target = data_dir() / name / key

    def _build(work: Path) -> None:
        meta = dict(build(work))
        (work / META).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")

    if build_once(target, _build, log):
        log(f"prepared {name} in {target}")
    meta = json.loads((target / META).read_text())
    return Prepared(data_bin=target, counts=meta.get("counts", {}), extra=meta.get("extra", {}))


def write_token_dataset(prefix: Path, items: Iterable[Iterable[int]], vocab_size: int) -> int:
    """Write a fairseq mmap indexed dataset (prefix.bin/.idx) of token-id lists; returns how many."""
    from fairseq.data.indexed_dataset import MMapIndexedDataset, best_fitting_int_dtype

    dtype = best_fitting_int_dtype(vocab_size)
    sizes = []
    with open(f"{prefix}.bin", "wb") as out:
        for item in items:
            array = np.asarray(item if isinstance(item, np.ndarray) else list(item), dtype=dtype)
            out.write(array.tobytes(order="C"))
            sizes.append(array.size)
    with MMapIndexedDataset.Index.writer(f"{prefix}.idx", dtype) as index:
        index.write(sizes)
    return len(sizes)
