"""One process per job folder: an flock()ed lock file that says who holds it.

The lock file (`<job>/job.lock`) holds {"pid", "host", "started"} of the process running the job.
A second process on the same job gets JobBusyError ("running in process N on host H since T"); it
never trains the job too. A lock left by a process that died is taken over, with one line saying so:

- flock() locks are released by the kernel when their holder dies, so a lock we can take is free,
  whatever the file says (a SIGKILLed job, a node that died, a requeued SLURM job now on another node);
- on this host, a recorded pid that is no longer alive is stale even if the flock is still held, by a
  child that inherited the descriptor (a data-loader worker outliving its parent): the file is then
  replaced by a new one, and the orphan keeps a lock on a file nobody uses.

Caveat for shared filesystems: on NFS, Linux emulates flock() with NFS byte-range locks (NLM or
NFSv4), so it works across nodes, but a dead client's locks are freed only when the server notices
(its lease or grace period, often 90 s), and a mount with `local_lock=flock` or `nolock` makes the
lock visible on one node only. A job that is started on another node within that window is told
the job is running elsewhere; run it again a little later.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

LOCK = "job.lock"


class JobBusyError(RuntimeError):
    """The job is running in another live process; the message is one line naming it."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent hasn't reaped yet is dead too
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _read(fd: int) -> dict:
    try:
        raw = os.pread(fd, 4096, 0)
        info = json.loads(raw.decode()) if raw.strip() else {}
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def describe(info: dict) -> str:
    started = info.get("started")
    when = time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) else ""
    return f"process {info.get('pid', '?')} on host {info.get('host', '?')}{when}"


@contextmanager
def job_lock(root: Path, say: Callable[[str], None] = print) -> Iterator[dict]:
    """Hold the lock of job folder `root` (which must exist) for the duration of the block."""
    path = Path(root) / LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    for _ in range(5):  # retried only when the file was replaced under us
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
            holder = _read(fd)
            os.close(fd)
            if holder.get("host") == me["host"] and isinstance(holder.get("pid"), int) \
                    and holder["pid"] != me["pid"] and not _pid_alive(holder["pid"]):
                say(f"taking over the lock of {describe(holder)}, which is no longer running ({path})")
                _replace(path, holder)
                continue
            raise JobBusyError(f"running in {describe(holder)} ({path})") from None
        # the flock is ours, but only counts if `path` is still the file we locked
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        stale = _read(fd)
        if stale and (stale.get("pid"), stale.get("host")) != (me["pid"], me["host"]):
            say(f"taking over the lock left by {describe(stale)}, which ended without releasing it")
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        try:
            yield me
        finally:
            try:
                os.ftruncate(fd, 0)  # released cleanly: an empty file is a free lock
            except OSError:
                pass
            os.close(fd)  # closing releases the flock
        return
    raise JobBusyError(f"could not take the lock {path}: it keeps being replaced")


def _replace(path: Path, holder: dict) -> None:
    """Swap in a fresh lock file, unless someone did so already (the holder recorded is still there)."""
    fresh = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fresh.write_text("")
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        os.replace(fresh, path)
        return
    try:
        if _read(fd) == holder:
            os.replace(fresh, path)
    finally:
        os.close(fd)
        fresh.unlink(missing_ok=True)
