"""One W&B run per job, offline unless asked otherwise, continued (not duplicated) when a job resumes.

Metrics are namespaced as W&B dashboards chart them: train/* every log interval, valid/* at each
validation, test/* at the end (also in the summary). The run id comes from the job's identity (its
group, dataset, norm, seed and identity hash), never from where the job folder is mounted, so a job
requeued on another node or in a container continues the same run.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from normlab.runner.identity import identity_hash, norm_label


class NullRun:
    """Stands in for a W&B run when logging is off."""

    def log(self, data: Mapping[str, Any], step: int | None = None) -> None:
        pass

    def summary_update(self, data: Mapping[str, Any]) -> None:
        pass


class WandbRun:
    def __init__(self, run):
        self.run = run
        self.step = -1

    def log(self, data, step=None):
        if step is not None and step < self.step:
            step = None  # W&B drops a step below the last one; log at the current step instead
        self.run.log(dict(data), step=step)
        if step is not None:
            self.step = step

    def summary_update(self, data):
        self.run.summary.update(dict(data))


def run_id(cfg: Mapping[str, Any]) -> str:
    """From the job's identity: the same job maps to the same run wherever its folder lives."""
    key = (f"{cfg.get('group', 'default')}/{cfg['dataset']['name']}/{norm_label(cfg['norm'])}/"
           f"seed{cfg['seed']}-{identity_hash(cfg)}")
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def tags(cfg: Mapping[str, Any], extra=()) -> list[str]:
    """dataset, norm and experiment (group), then the logger's own tags; W&B tags are at most 64 characters."""
    found = [str(cfg["dataset"]["name"]), norm_label(cfg["norm"]), str(cfg.get("group", "default")), *map(str, extra)]
    return list(dict.fromkeys(t[:64] for t in found))


@contextmanager
def wandb_run(logger_cfg: Mapping[str, Any] | None, job_dir, name: str, group: str, job_type: str,
              config: Mapping[str, Any]) -> Iterator[NullRun | WandbRun]:
    if not logger_cfg or not logger_cfg.get("enabled", False):
        yield NullRun()
        return
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    run = wandb.init(
        project=logger_cfg.get("project", "normlab"),
        entity=logger_cfg.get("entity") or None,
        group=group, job_type=job_type, name=name, id=run_id(config), resume="allow",
        mode=logger_cfg.get("mode", "offline"), dir=str(job_dir), config=dict(config),
        tags=tags(config, logger_cfg.get("tags") or []),
    )
    exit_code = 1
    try:
        yield WandbRun(run)
        exit_code = 0
    finally:
        wandb.finish(exit_code=exit_code)  # always, a failed job included


# The train_inner stats that go to W&B as train/<name>, and the valid stats as valid/<name>.
TRAIN_STATS = ("loss", "nll_loss", "ppl", "lr", "gnorm", "wps", "ups", "wpb", "bsz", "accuracy", "loss_scale")
VALID_STATS = ("loss", "nll_loss", "ppl", "accuracy")


def train_metrics(stats: Mapping[str, float]) -> dict[str, float]:
    return {f"train/{k}": stats[k] for k in TRAIN_STATS if k in stats}


def valid_metrics(stats: Mapping[str, float]) -> dict[str, float]:
    return {f"valid/{k}": stats[k] for k in VALID_STATS if k in stats}


def test_metrics(scores: Mapping[str, Any]) -> dict[str, Any]:
    """Every score as test/<name>, the sacreBLEU signature included (a string: summary only)."""
    return {f"test/{k}": v for k, v in scores.items() if v is not None}
