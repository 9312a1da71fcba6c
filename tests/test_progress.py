"""Progress on a terminal only: a download's bytes and ETA, preparation steps' sentences, a single job's
updates of its total with its loss and ETA. Run through a pseudo-terminal, and absent without one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# What a script does that shows every kind of progress: a download (file:// URL), a counted preparation
# step, and a job's bar fed with fairseq's records.
SCRIPT = r"""
import sys, time
from pathlib import Path
from normlab.data import sources
from normlab.data.text import moses_tokenize
from normlab.runner.progress import JobProgress

src = Path(sys.argv[1]) / "blob.bin"
src.write_bytes(b"x" * (3 << 20))
sources.fetch(src.as_uri(), Path(sys.argv[1]) / "got" / "blob.bin", log=lambda _: None)
moses_tokenize([f"sentence {i} ." for i in range(3000)], "en")
job = JobProgress("quick_rt/layernorm/seed1", {"max_update": 40, "max_epoch": 2})
for step in range(4, 44, 4):
    job.on_update({"epoch": 1 + (step - 1) // 20, "batch": step % 20, "batches": 20, "loss": 1.0 / step, "num_updates": step})
    time.sleep(0.12)
job.close()
print("finished")
"""


def env_for(tmp_path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NORMLAB_OUTPUT": str(tmp_path / "out"),
           "NORMLAB_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "160", "HF_HUB_OFFLINE": "1"}
    env.pop("NORMLAB_PROGRESS", None)
    return env


def run_on_terminal(cmd: list[str], env: dict, timeout: float = 600) -> tuple[int, str, str]:
    """(exit code, what the terminal (stderr) showed, stdout) of `cmd` with stderr on a pseudo-terminal."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # 40 rows, 160 columns
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO once the child closed its end
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env,
                              timeout=timeout, cwd=REPO)
    finally:
        os.close(slave)
    reader.join(timeout=10)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace"), proc.stdout.decode()


def test_download_preparation_and_job_bars_on_a_terminal_only(tmp_path):
    cmd = [sys.executable, "-c", SCRIPT, str(tmp_path)]
    rc, shown, out = run_on_terminal(cmd, env_for(tmp_path))
    assert rc == 0 and "finished" in out, shown
    assert re.search(r"blob\.bin: 100%.*3\.00M/3\.00M", shown), shown  # bytes (and speed) of the download
    assert re.search(r"tokenizing \(en\): 100%.*3\.00k/3\.00k", shown), shown  # sentences done
    assert re.search(r"quick_rt/layernorm/seed1: 100%.*40/40 \[[\d:]+<[\d:]+.*epoch 2/2, loss 0\.025", shown), shown
    assert re.search(r"quick_rt/layernorm/seed1: +\d+%.*\d+/40 \[[\d:]+<[\d:]+", shown)  # an ETA while it runs

    quiet = subprocess.run(cmd, capture_output=True, env=env_for(tmp_path), cwd=REPO, timeout=600)
    assert quiet.returncode == 0 and quiet.stdout.decode().strip() == "finished"
    assert quiet.stderr.decode() == ""  # nothing at all without a terminal


def test_a_single_job_shows_its_updates_on_a_terminal(tmp_path):
    cmd = [sys.executable, "-m", "normlab.train", "dataset=quick_rt", "debug=smoke", "logger=none",
           "trainer.max_epoch=2", "trainer.log_interval=2", "dataset.synthetic.n_train=96",
           "dataset.synthetic.n_valid=16", "dataset.synthetic.n_test=16"]
    rc, shown, out = run_on_terminal(cmd, env_for(tmp_path))
    assert rc == 0, shown[-2000:] + out[-2000:]
    assert "done quick_rt/layernorm/seed1: accuracy" in out
    # the total is max_epoch x the updates an epoch holds, once fairseq said how many batches that is
    done = re.search(r"quick_rt/layernorm/seed1: 100%.* (\d+)/(\d+) \[[\d:]+<[\d:]+.*epoch 2/2, loss \d", shown)
    assert done and done[1] == done[2], shown[-3000:]
    assert re.search(r"quick_rt/layernorm/seed1: +\d\d%.*upd.*loss \d", shown)  # while it runs
    assert "binarizing train" in shown  # the preparation step, counted
    assert "upd/s" not in out and "binarizing" not in out  # stdout (the log) stays clean
