"""The fused CPU kernels of cpu_kernels.c: compiled once per machine, called through ctypes.

torch has no fused kernel for AdaNorm, RMSNorm, DyT or a mean-detached LayerNorm, and composing
its kernels leaves those 1.4-2.7x slower than nn.LayerNorm on CPU. One C pass per direction brings
them level. The library is built with the system C compiler on first use (well under a second)
into NORMLAB_KERNEL_DIR (default ~/.cache/normlab/kernels), keyed by the source's hash; without a
compiler, or with NORMLAB_FUSED_KERNELS=0, the torch-only path in functional.py runs instead.
GPU tensors, float64 and empty inputs always take the torch path.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("cpu_kernels.c")
FLAGS = ["-O3", "-fno-trapping-math", "-fno-math-errno", "-fopenmp", "-fPIC", "-shared"]
MODES = {"full": 0, "detach_mean": 1, "detach_std": 2, "detach_both": 3}

_f, _i64, _int, _p = ctypes.c_float, ctypes.c_int64, ctypes.c_int, ctypes.c_void_p
_SIGNATURES = {
    "normlab_norm_fwd": [_p, _p, _p, _p, _p, _i64, _i64, _f, _int, _int, _f, _f, _int],
    "normlab_norm_bwd": [_p, _p, _p, _p, _p, _p, _i64, _i64, _int, _f, _f, _int],
    "normlab_rms_fwd": [_p, _p, _p, _p, _i64, _i64, _f, _int],
    "normlab_rms_bwd": [_p, _p, _p, _p, _p, _p, _p, _i64, _i64, _int],
    "normlab_dyt_fwd": [_p, _f, _p, _p, _p, _i64, _i64, _int],
    "normlab_dyt_bwd": [_p, _p, _f, _p, _p, _p, _p, _p, _p, _p, _i64, _i64, _int],
}


def _library_path() -> Path:
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode()).hexdigest()[:16]
    root = Path(os.environ.get("NORMLAB_KERNEL_DIR") or Path.home() / ".cache" / "normlab" / "kernels")
    return root / f"cpu_kernels-{key}.so"


def build() -> Path:
    """Compile the library if this machine has no copy yet; returns its path."""
    target = _library_path()
    if target.exists():
        return target
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("no C compiler (cc or gcc) on PATH")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".so.tmp")
    os.close(fd)
    try:
        subprocess.run([compiler, *FLAGS, "-o", tmp, str(SOURCE), "-lm"], check=True, capture_output=True, text=True)
        os.replace(tmp, target)  # atomic: concurrent builders never load half a file
    except subprocess.CalledProcessError as err:
        raise RuntimeError(f"{compiler} failed: {err.stderr.strip()[-500:]}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


@lru_cache(maxsize=None)
def library():
    """The loaded kernels, or None (with one warning) when they cannot be built."""
    if os.environ.get("NORMLAB_FUSED_KERNELS", "1") == "0":
        return None
    try:
        lib = ctypes.CDLL(str(build()))
    except (OSError, RuntimeError) as err:
        warnings.warn(f"normlab: fused CPU norm kernels unavailable ({err}); using the slower torch path",
                      stacklevel=2)
        return None
    for name, argtypes in _SIGNATURES.items():
        getattr(lib, name).argtypes = argtypes
        getattr(lib, name).restype = None
    return lib


def usable(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and x.dtype == torch.float32 and x.numel() > 0 and library() is not None


def _ptr(t: torch.Tensor | None):
    return None if t is None else t.data_ptr()


def _rows(x: torch.Tensor) -> tuple[int, int]:
    n = x.shape[-1]
    return x.numel() // n, n


def norm_forward(x, eps, unbiased, eps_on_std, scale, k):
    """z, per-row (mean, 1/d, alpha) for (x - mean)/d [AdaNorm: scale*(1 - k*y)*y]; x contiguous float32."""
    rows, n = _rows(x)
    z = torch.empty_like(x)
    stats = x.new_empty(3, rows)
    library().normlab_norm_fwd(_ptr(x), _ptr(z), _ptr(stats[0]), _ptr(stats[1]), _ptr(stats[2]), rows, n,
                               eps, int(unbiased), int(eps_on_std), scale, k, torch.get_num_threads())
    return z, stats


def norm_backward(g, x, stats, mode, scale, k):
    rows, n = _rows(x)
    dx = torch.empty_like(x)
    library().normlab_norm_bwd(_ptr(g), _ptr(x), _ptr(stats[0]), _ptr(stats[1]), _ptr(stats[2]), _ptr(dx),
                               rows, n, MODES[mode], scale, k, torch.get_num_threads())
    return dx


def rms_forward(x, weight, eps):
    rows, n = _rows(x)
    z = torch.empty_like(x)
    rinv = x.new_empty(rows)
    library().normlab_rms_fwd(_ptr(x), _ptr(weight), _ptr(z), _ptr(rinv), rows, n, eps, torch.get_num_threads())
    return z, rinv


def rms_backward(g, x, weight, rinv, want_weight_grad):
    rows, n = _rows(x)
    threads = torch.get_num_threads()
    dx = torch.empty_like(x)
    dw = x.new_empty(n) if want_weight_grad else None
    parts = x.new_empty(threads, n) if want_weight_grad else None
    library().normlab_rms_bwd(_ptr(g), _ptr(x), _ptr(weight), _ptr(rinv), _ptr(dx), _ptr(dw), _ptr(parts),
                              rows, n, threads)
    return dx, dw


def dyt_forward(x, alpha, weight, bias):
    rows, n = _rows(x)
    z = torch.empty_like(x)
    library().normlab_dyt_fwd(_ptr(x), float(alpha), _ptr(weight), _ptr(bias), _ptr(z), rows, n,
                              torch.get_num_threads())
    return z


def tanh(x):
    """The kernels' tanh (for the tests): dyt with alpha 1, gain 1 and bias 0 over rows of one."""
    return dyt_forward(x.reshape(-1, 1).contiguous(), 1.0, x.new_ones(1), x.new_zeros(1)).view(x.shape)


def dyt_backward(g, x, alpha, weight):
    rows, n = _rows(x)
    threads = torch.get_num_threads()
    dx, dw, db, dalpha = torch.empty_like(x), x.new_empty(n), x.new_empty(n), x.new_empty(1)
    parts = x.new_empty(threads, 2, n)
    alpha_parts = torch.empty(threads, dtype=torch.float64)
    library().normlab_dyt_bwd(_ptr(g), _ptr(x), float(alpha), _ptr(weight), _ptr(dx), _ptr(dw),
                              _ptr(db), _ptr(dalpha), _ptr(parts), _ptr(alpha_parts), rows, n, threads)
    return dx, dalpha, dw, db
