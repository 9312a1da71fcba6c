"""launcher=slurm on a real single-node SLURM (scripts/slurm_cluster.sh): sweeps, requeue, time limits.

Run with `pytest -m slurm` (the marker is deselected otherwise: these tests start a cluster, which
needs root and installs slurm-wlm + munge if missing). NORMLAB_SLURM_DIR names the folder of a
cluster that scripts/slurm_cluster.sh already started; without it the session starts and stops one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "slurm_cluster.sh"
TRAIN = str(Path(sys.executable).with_name("normlab-train"))

pytestmark = pytest.mark.slurm


@pytest.fixture(scope="session")
def slurm(request, tmp_path_factory) -> dict:
    """SLURM_CONF of a running cluster with partition "cpu"."""
    markexpr = request.config.getoption("markexpr") or ""
    if "slurm" not in markexpr or "not slurm" in markexpr:
        pytest.skip("the SLURM tests run with `pytest -m slurm` (they start a local cluster)")
    given = os.environ.get("NORMLAB_SLURM_DIR")
    if given:
        yield {"SLURM_CONF": str(Path(given) / "slurm.conf")}
        return
    if os.geteuid() != 0:
        pytest.skip("starting a local SLURM needs root (slurmd runs jobs as their user)")
    folder = tmp_path_factory.mktemp("slurm")
    started = time.time()
    out = subprocess.run(["bash", str(SCRIPT), "start", str(folder)], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, f"could not start SLURM:\n{out.stdout}\n{out.stderr}"
    print(f"\nSLURM cluster up in {time.time() - started:.0f} s ({folder})")
    try:
        yield {"SLURM_CONF": str(folder / "slurm.conf")}
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], capture_output=True, text=True, timeout=120)


@pytest.fixture
def env(slurm, tmp_path):
    return {**os.environ, **slurm, "NORMLAB_OUTPUT": str(tmp_path / "out"), "NORMLAB_DATA_DIR": str(tmp_path / "data")}


def _launcher(tmp_path: Path, **extra) -> list[str]:
    options = {"partition": "cpu", "gpus_per_node": 0, "cpus_per_task": 1, "mem_gb": 2, "timeout_min": 10, **extra}
    return ["launcher=slurm", "logger=none", f"hydra.sweep.dir={tmp_path / 'sweep'}",
            *[f"hydra.launcher.{k}={v}" for k, v in options.items()]]


def _results(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.glob("*/*/*/*/result.json"))]


def _epochs(result: dict) -> list[int]:
    return [h["epoch"] for h in result["history"]]


def _job_logs(tmp_path: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted((tmp_path / "sweep" / ".submitit").glob("*/*_log.*")))


def _squeue(env: dict) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True, env=env, timeout=30)
    return out.stdout.split("\n") if out.stdout.strip() else []


def test_two_job_sweep_on_the_cpu_partition(env, tmp_path):
    out = subprocess.run([TRAIN, "-m", "dataset=quick_rt", "norm=layernorm,adanorm", "debug=smoke",
                          *_launcher(tmp_path)], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "sweep finished: 2 of 2 jobs — 2 done, 0 diverged, 0 failed, 0 skipped" in out.stdout
    results = _results(tmp_path / "out")
    assert sorted(r["norm"] for r in results) == ["adanorm", "layernorm"]
    assert {r["status"] for r in results} == {"done"}, [r.get("error") for r in results]
    assert all(_epochs(r) == [1, 2, 3] for r in results)
    # gpus_per_node=0: no GPU asked of SLURM, and fairseq trained on the CPU, in one process
    (script,) = (tmp_path / "sweep" / ".submitit").glob("*/*_submission.sh")
    assert "#SBATCH --partition=cpu" in script.read_text() and "--gres=gpu" not in script.read_text()
    for r in results:
        log = (Path(r["job_dir"]) / "train.log").read_text()
        assert re.search(r"device: cpu, distributed world size 1, SLURM job \d+_\d \(restart 0\)", log), log[-2000:]
        assert r["config"]["trainer"]["distributed_world_size"] == 0


def _start_sweep(env, tmp_path, *overrides) -> subprocess.Popen:
    log = open(tmp_path / "sweep.out", "w")
    return subprocess.Popen([TRAIN, "-m", *overrides], stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True, text=True)


def _wait(proc: subprocess.Popen, tmp_path: Path, timeout: float) -> str:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"the sweep did not end in {timeout:.0f} s:\n" + (tmp_path / "sweep.out").read_text()[-3000:])
    return (tmp_path / "sweep.out").read_text()


@contextmanager
def _prompt_restarts(env: dict):
    """SLURM holds a requeued job for about two minutes (its begin time) before it may start again;
    a real cluster's queue wait is as long as it is, here it only slows the test down, so each
    requeued job is made eligible at once (`scontrol update StartTime=now`)."""
    stop = threading.Event()

    def hasten():
        while not stop.wait(1):
            out = subprocess.run(["squeue", "-h", "-t", "PENDING", "-o", "%i %r"], capture_output=True, text=True,
                                 env=env, timeout=30)
            for line in out.stdout.splitlines():
                job, _, reason = line.partition(" ")
                if reason.strip() == "BeginTime":
                    subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], capture_output=True,
                                   env=env, timeout=30)

    thread = threading.Thread(target=hasten, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_requeued_job_resumes_from_its_checkpoint(env, tmp_path):
    # Epochs of 20,000 sentences (a few seconds each), so that on an idle machine the requeue still lands
    # mid-training rather than after the last epoch.
    overrides = ["dataset=quick_rt", "norm=layernorm", "debug=smoke", "trainer.max_epoch=10",
                 "dataset.synthetic.n_train=20000", "dataset.epoch_size=0", *_launcher(tmp_path)]
    proc = _start_sweep(env, tmp_path, *overrides)
    deadline = time.time() + 300
    history = None
    while history is None or len(json.loads(history.read_text() or "[]")) < 2:
        assert proc.poll() is None and time.time() < deadline, (tmp_path / "sweep.out").read_text()[-3000:]
        history = next((tmp_path / "out").glob("*/*/*/*/history.json"), None)
        time.sleep(0.5)
    (job,) = [line.split()[0] for line in _squeue(env) if line.endswith("RUNNING")]
    subprocess.run(["scontrol", "requeue", job], check=True, env=env, timeout=30)  # as a preemption does
    with _prompt_restarts(env):
        out = _wait(proc, tmp_path, 300)
    assert proc.returncode == 0, out[-3000:]
    assert "sweep finished: 1 of 1 jobs — 1 done, 0 diverged, 0 failed, 0 skipped" in out
    (result,) = _results(tmp_path / "out")
    assert result["status"] == "done" and _epochs(result) == list(range(1, 11))
    updates = [h["num_updates"] for h in result["history"]]
    assert updates == sorted(updates) and len(set(updates)) == 10
    log = (Path(result["job_dir"]) / "train.log").read_text()
    assert "(restart 1)" in log and "Loaded checkpoint" in log
    assert "resume quick_rt/layernorm/seed1" in _job_logs(tmp_path)


@pytest.mark.slow  # about 4 minutes of real time limit; CI runs `-m "slurm and not slow"`
def test_job_at_its_time_limit_is_requeued_and_finishes(env, tmp_path):
    # Two minutes of time, USR2 45 s before the end: slurmctld checks limits every 30 s and signals
    # once end - 45 s - 30 s is past, so 45-75 s into each run. submitit checkpoints and requeues
    # (up to max_num_timeout times), and each run goes on from checkpoint_last.pt. 30 smoke epochs
    # (about 75 s on 2 idle cores, more on a busy machine) outlast the first run.
    overrides = ["dataset=quick_rt", "norm=layernorm", "debug=smoke", "trainer.max_epoch=30",
                 *_launcher(tmp_path, timeout_min=2, signal_delay_s=45, max_num_timeout=10)]
    with _prompt_restarts(env):
        out = _wait(_start_sweep(env, tmp_path, *overrides), tmp_path, 600)
    assert "sweep finished: 1 of 1 jobs — 1 done, 0 diverged, 0 failed, 0 skipped" in out, out[-3000:]
    (result,) = _results(tmp_path / "out")
    assert result["status"] == "done" and _epochs(result) == list(range(1, 31))
    logs = _job_logs(tmp_path)
    assert "this job is timed-out" in logs and "Requeued job" in logs
    assert "(restart 1)" in (Path(result["job_dir"]) / "train.log").read_text()
