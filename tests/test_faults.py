"""Faults a job must survive: damaged files, a full disk, a read-only output, concurrent runs.

Every case either recovers by itself and says so in one line, or stops with one line naming the
folder; never a traceback, never stuck. Most cases start from a copy of one trained smoke job.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from normlab.compose import compose
from normlab.runner.identity import job_dir
from normlab.runner.job import JobEnvironmentError, run_job
from normlab.runner.lock import LOCK, JobBusyError, job_lock

JOB = ["dataset=quick_rt", "debug=smoke", "logger=none", "norm=layernorm", "trainer.max_epoch=2",
       "dataset.epoch_size=600"]
TRAIN = str(Path(sys.executable).with_name("normlab-train"))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir) -> Path:
    """The folder of one finished smoke job (2 epochs), to copy and damage."""
    out = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NORMLAB_OUTPUT", str(out))
        mp.setenv("NORMLAB_DATA_DIR", str(data_dir))
        result = run_job(compose(JOB), say=lambda line: None)
    assert result["status"] == "done", result.get("error")
    return Path(result["job_dir"])


@pytest.fixture
def job(tmp_path, monkeypatch, data_dir):
    """Returns (cfg, root) of the job under this test's own output folder; copy=True starts from `trained`."""
    monkeypatch.setenv("NORMLAB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NORMLAB_DATA_DIR", str(data_dir))

    def make(*overrides, copy_from: Path | None = None):
        cfg = compose([*JOB, *overrides])
        root = job_dir(cfg, Path(cfg["paths"]["output"]))
        if copy_from is not None:
            shutil.copytree(copy_from, root)
        return cfg, root

    return make


def _run(cfg, lines: list[str] | None = None) -> dict:
    lines = [] if lines is None else lines
    return run_job(cfg, say=lines.append)


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# --- 3. damaged files ------------------------------------------------------------------------------

@pytest.mark.parametrize("retry", [False, True])
def test_truncated_result_is_treated_as_no_result(job, trained, retry):
    cfg, root = job(*(["retry_failed=true"] if retry else []), copy_from=trained)
    _truncate(root / "result.json")
    lines = []
    result = _run(cfg, lines)
    assert result["status"] == "done" and result["metric"]["value"] is not None
    (line,) = [x for x in lines if "is damaged" in x]
    assert line.startswith(f"quick_rt/layernorm/seed1: {root / 'result.json'} is damaged (truncated or not JSON: ")
    assert line.endswith("; treating the job as not run and running it again")
    assert json.loads((root / "result.json").read_text())["status"] == "done"
    again = []
    _run(cfg, again)
    assert again == [f"skip quick_rt/layernorm/seed1: already done ({root / 'result.json'})"]


def test_truncated_history_after_sigkill_is_rebuilt_from_the_log(job, trained):
    cfg, root = job(copy_from=trained)
    (root / "result.json").unlink()  # killed before the end: no result yet
    _truncate(root / "history.json")
    lines = []
    result = _run(cfg, lines)
    assert result["status"] == "done"
    assert [h["epoch"] for h in result["history"]] == [1, 2]
    assert all(h["train_loss"] and h["valid_loss"] for h in result["history"])
    damaged = [line for line in lines if "history.json" in line]
    assert len(damaged) == 1 and "rebuilt 2 epoch(s) from train.log" in damaged[0]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_last_checkpoint_falls_back_to_the_best(job, trained, damage):
    cfg, root = job(copy_from=trained)
    (root / "result.json").unlink()
    last = root / "checkpoints" / "checkpoint_last.pt"
    {"truncate": lambda: _truncate(last), "garbage": lambda: last.write_bytes(os.urandom(4096)),
     "empty": lambda: last.write_bytes(b"")}[damage]()
    lines = []
    result = _run(cfg, lines)
    assert result["status"] == "done", (result.get("error"), lines)
    (line,) = [x for x in lines if "is damaged" in x]
    assert f"{last} is damaged (" in line and "resuming from checkpoint_best.pt instead" in line
    assert f"resume quick_rt/layernorm/seed1 in {root}" in lines


def test_force_retrains_from_scratch(job, trained):
    cfg, root = job("force=true", copy_from=trained)
    (root / "checkpoints" / "checkpoint_best.pt.tmp").write_bytes(b"half a save")  # a killed save
    first_epoch = "| valid | epoch 001 |"
    before = (root / "train.log").read_text().count(first_epoch)
    lines = []
    result = _run(cfg, lines)
    assert result["status"] == "done", result.get("error")
    assert [x for x in lines if "force=true" in x] == [
        "quick_rt/layernorm/seed1: force=true, so training again from scratch "
        "(removed its old checkpoints, history and result)"]
    assert f"start quick_rt/layernorm/seed1 in {root}" in lines  # not "resume"
    assert [h["epoch"] for h in result["history"]] == [1, 2]
    assert not list(root.rglob("*.tmp"))
    assert (root / "train.log").read_text().count(first_epoch) == before + 1  # epoch 1 again, once


@pytest.mark.parametrize("damaged, message", [
    ("checkpoint_best.pt", "checkpoint_best.pt is damaged"),  # fairseq would keep the bad best
    ("checkpoint_last.pt", "and no other checkpoint is whole"),
])
def test_no_usable_checkpoint_trains_again_from_scratch(job, trained, damaged, message):
    cfg, root = job("retry_failed=true", copy_from=trained)
    (root / "result.json").unlink()
    _truncate(root / "checkpoints" / damaged, 0.3)
    if damaged == "checkpoint_last.pt":
        (root / "checkpoints" / "checkpoint_best.pt").unlink()
    lines = []
    result = _run(cfg, lines)
    assert result["status"] == "done", result.get("error")
    (line,) = [x for x in lines if "is damaged" in x]
    assert message in line and line.endswith("training the job again from scratch")
    assert f"start quick_rt/layernorm/seed1 in {root}" in lines
    assert [h["epoch"] for h in result["history"]] == [1, 2]


# --- 4. disk full, read-only ---------------------------------------------------------------------

def _mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({out.stderr.strip() or 'mount failed'}): needs root in a "
                    "machine or container that allows mounts")


@pytest.fixture
def tmpfs(tmp_path):
    mounted = []

    def mount(name: str, options: str) -> Path:
        where = tmp_path / name
        _mount_tmpfs(where, options)
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_full_disk_is_one_line_leaves_no_temporaries_and_a_rerun_works(tmpfs, monkeypatch, data_dir, capfd):
    out = tmpfs("small", "size=512k")
    monkeypatch.setenv("NORMLAB_OUTPUT", str(out))
    monkeypatch.setenv("NORMLAB_DATA_DIR", str(data_dir))
    cfg = compose(JOB)
    root = job_dir(cfg, Path(cfg["paths"]["output"]))
    capfd.readouterr()
    with pytest.raises(JobEnvironmentError) as err:
        _run(cfg)
    message = str(err.value)
    assert "\n" not in message and message.startswith("no space left on the device of ")
    assert str(root) in message and "run the same command again" in message
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert not (root / "result.json").exists() and not (root / "error.txt").exists()
    assert "Traceback" not in "".join(capfd.readouterr())

    subprocess.run(["mount", "-o", "remount,size=64m", str(out)], check=True)  # space freed
    result = _run(cfg)
    assert result["status"] == "done", result.get("error")


def test_read_only_output_is_one_line(tmpfs, tmp_path):
    out = tmpfs("ro", "ro,size=1m")
    env = {**os.environ, "NORMLAB_OUTPUT": str(out / "jobs"), "NORMLAB_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([TRAIN, *JOB], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"normlab-train: cannot write to the output folder {out / 'jobs'} "
                                   "(Read-only file system): set NORMLAB_OUTPUT to a writable folder")


# --- 6. concurrent runs --------------------------------------------------------------------------

HOLD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from normlab.runner.lock import job_lock
    with job_lock(Path(sys.argv[1]), say=print):
        print("held", flush=True)
        time.sleep(600)
""")


def _hold_lock(root: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(root)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_process_skips_a_running_job_and_takes_over_a_dead_ones_lock(job, trained):
    cfg, root = job(copy_from=trained)
    (root / "result.json").unlink()  # the job needs running
    holder = _hold_lock(root)
    try:
        with pytest.raises(JobBusyError) as err:
            _run(cfg)
        assert str(err.value) == (f"running in process {holder.pid} on host {socket.gethostname()} since "
                                  + str(err.value).split(" since ", 1)[1])
        assert not (root / "result.json").exists()  # it did not train the job too
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lines = []
    assert _run(cfg, lines)["status"] == "done"
    (line,) = [x for x in lines if "lock" in x]
    assert f"taking over the lock left by process {holder.pid} on host {socket.gethostname()}" in line


@pytest.mark.slow
def test_two_identical_jobs_at_once_train_once(job, tmp_path):
    cfg, root = job()
    env = {**os.environ}
    procs = [subprocess.Popen([TRAIN, *JOB], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    stdout = "".join(o[0] for o in outs)
    assert stdout.count("start quick_rt/layernorm/seed1") == 1
    busy = "running in process" in stdout
    assert busy or stdout.count("skip quick_rt/layernorm/seed1: already done") == 1
    assert (root / "train.log").read_text().count("| valid | epoch 001 |") == 1


def test_stale_lock_of_a_dead_pid_is_replaced_even_if_an_orphan_holds_the_flock(tmp_path):
    root = tmp_path / "job"
    root.mkdir()
    # an orphan (a child that inherited the descriptor) holds the flock; the recorded pid is dead
    dead = subprocess.Popen(["true"])
    dead.wait()
    holder = _hold_lock(root)
    (root / LOCK).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": time.time()}))
    lines = []
    try:
        with job_lock(root, say=lines.append) as me:
            assert me["pid"] == os.getpid()
            assert json.loads((root / LOCK).read_text())["pid"] == os.getpid()
    finally:
        holder.kill()
        holder.wait()
    assert len(lines) == 1 and f"process {dead.pid} on host {socket.gethostname()}" in lines[0]
    assert "no longer running" in lines[0]


def test_lock_of_another_host(tmp_path):
    root = tmp_path / "job"
    root.mkdir()
    other = {"pid": 12345, "host": "node-that-died", "started": time.time()}
    (root / LOCK).write_text(json.dumps(other))
    lines = []
    with job_lock(root, say=lines.append):  # nobody holds the flock: its holder is gone
        pass
    assert len(lines) == 1 and "process 12345 on host node-that-died" in lines[0]
    assert (root / LOCK).read_text() == ""  # released cleanly

    holder = _hold_lock(root)  # a live holder, as another node would be
    try:
        data = json.loads((root / LOCK).read_text())
        (root / LOCK).write_text(json.dumps({**data, "host": "node7"}))
        with pytest.raises(JobBusyError, match=r"^running in process \d+ on host node7 since "):
            with job_lock(root, say=lines.append):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_two_sweeps_in_one_sweep_dir_keep_their_own_outcomes(tmp_path, monkeypatch):
    from normlab import sweep

    sweep_dir = tmp_path / "sweep"
    for sweep_id, status in (("a", "done"), ("b", "failed")):
        monkeypatch.setenv(sweep.SWEEP_ID, sweep_id)
        for num in range(2):
            sweep.write_outcome(sweep_dir / str(num), f"job{num}", status)
    assert [o["status"] for o in sweep.outcomes(sweep_dir, "a")] == ["done", "done"]
    assert [o["status"] for o in sweep.outcomes(sweep_dir, "b")] == ["failed", "failed"]
    assert sorted(p.name for p in (sweep_dir / "0").iterdir()) == ["outcome.a.json", "outcome.b.json"]
