"""Progress and a closing summary for `normlab-train -m` sweeps, whatever the launcher.

Jobs may run in this process, in joblib workers or on SLURM nodes, so they report through files in
the sweep folder (one outcome file per job) rather than through memory: the count of those files is
the progress, and the summary reads them all at the end.

Each sweep has an id (NORMLAB_SWEEP_ID, set when it starts and inherited by its jobs, wherever they
run), and its plan and outcome files carry it: two sweeps given one hydra.sweep.dir share job
subfolders (0, 1, ...) but never overwrite or count each other's records.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

PLAN = "normlab_sweep.json"
OUTCOME = "outcome.json"
SWEEP_ID = "NORMLAB_SWEEP_ID"


def _named(filename: str, sweep_id: str | None) -> str:
    """outcome.json -> outcome.<sweep id>.json (the plain name when no sweep id is known)."""
    stem, dot, ext = filename.rpartition(".")
    return f"{stem}.{sweep_id}.{ext}" if sweep_id else filename


def count_jobs(task_overrides) -> int:
    """How many jobs the basic sweeper makes of these overrides (the product of the sweep lists)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    sizes = [len(list(o.sweep_string_iterator())) for o in OverridesParser.create().parse_overrides(list(task_overrides))
             if o.is_sweep_override()]
    return math.prod(sizes) if sizes else 1


def write_outcome(job_output_dir: str | Path, name: str, status: str) -> None:
    sweep_id = os.environ.get(SWEEP_ID)
    path = Path(job_output_dir) / _named(OUTCOME, sweep_id)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"job": name, "status": status, "sweep": sweep_id}) + "\n")
        os.replace(tmp, path)
    except OSError as err:  # a full disk: the summary counts this job as without outcome
        tmp.unlink(missing_ok=True)
        print(f"normlab-train: could not record the outcome of {name} in {path.parent} ({err.strerror or err})",
              file=sys.stderr)


def outcomes(sweep_dir: Path, sweep_id: str | None = None) -> list[dict]:
    """The outcome records of sweep `sweep_id` (by default the running one) in `sweep_dir`."""
    sweep_id = sweep_id if sweep_id is not None else os.environ.get(SWEEP_ID)
    seen = []
    for p in sorted(Path(sweep_dir).glob(f"*/{_named(OUTCOME, sweep_id)}")):
        try:
            seen.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            continue  # half a record (a full disk): counted as without outcome
    return seen


def _plan(sweep_dir: Path) -> dict | None:
    try:
        return json.loads((Path(sweep_dir) / _named(PLAN, os.environ.get(SWEEP_ID))).read_text())
    except (OSError, ValueError):
        return None


def _fmt(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def _watch_slurm_without_sacct() -> None:
    """Let submitit see job states through squeue when sacct fails (a cluster without accounting).

    submitit learns that a job ended from its result file or from sacct. Without sacct, a job that
    dies without writing its result (killed by scancel, out of memory, signalled before Python
    started) stays "UNKNOWN" and the sweep waits for it forever. squeue lists the jobs the
    controller still knows (ended ones for MinJobAge seconds): a job it no longer lists has ended.
    """
    import getpass
    import subprocess

    try:
        from submitit.slurm import slurm
    except ImportError:
        return
    watcher = slurm.SlurmInfoWatcher
    if getattr(watcher, "_normlab_squeue", False):
        return
    try:
        usable = subprocess.run(["sacct", "-n", "-X", "-j", "1"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        usable = False
    if usable:
        return

    def make_command(self):
        if not self._registered - self._finished:
            return None
        return ["squeue", "-h", "-r", "-t", "all", "-u", getpass.getuser(), "-o", "%i|%T"]

    def read_info(self, string):
        text = string.decode() if isinstance(string, bytes) else string
        info = {}
        for line in text.splitlines():
            job_id, _, state = line.strip().partition("|")
            if job_id:
                info[job_id] = {"JobID": job_id, "State": state.split()[0] if state else "UNKNOWN"}
        for job_id in self._registered - self._finished:
            info.setdefault(job_id, {"JobID": job_id, "State": "ENDED (no longer in squeue)"})
        return info

    watcher._make_command = make_command
    watcher.read_info = read_info
    watcher._normlab_squeue = True


class SweepProgress(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if "slurm" in str(config.hydra.launcher.get("_target_", "")).lower():
            _watch_slurm_without_sacct()
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        overrides = list(config.hydra.overrides.task)
        params = config.hydra.sweeper.get("params") or {}
        overrides += [f"{k}={v}" for k, v in params.items() if not any(o.split("=")[0].lstrip("+~") == k for o in overrides)]
        total = count_jobs(overrides)
        sweep_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        os.environ[SWEEP_ID] = sweep_id  # the jobs inherit it: this process, joblib workers, sbatch --export
        plan = {"total": total, "started": time.time(), "sweep": sweep_id}
        (sweep_dir / _named(PLAN, sweep_id)).write_text(json.dumps(plan) + "\n")
        print(f"sweep: {total} job(s) → {sweep_dir}", flush=True)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        hydra = HydraConfig.get()
        if hydra.mode is None or hydra.mode.name != "MULTIRUN":
            return
        sweep_dir = Path(hydra.sweep.dir)
        plan = _plan(sweep_dir)
        if plan is None:
            return
        done = len(outcomes(sweep_dir))
        elapsed = time.time() - plan["started"]
        left = plan["total"] - done
        eta = f", ETA {_fmt(elapsed / done * left)}" if done and left > 0 else ""
        print(f"[{done}/{plan['total']}] {done / plan['total']:.0%} after {_fmt(elapsed)}{eta}", flush=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        seen = outcomes(sweep_dir)
        counts = Counter(o["status"] for o in seen)
        plan = _plan(sweep_dir)
        total = plan["total"] if plan else len(seen)
        missing = total - len(seen)
        parts = [f"{counts.get(k, 0)} {k}" for k in ("done", "diverged", "failed", "skipped")]
        if counts.get("busy"):
            parts.append(f"{counts['busy']} running elsewhere (not run here)")
        if counts.get("error"):
            parts.append(f"{counts['error']} not run (see messages above)")
        if missing > 0:
            parts.append(f"{missing} without outcome")
        print(f"sweep finished: {len(seen)} of {total} jobs — " + ", ".join(parts), flush=True)
