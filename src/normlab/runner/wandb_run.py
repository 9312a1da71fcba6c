"""One W&B run per job, offline unless asked otherwise, continued (not duplicated) when a job resumes."""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping


class NullRun:
    """Stands in for a W&B run when logging is off."""

    def log(self, data: Mapping[str, Any], step: int | None = None) -> None:
        pass

    def summary_update(self, data: Mapping[str, Any]) -> None:
        pass


class WandbRun:
    def __init__(self, run):
        self.run = run

    def log(self, data, step=None):
        self.run.log(dict(data), step=step)

    def summary_update(self, data):
        self.run.summary.update(dict(data))


def run_id(job_dir: Path) -> str:
    """Derived from the job directory, so a requeued or resumed job writes into the same run."""
    return hashlib.sha1(str(Path(job_dir).resolve()).encode()).hexdigest()[:16]


@contextmanager
def wandb_run(logger_cfg: Mapping[str, Any] | None, job_dir: Path, name: str, group: str, job_type: str,
              config: Mapping[str, Any]) -> Iterator[NullRun | WandbRun]:
    if not logger_cfg or not logger_cfg.get("enabled", False):
        yield NullRun()
        return
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    run = wandb.init(
        project=logger_cfg.get("project", "normlab"),
        entity=logger_cfg.get("entity") or None,
        group=group, job_type=job_type, name=name, id=run_id(job_dir), resume="allow",
        mode=logger_cfg.get("mode", "offline"), dir=str(job_dir), config=dict(config),
        tags=list(logger_cfg.get("tags") or []),
    )
    exit_code = 1
    try:
        yield WandbRun(run)
        exit_code = 0
    finally:
        wandb.finish(exit_code=exit_code)  # always, a failed job included
