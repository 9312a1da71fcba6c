"""Hugging Face hub datasets (`dataset.source=hf`): loaded through datasets.load_dataset, from the hub at
a pinned revision or from a local folder laid out like the hub repository (`dataset.hf_path`).

A local folder holds what the hub repository holds, e.g. data/train-*.parquet, data/validation-*.parquet
and data/test-*.parquet (or <config>/..., or train.jsonl, ...) with the hub's columns; datasets finds the
splits by their file names. That is how the tests run offline, and how people behind a firewall run.
Nothing here imports `datasets` until a load is asked for.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Mapping

from normlab.data.cache import sha256_file
from normlab.data.errors import missing_input
from normlab.data.sources import HubSource

Log = Callable[[str], None]
DATA_SUFFIXES = (".parquet", ".arrow", ".jsonl", ".json", ".csv", ".tsv", ".txt")


def local_folder(spec: Mapping[str, Any]) -> Path | None:
    """dataset.hf_path as a folder, or None to load from the hub."""
    value = spec.get("hf_path")
    if not value:
        return None
    folder = Path(str(value)).expanduser().resolve()
    if not folder.is_dir():
        raise missing_input(folder, "dataset.hf_path must name a folder laid out like the hub repository "
                                    "(data/train-*.parquet, data/validation-*.parquet, data/test-*.parquet)")
    return folder


def data_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in DATA_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not files:
        raise missing_input(folder / "data", "dataset.hf_path holds no data file (parquet, jsonl, csv, arrow)")
    return files


def identity(source: HubSource, spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the prepared-data cache key holds: the hub id, config and revision, or the local folder's
    content hash (every data file's name and sha256)."""
    folder = local_folder(spec)
    if folder is not None:
        return {"hf_local": {str(p.relative_to(folder)): sha256_file(p) for p in data_files(folder)},
                "config": source.config}
    return {"hf_id": source.id, "config": source.config, "revision": revision(source, spec)}


def revision(source: HubSource, spec: Mapping[str, Any]) -> str | None:
    return spec.get("hf_revision") or source.revision


def load(source: HubSource, spec: Mapping[str, Any], cache_dir: Path, log: Log = print) -> dict[str, Any]:
    """{our split name: datasets.Dataset} for the splits the hub has (source.splits)."""
    folder = local_folder(spec)
    cache_dir = Path(cache_dir)
    with _quiet_datasets() as datasets:
        if folder is not None:
            log(f"loading {source.id} from the local folder {folder}")
            loaded = datasets.load_dataset(str(folder), cache_dir=str(cache_dir))
        else:
            rev = revision(source, spec)
            if rev is None:
                log(f"warning: {source.id} has no pinned revision ({source.origin}); loading its main branch")
            log(f"loading {source.id}{f' ({source.config})' if source.config else ''} at {rev or 'main'} from the hub")
            loaded = datasets.load_dataset(source.id, source.config, revision=rev, cache_dir=str(cache_dir))
    out = {}
    for ours, theirs in source.splits:
        if theirs in loaded:
            out[ours] = loaded[theirs]
    if "train" not in out:
        raise ValueError(f"{folder or source.id} has no train split (found: {', '.join(loaded)})")
    return out


@contextmanager
def _quiet_datasets():
    """datasets with its progress bars on a terminal only, and its chatter (and its file locks') kept
    out of the job's log."""
    import datasets
    from datasets.utils import logging as ds_logging

    from normlab.data.progress import on_terminal

    chatty = [logging.getLogger(n) for n in ("filelock", "fsspec", "fsspec.local", "huggingface_hub")]
    levels = [lg.level for lg in chatty]
    verbosity, bars = ds_logging.get_verbosity(), datasets.is_progress_bar_enabled()
    ds_logging.set_verbosity_warning()
    for lg in chatty:
        lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
    (datasets.enable_progress_bars if on_terminal() else datasets.disable_progress_bars)()
    try:
        yield datasets
    finally:
        ds_logging.set_verbosity(verbosity)
        for lg, level in zip(chatty, levels):
            lg.setLevel(level)
        (datasets.enable_progress_bars if bars else datasets.disable_progress_bars)()


def columns(dataset, source: HubSource, *roles: str) -> list[list[Any]]:
    """The columns for `roles` (source.columns names them), checked, as lists."""
    missing = [source.column(r) for r in roles if source.column(r) not in dataset.column_names]
    if missing:
        raise ValueError(f"{source.id}: no column {', '.join(missing)} (columns: {', '.join(dataset.column_names)})")
    return [dataset[source.column(r)] for r in roles]


def split_deviation(name: str, source: HubSource, counts: Mapping[str, int], paper: Mapping[str, int],
                    how: str) -> list[str]:
    """One line for `deviations` when the hub's split sizes are not the paper's."""
    if all(counts.get(k) == v for k, v in paper.items()):
        return []
    ours = " / ".join(f"{counts.get(k, 0):,}" for k in ("train", "valid", "test"))
    theirs = " / ".join(f"{paper[k]:,}" for k in ("train", "valid", "test") if k in paper)
    return [f"{name} from the Hugging Face hub ({source.id}): train/valid/test {ours}, not the paper's "
            f"{theirs} ({how})"]
