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
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

# Bump whenever a pipeline change alters prepared output, so old cache folders stop matching.
CODE_VERSION = "1"
DONE = ".done"
# Small inputs (all the samples) are hashed by content; big archives by size + mtime, which is cheap.
_HASH_CONTENT_MAX = 64 << 20


@dataclass(frozen=True)
class Prepared:
    """Data ready for fairseq: `data_bin` is the positional data argument of fairseq-train."""

    data_bin: Path
    counts: Mapping[str, int] = field(default_factory=dict)  # examples per split
    extra: Mapping[str, Any] = field(default_factory=dict)  # whatever the family's evaluate needs


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
    """Make `target` exist, complete and intact; return True if this call built it.

    A finished folder whose files no longer match the checksums recorded when it was built (a flipped
    label, a zeroed .bin) is moved aside and rebuilt, so a damaged cache never trains to a wrong number.
    """
    if is_done(target):
        damage = verify(target)
        if damage is None:
            return False
        log(f"prepared data in {target} is damaged ({damage}); rebuilding it")
        _discard(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    os.chmod(work, 0o777 & ~_umask())  # mkdtemp makes it private; the cache may be shared by a group
    try:
        started = time.time()
        build(work)
        manifest = {"built_s": round(time.time() - started, 3), "files": _manifest(work)}
        (work / DONE).write_text(json.dumps(manifest, indent=1) + "\n")
        _publish(work, target, log)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return True


# Files up to this size are hashed whole when a job uses them; bigger ones by their size and three
# 1 MiB blocks (start, middle, end), which keeps a check of a multi-GB WMT folder well under a second.
_VERIFY_WHOLE_MAX = 32 << 20
_BLOCK = 1 << 20


def _fingerprint(path: Path) -> dict[str, Any]:
    size = path.stat().st_size
    if size <= _VERIFY_WHOLE_MAX:
        return {"size": size, "sha256": sha256_file(path)}
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for offset in (0, size // 2, size - _BLOCK):
            handle.seek(offset)
            digest.update(handle.read(_BLOCK))
    return {"size": size, "sampled_sha256": digest.hexdigest()}


def _manifest(folder: Path) -> dict[str, dict]:
    return {str(p.relative_to(folder)): _fingerprint(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != DONE}


def verify(folder: Path) -> str | None:
    """None if every file recorded at build time is unchanged, else what is wrong (one phrase)."""
    try:
        recorded = json.loads((folder / DONE).read_text()).get("files")
    except (OSError, ValueError):
        return f"unreadable {DONE}"
    if recorded is None:
        return None  # built before checksums were recorded
    for name, expected in recorded.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if _fingerprint(path) != expected:
            return f"{name} changed since it was built"
    return None


def _discard(target: Path) -> None:
    stale = target.with_name(f".{target.name}.stale-{os.getpid()}-{time.time_ns()}")
    os.rename(target, stale)
    shutil.rmtree(stale, ignore_errors=True)


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
    _discard(target)
    os.rename(work, target)


META = "meta.json"


def cached_prepare(cache_root: Path, name: str, payload: Mapping[str, Any], inputs: Iterable[Path],
                   build: Callable[[Path], Mapping[str, Any]], log: Callable[[str], None] = print) -> Prepared:
    """Folder cache_root/<name>/<hash12>/, hash over `payload` and the inputs' identity, built once.

    `build(folder)` writes the prepared files and returns {"counts": {...}, "extra": {...}}.
    """
    key = cache_key({"name": name, "spec": dict(payload), "inputs": [file_identity(Path(p)) for p in inputs]})
    target = Path(cache_root) / name / key

    def _build(work: Path) -> None:
        meta = dict(build(work))
        (work / META).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")

    if build_once(target, _build, log):
        log(f"prepared {name} in {target}")
    meta = json.loads((target / META).read_text())
    return Prepared(data_bin=target, counts=meta.get("counts", {}), extra=meta.get("extra", {}))
