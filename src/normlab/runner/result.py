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


class DamagedFileError(ValueError):
    """A file normlab wrote cannot be read back (truncated, garbage); the message names it."""


def load_json(path: Path) -> Any:
    """The JSON in `path`, None when there is no such file; DamagedFileError when it can't be parsed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise DamagedFileError(f"{path} is damaged (not text)") from None
    try:
        return json.loads(text)
    except ValueError as err:
        what = "empty" if not text.strip() else f"truncated or not JSON: {err}"
        raise DamagedFileError(f"{path} is damaged ({what})") from None


def result_damage(job_dir: Path) -> str | None:
    """Why the job's result.json can't be used (one line), or None when it is fine or absent."""
    try:
        result = load_json(Path(job_dir) / RESULT)
    except DamagedFileError as err:
        return str(err)
    if result is not None and not (isinstance(result, dict) and result.get("status") in STATUSES):
        return f"{Path(job_dir) / RESULT} is damaged (no status)"
    return None


def read_result(job_dir: Path) -> dict | None:
    """The job's result.json; None when there is none, or when it is damaged (see result_damage)."""
    if result_damage(job_dir):
        return None
    return load_json(Path(job_dir) / RESULT)


def _finite_or_none(value):
    # JSON has no NaN or Infinity; a diverged loss is recorded as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value
