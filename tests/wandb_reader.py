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
        chunk = raw[offset + HEADER:offset + HEADER + length]
        offset += HEADER + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            yield record


def read_run(path: Path) -> dict:
    run, history, summary = {}, [], {}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run = {"id": r.run_id, "project": r.project, "group": r.run_group, "job_type": r.job_type,
                   "name": r.display_name}
        elif kind == "history":
            history.append({_key(item): json.loads(item.value_json) for item in record.history.item})
        elif kind == "summary":
            summary.update({_key(item): json.loads(item.value_json) for item in record.summary.update})
    return {"run": run, "history": history, "summary": summary}


def _key(item) -> str:
    # Newer W&B clients write the key as a path (nested_key) instead of `key`.
    return item.key or "/".join(item.nested_key)
