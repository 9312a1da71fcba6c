"""result.json: what a job leaves behind, written atomically so a reader never sees half a file."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

RESULT = "result.json"
STATUSES = ("done", "diverged", "failed")


def write_json_atomic(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(_finite_or_none(payload), f, indent=2, sort_keys=False, default=str)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_result(job_dir: Path) -> dict | None:
    path = Path(job_dir) / RESULT
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _finite_or_none(value):
    # JSON has no NaN or Infinity; a diverged loss is recorded as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value
