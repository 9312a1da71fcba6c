"""Where normlab reads raw data, caches prepared data and writes jobs.

Each location comes from an environment variable so that a laptop, a CI runner and a SLURM
cluster can point at their own disks without editing configs. Defaults live under one home
folder (NORMLAB_HOME, default ~/.cache/normlab) so that nothing depends on the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path


def _from_env(var: str, default_leaf: str) -> Path:
    value = os.environ.get(var)
    if value:
        return Path(value).expanduser().resolve()
    home = os.environ.get("NORMLAB_HOME") or Path.home() / ".cache" / "normlab"
    return (Path(home).expanduser() / default_leaf).resolve()


def raw_dir() -> Path:
    """Raw downloaded or user-supplied files, laid out like shared/data (NORMLAB_RAW_DIR)."""
    return _from_env("NORMLAB_RAW_DIR", "raw")


def data_dir() -> Path:
    """Prepared (tokenized, BPE'd, binarized) data cache (NORMLAB_DATA_DIR)."""
    return _from_env("NORMLAB_DATA_DIR", "data")


def output_dir() -> Path:
    """Job and sweep directories (NORMLAB_OUTPUT)."""
    return _from_env("NORMLAB_OUTPUT", "output")
