"""Progress and a closing summary for `normlab-train -m` sweeps, whatever the launcher.

Jobs may run in this process, in joblib workers or on SLURM nodes, so they report through files in
the sweep folder (one outcome.json per job) rather than through memory: the count of those files is
the progress, and the summary reads them all at the end.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

PLAN = "normlab_sweep.json"
OUTCOME = "outcome.json"


def count_jobs(task_overrides) -> int:
    """How many jobs the basic sweeper makes of these overrides (the product of the sweep lists)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    sizes = [len(list(o.sweep_string_iterator())) for o in OverridesParser.create().parse_overrides(list(task_overrides))
             if o.is_sweep_override()]
    return math.prod(sizes) if sizes else 1


def write_outcome(job_output_dir: str | Path, name: str, status: str) -> None:
    Path(job_output_dir).mkdir(parents=True, exist_ok=True)
    (Path(job_output_dir) / OUTCOME).write_text(json.dumps({"job": name, "status": status}) + "\n")


def outcomes(sweep_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(Path(sweep_dir).glob(f"*/{OUTCOME}"))]


def _fmt(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


class SweepProgress(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        overrides = list(config.hydra.overrides.task)
        params = config.hydra.sweeper.get("params") or {}
        overrides += [f"{k}={v}" for k, v in params.items() if not any(o.split("=")[0].lstrip("+~") == k for o in overrides)]
        total = count_jobs(overrides)
        (sweep_dir / PLAN).write_text(json.dumps({"total": total, "started": time.time()}) + "\n")
        print(f"sweep: {total} job(s) → {sweep_dir}", flush=True)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        hydra = HydraConfig.get()
        if hydra.mode is None or hydra.mode.name != "MULTIRUN":
            return
        sweep_dir = Path(hydra.sweep.dir)
        plan_file = sweep_dir / PLAN
        if not plan_file.exists():
            return
        plan = json.loads(plan_file.read_text())
        done = len(outcomes(sweep_dir))
        elapsed = time.time() - plan["started"]
        left = plan["total"] - done
        eta = f", ETA {_fmt(elapsed / done * left)}" if done and left > 0 else ""
        print(f"[{done}/{plan['total']}] {done / plan['total']:.0%} after {_fmt(elapsed)}{eta}", flush=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        seen = outcomes(sweep_dir)
        counts = Counter(o["status"] for o in seen)
        plan_file = sweep_dir / PLAN
        total = json.loads(plan_file.read_text())["total"] if plan_file.exists() else len(seen)
        missing = total - len(seen)
        parts = [f"{counts.get(k, 0)} {k}" for k in ("done", "diverged", "failed", "skipped")]
        if counts.get("error"):
            parts.append(f"{counts['error']} not run (see messages above)")
        if missing > 0:
            parts.append(f"{missing} without outcome")
        print(f"sweep finished: {len(seen)} of {total} jobs — " + ", ".join(parts), flush=True)
