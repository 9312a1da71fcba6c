"""Read an offline W&B run file (run-*.wandb) back, for the tests.

The file is a LevelDB-style log of protobuf Records: a 7-byte header, then 32 KiB blocks of
chunks, each chunk with a 7-byte header (crc32, length, type: full, first, middle, last).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

BLOCK = 32 * 1024
HEADER = 7


def records(path: Path):
    from wandb.proto import wandb_internal_pb2 as pb

    raw = Path(path).read_bytes()
    assert raw[:4] == b":W&B", f"{path} is not a W&B run file"
    offset, pending = HEADER, b""
    while offset + HEADER <= len(raw):
        left = BLOCK - offset % BLOCK
        if left < HEADER:
            offset += left
            continue
        _crc, length, kind = struct.unpack("<IHB", raw[offset:offset + HEADER])
        if kind == 0:
            offset += left
            continue
        if offset + HEADER + length > len(raw):
            return  # the service process has not finished writing this chunk yet
        chunk = raw[offset + HEADER:offset + HEADER + length]
        offset += HEADER + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            yield record


def read_run(path: Path, wait: float = 30.0) -> dict:
    """The run's metadata, history rows, summary and config. W&B's service process writes the file and may
    still be flushing it just after wandb.finish() returned: wait (up to `wait` s) for its exit record."""
    import time

    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if any(r.WhichOneof("record_type") == "exit" for r in records(path)):
            break
        time.sleep(0.2)
    return _read(path)


def _read(path: Path) -> dict:
    run, history, summary, config = {}, [], {}, {}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run = {"id": r.run_id, "project": r.project, "group": r.run_group, "job_type": r.job_type,
                   "name": r.display_name, "tags": list(r.tags)}
            config = {_key(item): json.loads(item.value_json) for item in r.config.update}
        elif kind == "history":
            row: dict = {}
            for item in record.history.item:
                _put(row, item)
            history.append(row)
        elif kind == "summary":
            for item in record.summary.update:
                _put(summary, item)
    return {"run": run, "history": history, "summary": summary, "config": config}


def _put(target: dict, item) -> None:
    """Newer clients write a logged object (a wandb.Table, an image) as one item per field, keyed by the
    path [key, field, ...]: put those back together as {key: {field: ...}}."""
    path = list(item.nested_key) or [item.key]
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = json.loads(item.value_json)


def _key(item) -> str:
    # Newer W&B clients write the key as a path (nested_key) instead of `key`.
    return item.key or "/".join(item.nested_key)
