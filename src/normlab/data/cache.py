"""Prepared-data cache: one folder per (dataset, everything that produced it), built aside and renamed in.

A folder is complete iff it holds `.done`; it only ever appears under its final name through one atomic
rename, so readers never see a half-built folder and concurrent builders cannot corrupt each other (the
loser of the race throws its own copy away).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping

# Bump whenever a pipeline change alters prepared output, so old cache folders stop matching.
CODE_VERSION = "1"
DONE = ".done"
# Small inputs (all the samples) are hashed by content; big archives by size + mtime, which is cheap.
_HASH_CONTENT_MAX = 64 << 20


def file_identity(path: Path) -> dict[str, Any]:
    stat = path.stat()
    ident: dict[str, Any] = {"name": path.name, "size": stat.st_size}
    if stat.st_size <= _HASH_CONTENT_MAX:
        ident["sha256"] = sha256_file(path)
    else:
        ident["mtime_ns"] = stat.st_mtime_ns
    return ident


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(payload: Mapping[str, Any]) -> str:
    text = json.dumps({"code_version": CODE_VERSION, **payload}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def is_done(folder: Path) -> bool:
    return (folder / DONE).is_file()


def build_once(target: Path, build: Callable[[Path], None], log: Callable[[str], None] = print) -> bool:
    """Make `target` exist and be complete; return True if this call built it, False if it was already there."""
    if is_done(target):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    os.chmod(work, 0o777 & ~_umask())  # mkdtemp makes it private; the cache may be shared by a group
    try:
        started = time.time()
        build(work)
        (work / DONE).write_text(json.dumps({"built_s": round(time.time() - started, 3)}) + "\n")
        _publish(work, target, log)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(work: Path, target: Path, log: Callable[[str], None]) -> None:
    try:
        os.rename(work, target)
        return
    except OSError:
        pass
    if is_done(target):
        log(f"{target} was prepared concurrently by another process; using that copy")
        return
    # A folder without .done under the final name was not made by build_once (renames are atomic):
    # move it aside rather than trust or merge it.
    stale = target.with_name(f".{target.name}.stale-{os.getpid()}-{time.time_ns()}")
    os.rename(target, stale)
    shutil.rmtree(stale, ignore_errors=True)
    os.rename(work, target)
